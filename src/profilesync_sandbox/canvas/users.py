"""Accounts and users: listing (docs/canvas.md §6), lookup (§7), show/profile (§8), avatar options (§10) and update
(docs/canvas.md §11)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from profilesync_sandbox.canvas import avatars, errors
from profilesync_sandbox.canvas.app import Ctx
from profilesync_sandbox.canvas.bookmarks import bookmark_page
from profilesync_sandbox.canvas.pagination import link_header, page_number, per_page_for, unknown_total_links
from profilesync_sandbox.canvas.records import DOMAIN_ROOT_ACCOUNT_ID, Account, UserRecord
from profilesync_sandbox.canvas.userjson import user_json
from profilesync_sandbox.routing import Route
from profilesync_sandbox.wire import Response, json_response

# docs/canvas.md §6: the only include[] values api_index honours, in user_json's own order
LIST_INCLUDES = ("avatar_url", "email", "last_login", "time_zone", "uuid")
ENROLLMENT_TYPES = frozenset({"student", "teacher", "ta", "observer", "designer"})
SORTS = frozenset({"username", "email", "sis_id", "integration_id", "last_login", "id"})


def resolve_account(ctx: Ctx, raw: str) -> Account:
    """``self``/``default`` is the domain root account (docs/canvas.md §1.3); numeric ids must exist; anything else
    404s."""
    account_id = DOMAIN_ROOT_ACCOUNT_ID if raw in ("self", "default") else None
    if account_id is None and raw.isascii() and raw.isdigit():
        account_id = int(raw)
    account = ctx.state.accounts.get(account_id) if account_id is not None else None
    if account is None:
        raise errors.not_found()
    return account


def _search(ctx: Ctx, users: list[UserRecord], term: str) -> list[UserRecord]:
    """docs/canvas.md §6 search_term: a case-insensitive substring on name, plus the fields the caller may read; a
    union."""
    needle = term.lower()
    fields: list[Callable[[UserRecord], str | None]] = [lambda u: u.name]
    if ctx.can("view_user_logins"):
        fields.append(lambda u: u.login_id)
    if ctx.can("read_sis") or ctx.can("manage_sis"):
        fields.extend([lambda u: u.sis_user_id, lambda u: u.integration_id])
    if ctx.can("read_email_addresses"):
        fields.append(lambda u: u.email)
    exact_id = int(term) if term.isascii() and term.isdigit() else None
    return [
        u for u in users if u.id == exact_id or any(needle in (value or "").lower() for value in (f(u) for f in fields))
    ]


def _sorted(users: list[UserRecord], sort: str, descending: bool) -> list[UserRecord]:
    """Other sort keys; nulls last both ways, ties by id (``DESC NULLS LAST, id DESC``)."""
    if sort == "username":
        return list(reversed(users)) if descending else users
    key: Callable[[UserRecord], Any] = {
        "email": lambda u: (u.email or "").casefold() or None,
        "sis_id": lambda u: u.sis_user_id,
        "integration_id": lambda u: u.integration_id,
        "last_login": lambda u: u.last_login,
        "id": lambda u: u.id,
    }[sort]
    present = sorted((u for u in users if key(u) is not None), key=lambda u: (key(u), u.id), reverse=descending)
    missing = sorted((u for u in users if key(u) is None), key=lambda u: u.id, reverse=descending)
    return present + missing


def list_users(ctx: Ctx, args: dict[str, str]) -> Response:
    """GET /api/v1/accounts/:account_id/users (docs/canvas.md §6), with Folio's unknown-total pagination (§3.3)."""
    account = resolve_account(ctx, args["account_id"])
    ctx.scope_account_id = account.id  # a sub-account admin lists (and reads the SIS ids of) its own users
    if not ctx.can("read_roster"):
        raise ctx.unauthorized()
    params = ctx.params
    if "include" in params:
        # include=x (no []) is a String; `String & Array` raises NoMethodError → 500 (docs/canvas.md §1.5)
        raise TypeError("undefined method `&' for String")
    asked = params.getlist("include[]")
    includes = [name for name in LIST_INCLUDES if name in asked]
    sort = params.get("sort") or "username"
    if sort not in SORTS:
        sort = "username"
    if sort == "last_login" and "last_login" not in includes:
        includes.append("last_login")  # sort=last_login forces the key into the output
    users = ctx.state.sorted_users(account.id)
    term = (params.get("search_term") or "").strip()
    if term:
        if len(term) < 3:
            problem = {"field": "search_term", "code": "invalid", "message": "3 or more characters is required"}
            raise errors.ApiError(json_response(400, {"errors": [problem]}))
        users = _search(ctx, users, term)
    enrollment_type = params.get("enrollment_type")
    if enrollment_type:
        if enrollment_type not in ENROLLMENT_TYPES:
            raise errors.bad_request(f"Invalid enrollment type: {enrollment_type}")
        users = [u for u in users if any(e.type == enrollment_type and e.state == "active" for e in u.enrollments)]
    per_page = per_page_for(params)
    endpoint = ctx.base + _path_without_format(ctx)
    if sort == "id":
        return _bookmarked(ctx, users, includes, per_page, endpoint, account.id)  # ordered by id itself
    users = _sorted(users, sort, (params.get("order") or "").lower() == "desc")
    page = page_number(params)
    rows = users[(page - 1) * per_page : page * per_page]
    body = [user_json(ctx, u, includes, account_id=account.id) for u in rows]
    link = link_header(endpoint, ctx.request.query, unknown_total_links(page, per_page, len(rows)), per_page)
    return json_response(200, body, [("Link", link)] if link else [])


