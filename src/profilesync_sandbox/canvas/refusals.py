"""Who Canvas refuses, and how: acting as one user, and "Limited access for students" on a student's own upload.

Citations (canvas-lms, read for docs/canvas-behaviours.md):

- ``User#can_masquerade?`` (app/models/user.rb): acting as oneself always works; otherwise the caller needs
  ``become_user`` on the domain root account, the target a login there (``SisPseudonym.for``), and no account
  role with rights the caller lacks (``has_subset_of_account_permissions?``). A merged user is deleted and its
  logins moved to the user it was merged into, so it has no login left.
- ``AuthenticationMethods#load_user`` (lib/authentication_methods.rb): a refusal is 401
  ``{"errors": "Invalid as_user_id"}``, plus ``merged_into_user_id`` when the target is a merged user the caller
  may read.
- ``ApplicationController#check_limited_access_for_students`` (a before_action of ``UsersController#create_file``)
  with ``User#student_in_limited_access_account?``: a user with an active student enrollment in an account where
  the setting is on gets ``render_unauthorized_action``. The sandbox has one account, so the setting is global.

The pokes here are for tests and fixtures (sandbox state.py is already at its size limit).
"""

from __future__ import annotations

from collections.abc import Iterable

from profilesync_sandbox.canvas.data import SandboxData
from profilesync_sandbox.canvas.records import ALL_PERMISSIONS, DOMAIN_ROOT_ACCOUNT_ID, UserRecord


def can_masquerade(real: UserRecord, target: UserRecord) -> bool:
    """``User#can_masquerade?`` for the sandbox's single-account world."""
    if target.id == real.id:
        return True
    return (
        "become_user" in real.admin_permissions
        # user.rb#can_masquerade? asks become_user of the domain root account: a sub-account role never has it
        and real.admin_account_id == DOMAIN_ROOT_ACCOUNT_ID
        and target.login_account_id == DOMAIN_ROOT_ACCOUNT_ID
        and target.login_id is not None
        and not target.login_deleted
        and target.admin_permissions <= real.admin_permissions
    )


def merged_into_for(real: UserRecord, target: UserRecord) -> int | None:
    """The ``merged_into_user_id`` load_user adds: only for a deleted, merged user the caller may read."""
    if target.workflow_state != "deleted" or target.merged_into_user_id is None:
        return None
    return target.merged_into_user_id if "manage_user_logins" in real.admin_permissions else None


def limited_access(state: SandboxData, user: UserRecord) -> bool:
    """``User#student_in_limited_access_account?`` with the setting on: an active student enrollment."""
    if not state.config.limited_access_for_students:
        return False
    return any(e.type == "student" and e.state == "active" for e in user.enrollments)


# -- test and fixture pokes


def merge_user(state: SandboxData, user_id: int, into_user_id: int) -> None:
    """Merge ``user_id`` into another user as Canvas does: deleted, logins gone, ``merged_into_user_id`` set."""
    with state.lock:
        user = state.user_records[user_id]
        if into_user_id not in state.user_records:
            raise ValueError(f"no user {into_user_id} to merge into")
        user.workflow_state = "deleted"
        user.login_deleted = True
        user.merged_into_user_id = into_user_id
        state.identity_changed()


def move_login(state: SandboxData, user_id: int, account_id: int | None) -> None:
    """Give the user's one login to another root account (a trusted/consortium user), or take it away (None)."""
    with state.lock:
        user = state.user_records[user_id]
        user.login_account_id = account_id
        if account_id is not None and account_id not in user.root_account_ids:
            user.root_account_ids.append(account_id)
        state.identity_changed()


def grant_admin(state: SandboxData, user_id: int, permissions: Iterable[str] = ALL_PERMISSIONS) -> None:
    """Make a listed user an account admin with these rights (a staff member who may outrank the token)."""
    wanted = frozenset(permissions)
    unknown = wanted - ALL_PERMISSIONS
    if unknown:
        raise ValueError(f"unknown permissions: {', '.join(sorted(unknown))}")
    with state.lock:
        state.user_records[user_id].admin_permissions = wanted
