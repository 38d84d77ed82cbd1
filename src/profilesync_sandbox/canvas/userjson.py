"""``user_json`` and ``avatar_url``: which keys a caller sees (docs/canvas.md §5, §15) and the avatar URL (§9)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from profilesync_sandbox.canvas.records import DOMAIN_ROOT_ACCOUNT_ID, UserRecord

if TYPE_CHECKING:
    from profilesync_sandbox.canvas.app import Ctx

FALLBACK_PATH = "/images/messages/avatar-50.png"
NO_PIC_PATH = "/images/dotted_pic.png"
APPROVED_STATES = frozenset({"approved", "locked", "re_reported"})  # avatar_approved?
_ADMINISH = frozenset({"manage_students", "read_sis", "view_user_logins"})


@lru_cache(maxsize=65536)  # listings render the same created_at values page after page
def timestamp(value: datetime | None, offset_minutes: int) -> str | None:
    """ISO-8601 in the caller's zone, with an offset rather than Z (docs/canvas.md §1.4)."""
    if value is None:
        return None
    return value.astimezone(timezone(timedelta(minutes=offset_minutes))).isoformat(timespec="seconds")


def fallback_url(ctx: Ctx) -> str:
    """``User.avatar_fallback_url``: on the request host, or on the CDN host when one is configured
    (docs/canvas.md §9)."""
    cdn = ctx.config.cdn_host
    origin = (cdn if "://" in cdn else f"https://{cdn}") if cdn else ctx.base
    return origin.rstrip("/") + FALLBACK_PATH


def gravatar_url(user: UserRecord, fallback: str) -> str:
    digest = hashlib.md5((user.email or "").strip().lower().encode()).hexdigest()  # gravatar keys on md5
    return f"https://secure.gravatar.com/avatar/{digest}?s=50&d={quote(fallback, safe='')}"


def avatar_url(ctx: Ctx, user: UserRecord) -> str:
    """``AvatarHelper.avatar_url_for_user`` + ``User#avatar_url`` (docs/canvas.md §9)."""
    default = fallback_url(ctx)
    if not ctx.config.avatars_service_enabled:
        return default
    setting = ctx.config.avatars_setting
    if setting == "disabled":
        return default
    result: str | None = None
    if setting in ("enabled", "sis_only") or (setting == "enabled_pending" and user.avatar_state in APPROVED_STATES):
        result = user.avatar_image_url
    if not result and user.avatar_image_source == "no_pic":
        result = default
    if not result and setting == "enabled" and user.avatar_image_source == "gravatar":
        result = gravatar_url(user, default)
    result = result or default
    if not result.startswith(("http://", "https://")):
        result = ctx.base + result
    return result


def avatars_service_for(ctx: Ctx, user: UserRecord) -> bool:
    """``user.account.service_enabled?(:avatars)`` (``Api::V1::User#user_json``).

    ``User#account`` is ``pseudonym.account rescue Account.default`` (app/models/user.rb): the root account of
    the user's first active login by position, or the default account for a user with no login at all.
    """
    home = user.home_account_id
    if home is None:
        has_login = user.login_account_id is not None and not user.login_deleted
        home = user.login_account_id if has_login else DOMAIN_ROOT_ACCOUNT_ID
    account = ctx.state.accounts.get(home) if home is not None else None
    if account is not None and account.avatars_service is not None:
        return account.avatars_service
    return ctx.config.avatars_service_enabled


def _login_in(user: UserRecord, account_id: int) -> bool:
    """Does ``SisPseudonym.for(user, account)`` find a login there?"""
    return user.login_account_id == account_id and not user.login_deleted and user.login_id is not None


def _root_id(ctx: Ctx, account_id: int) -> int:
    """The root account of an account: logins live there (``SisPseudonym.for`` looks in the root account)."""
    account = ctx.state.accounts.get(account_id)
    while account is not None and account.parent_id is not None:
        account = ctx.state.accounts.get(account.parent_id)
    return account.id if account is not None else account_id


def user_json(
    ctx: Ctx, user: UserRecord, includes: Iterable[str] = (), *, account_id: int = DOMAIN_ROOT_ACCOUNT_ID
) -> dict[str, Any]:
    """The keys in Canvas's order; ``includes`` are honoured in the order given, each under its docs/canvas.md §5
    condition."""
    offset = ctx.config.utc_offset_minutes
    out: dict[str, Any] = {
        "id": user.id,
        "name": user.name,
        "created_at": timestamp(user.created_at, offset),
        "sortable_name": user.sortable_name,
        "short_name": user.short_name,
    }
    perms = ctx.perms
    adminish = bool(perms & _ADMINISH) or bool(perms)  # an account membership counts too
    has_login = _login_in(user, _root_id(ctx, account_id))
    if adminish and perms & {"read_sis", "manage_sis"}:
        # the keys are there, null when the login has no SIS id (docs/canvas.md §5: absent vs null matters)
        out["sis_user_id"] = user.sis_user_id if has_login else None
        out["integration_id"] = user.integration_id if has_login else None
    if adminish and "manage_sis" in perms:
        out["sis_import_id"] = user.sis_import_id if has_login else None
    if adminish and "view_user_logins" in perms and has_login:
        out["login_id"] = user.login_id
    is_self = ctx.user is not None and ctx.user.id == user.id
    for include in includes:
        _add_include(ctx, user, include, out, is_self)
    return out


def _add_include(ctx: Ctx, user: UserRecord, include: str, out: dict[str, Any], is_self: bool) -> None:
    service = avatars_service_for(ctx, user)
    last_part, comma, first_part = user.sortable_name.partition(", ")
    if include == "avatar_url" and service:
        out["avatar_url"] = avatar_url(ctx, user)
    elif include == "avatar_state" and service and ctx.is_admin_over(user, "manage_user_details"):
        out["avatar_state"] = user.avatar_state
    elif include == "first_name":
        out["first_name"] = first_part if comma else user.name
    elif include == "last_name":
        out["last_name"] = last_part if comma else ""
    elif include == "email" and (is_self or ctx.can("read_email_addresses")):
        out["email"] = user.email
    elif include in ("locale", "effective_locale"):
        if include == "locale" or is_self:
            out[include] = None if include == "locale" else "en"
    elif include == "time_zone":
        out["time_zone"] = user.time_zone
    elif include == "last_login":
        out["last_login"] = timestamp(user.last_login, ctx.config.utc_offset_minutes)
    elif include == "uuid":
        out["uuid"] = user.uuid
    elif include == "permissions":
        out["permissions"] = {
            "can_update_name": (is_self and ctx.config.users_can_edit_name) or ctx.can("manage_user_details"),
            "can_update_avatar": service and user.avatar_state != "locked",
            "limit_parent_app_web_access": False,
        }