def _bookmarked(
    ctx: Ctx, users: list[UserRecord], includes: list[str], per_page: int, endpoint: str, account_id: int
) -> Response:
    """``sort=id``: Canvas's bookmark pagination (see profilesync_sandbox.canvas.bookmarks for the source read)."""
    descending = (ctx.params.get("order") or "").lower() == "desc"
    page = bookmark_page(users, ctx.params.get("page"), per_page, descending=descending)
    body = [user_json(ctx, u, includes, account_id=account_id) for u in page.rows]
    link = link_header(endpoint, ctx.request.query, page.links, per_page)
    return json_response(200, body, [("Link", link)] if link else [])


def _path_without_format(ctx: Ctx) -> str:
    path = ctx.request.raw_path
    return path[: -len(".json")] if path.endswith(".json") else path


def _can_see(ctx: Ctx, target: UserRecord) -> bool:
    """``:api_show_user``: self, or an admin with read_roster or manage_user_logins."""
    me = ctx.me()
    return me.id == target.id or ctx.can("read_roster") or ctx.can("manage_user_logins")


def show_user(ctx: Ctx, args: dict[str, str]) -> Response:
    """GET /api/v1/users/:id (docs/canvas.md §8.1): not permitted → 404; a deleted user → 404 with the full body."""
    target = ctx.find_user(args["id"])
    if not _can_see(ctx, target):
        raise errors.not_found()
    asked = set(ctx.params.getlist("include[]"))
    includes = ["avatar_url"]
    if "avatar_state" in asked:
        includes.append("avatar_state")
    includes += ["last_name", "first_name", "email", "locale", "effective_locale"]
    includes += [name for name in ("uuid", "last_login") if name in asked]
    includes.append("permissions")
    body = user_json(ctx, target, includes)
    return json_response(404 if target.workflow_state == "deleted" else 200, body)


