"""Accounts: the account JSON, the rights endpoint, and sub-accounts with admins of their own.

Emulated from instructure/canvas-lms:

- ``lib/api.rb#api_find_all``: ``self`` is the domain root account (``users.resolve_account``).
- ``lib/api/v1/account.rb#account_json``: ``id``, ``name``, ``parent_account_id``, ``root_account_id`` (null on
  a root account), ``workflow_state``, ``uuid``, plus the quota and time-zone fields.
- ``app/controllers/accounts_controller.rb#show`` / ``#permissions``: both need ``:read`` on the account (an
  admin role on it or above it), else the ordinary unauthorized answer; ``#permissions`` answers
  ``rights_status``: one boolean per asked name, false for names it does not know.
- ``app/models/user.rb#can_masquerade?``: ``become_user`` counts only on the domain root account, so a
  sub-account admin never acts as users (``app.CanvasApp._masquerade``), and its role grants nothing on
  the root account (``app.Ctx.perms``): its uploads and avatar writes are refused.
"""

from __future__ import annotations

from collections.abc import Iterable

from profilesync_sandbox.canvas.app import Ctx
from profilesync_sandbox.canvas.data import SandboxData
from profilesync_sandbox.canvas.records import ALL_PERMISSIONS, DOMAIN_ROOT_ACCOUNT_ID, Account
from profilesync_sandbox.canvas.state import SandboxState
from profilesync_sandbox.canvas.users import resolve_account
from profilesync_sandbox.routing import Route
from profilesync_sandbox.wire import Response, json_response

#: rights a role can hold only on a root account (``become_user`` is root-only in ``Permissions``)
ROOT_ONLY = frozenset({"become_user"})


def root_of(state: SandboxData, account: Account) -> Account:
    while account.parent_id is not None:
        account = state.accounts[account.parent_id]
    return account


def show_account(ctx: Ctx, args: dict[str, str]) -> Response:
    """GET /api/v1/accounts/:account_id."""
    account = resolve_account(ctx, args["account_id"])
    ctx.scope_account_id = account.id
    if not ctx.perms:
        raise ctx.unauthorized()
    root = root_of(ctx.state, account)
    return json_response(
        200,
        {
            "id": account.id,
            "name": account.name,
            "workflow_state": "active",
            "parent_account_id": account.parent_id,
            "root_account_id": None if root.id == account.id else root.id,
            "uuid": account.uuid,
            "default_storage_quota_mb": 500,
            "default_user_storage_quota_mb": ctx.config.default_quota // (1024 * 1024),
            "default_group_storage_quota_mb": 50,
            "default_time_zone": "America/Denver",
        },
    )


def account_permissions(ctx: Ctx, args: dict[str, str]) -> Response:
    """GET /api/v1/accounts/:account_id/permissions?permissions[]=become_user: unknown names are false."""
    account = resolve_account(ctx, args["account_id"])
    ctx.scope_account_id = account.id
    if not ctx.perms:
        raise ctx.unauthorized()  # authorized_action(@account, @current_user, :read)
    asked = ctx.params.getlist("permissions[]")
    sub = account.parent_id is not None
    return json_response(200, {name: ctx.can(name) and not (sub and name in ROOT_ONLY) for name in asked})


def add_sub_account(state: SandboxData, name: str = "Sandbox Sub-account", parent_id: int | None = None) -> int:
    """A new sub-account (of the domain root account by default); its id."""
    with state.lock:
        new_id = max(state.accounts) + 1
        parent = parent_id if parent_id is not None else DOMAIN_ROOT_ACCOUNT_ID
        state.accounts[new_id] = Account(new_id, name, state.new_uuid(), parent_id=parent)
        return new_id


def move_users(state: SandboxData, user_ids: Iterable[int], account_id: int) -> None:
    """Associate users with a sub-account (they stay in the root account, as in Canvas)."""
    with state.lock:
        for user_id in user_ids:
            state.user_records[user_id].sub_account_ids.append(account_id)
        state.identity_changed()


def add_sub_account_admin(state: SandboxState, account_id: int, permissions: Iterable[str] = ALL_PERMISSIONS) -> str:
    """An unlisted admin whose role lives on a sub-account; its token."""
    return state.add_admin(permissions, name="Sub-account Admin", account_id=account_id)


ROUTES = [
    Route("GET", "/api/v1/accounts/:account_id", show_account),
    Route("GET", "/api/v1/accounts/:account_id/permissions", account_permissions),
]