def show_profile(ctx: Ctx, args: dict[str, str]) -> Response:
    """GET /api/v1/users/:user_id/profile (docs/canvas.md §8.2): login_id is filled even for non-admin readers."""
    target = ctx.find_user(args["user_id"])
    me = ctx.me()
    if me.id != target.id and not ctx.is_admin_over(target, "manage_user_logins"):
        raise ctx.unauthorized()
    base = user_json(ctx, target, ["avatar_url"])
    keys = ("id", "name", "short_name", "sortable_name", "sis_user_id", "login_id", "avatar_url", "integration_id")
    body: dict[str, Any] = {k: base[k] for k in keys if k in base}
    body["login_id"] = body.get("login_id") or target.login_id
    body.update({"title": None, "bio": None})
    if me.id == target.id or ctx.can("read_email_addresses"):
        body["primary_email"] = target.email
    body.update({"time_zone": target.time_zone, "locale": None})
    if me.id == target.id:
        body["effective_locale"] = "en"
    body["calendar"] = {"ics": f"{ctx.base}/feeds/calendars/user_{target.uuid}.ics"}
    if me.id == target.id:
        body["lti_user_id"] = target.uuid
    return json_response(200, body)


def list_avatars(ctx: Ctx, args: dict[str, str]) -> Response:
    """GET /api/v1/users/:user_id/avatars (docs/canvas.md §10): not paginated, no Link header; creates the folder."""
    target = ctx.find_user(args["user_id"])
    if ctx.me().id != target.id and not ctx.is_admin_over(target, "manage_user_logins"):
        raise ctx.unauthorized()
    return json_response(200, avatars.options(ctx, target))


_RENAME_KEYS = frozenset({"name", "short_name", "sortable_name"})


def update_user(ctx: Ctx, args: dict[str, str]) -> Response:
    """PUT /api/v1/users/:id (docs/canvas.md §11): the avatar token dance, with its silent 200 no-ops."""
    target = ctx.find_user(args["id"])
    me = ctx.me()
    params = ctx.params
    keys = params.keys_under("user")
    is_self = me.id == target.id
    can_update_avatar = is_self or ctx.is_admin_over(target, "manage_user_logins")
    manages_details = ctx.is_admin_over(target, "manage_user_details")
    if "avatar" in keys and not can_update_avatar:
        raise ctx.unauthorized()
    if keys & _RENAME_KEYS and not ((is_self and ctx.config.users_can_edit_name) or manages_details):
        raise ctx.unauthorized()
    if "email" in keys and not manages_details:
        raise ctx.unauthorized()
    if "avatar" in keys and ctx.config.avatars_service_enabled:
        _update_avatar(ctx, target, admin=can_update_avatar and manages_details and not ctx.masquerading)
    for key in sorted(keys & _RENAME_KEYS):
        value = params.get(f"user[{key}]")
        if value:
            setattr(target, key, value)
            ctx.state.identity_changed()
    if "email" in keys:
        target.email = params.get("user[email]") or target.email
    includes = ["avatar_url"] + (["avatar_state"] if manages_details else []) + ["email", "locale", "time_zone"]
    return json_response(200, user_json(ctx, target, includes))


def _update_avatar(ctx: Ctx, target: UserRecord, *, admin: bool) -> None:
    params = ctx.params
    state_param = params.get("user[avatar][state]")
    if state_param is not None:
        # The state replaces the whole avatar hash (a token or URL sent with it is discarded), and that hash,
        # having no URL, clears the picture before an admin's state is applied (docs/canvas.md §11.1, §18).
        avatars.assign(ctx, target, None, None, admin=admin)
        if admin:
            avatars.set_state(target, state_param)
        return
    token = params.get("user[avatar][token]")
    if token:
        option = avatars.option_for_token(ctx, target, token)
        if option is None:
            return  # stale, foreign or not-yet-thumbnailed token: 200 and nothing changes (docs/canvas.md §11.2 step 1)
        avatars.assign(ctx, target, str(option["type"]), str(option["url"]), admin=admin)
        return
    if "user[avatar][url]" in params:
        avatars.assign(ctx, target, None, params.get("user[avatar][url]"), admin=admin)


ROUTES = [
    Route("GET", "/api/v1/accounts/:account_id/users", list_users),
    Route("GET", "/api/v1/users/:id", show_user),
    Route("PUT", "/api/v1/users/:id", update_user),
    Route("GET", "/api/v1/users/:user_id/profile", show_profile),
    Route("GET", "/api/v1/users/:user_id/avatars", list_avatars),
]
