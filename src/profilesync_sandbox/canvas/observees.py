"""Observee links: list, show, add (by id, token, pairing code or credentials) and remove them."""

from __future__ import annotations

from typing import Any

from profilesync_sandbox.canvas import errors
from profilesync_sandbox.canvas.app import Ctx
from profilesync_sandbox.canvas.observers import active_code, link
from profilesync_sandbox.canvas.pagination import known_total_links, link_header, page_number, per_page_for
from profilesync_sandbox.canvas.records import DOMAIN_ROOT_ACCOUNT_ID, UserRecord
from profilesync_sandbox.canvas.userjson import user_json
from profilesync_sandbox.routing import Route
from profilesync_sandbox.wire import Response, json_response

_OBSERVEE_INCLUDES = ("avatar_url", "uuid")


# -- observees (docs/canvas.md §14.3, §14.4)


def _common_roots(a: UserRecord, b: UserRecord) -> list[int]:
    return sorted(set(a.root_account_ids) & set(b.root_account_ids))


def _link_ids(ctx: Ctx, observer: UserRecord, student: UserRecord) -> list[int]:
    """observation_link_root_account_ids, filtered to where the caller manages observers."""
    ids = sorted(
        {
            lk.root_account_id
            for lk in ctx.state.links
            if lk.observer_id == observer.id and lk.student_id == student.id and lk.workflow_state == "active"
        }
    )
    if ctx.me().id != observer.id:
        ids = [i for i in ids if ctx.can("manage_user_observers")]
    return ids


def _observer_for(ctx: Ctx, raw: str) -> UserRecord:
    """The observer, and the docs/canvas.md §14.3 access rule: self, or an admin over one of its root accounts."""
    observer = ctx.find_user(raw)
    if ctx.me().id == observer.id:
        return observer
    if not observer.root_account_ids:
        raise errors.not_found()
    if not ctx.can("manage_user_observers"):
        raise ctx.unauthorized()
    return observer


def _students_json(ctx: Ctx, observer: UserRecord, students: list[UserRecord]) -> list[dict[str, Any]]:
    asked = ctx.params.getlist("include[]")
    includes = [name for name in _OBSERVEE_INCLUDES if name in asked]
    out = []
    for student in students:
        body = user_json(ctx, student, includes)
        body["observation_link_root_account_ids"] = _link_ids(ctx, observer, student)
        out.append(body)
    return out


def _paged(ctx: Ctx, users: list[UserRecord], observer: UserRecord) -> Response:
    """Counted-total pagination, 10 per page by default, with a ``last`` link (docs/canvas.md §14.3)."""
    per_page = per_page_for(ctx.params)
    page = page_number(ctx.params)
    users = sorted(users, key=lambda u: (u.sortable_name.casefold(), u.id))
    rows = users[(page - 1) * per_page : page * per_page]
    links = known_total_links(page, per_page, len(users))
    path = ctx.request.raw_path.removesuffix(".json")
    link = link_header(ctx.base + path, ctx.request.query, links, per_page)
    return json_response(200, _students_json(ctx, observer, rows), [("Link", link)] if link else [])


def list_observees(ctx: Ctx, args: dict[str, str]) -> Response:
    """GET /api/v1/users/:user_id/observees."""
    observer = _observer_for(ctx, args["user_id"])
    ids = {lk.student_id for lk in ctx.state.links if lk.observer_id == observer.id and lk.workflow_state == "active"}
    return _paged(ctx, [ctx.state.user_records[i] for i in ids if i in ctx.state.user_records], observer)


def list_observers(ctx: Ctx, args: dict[str, str]) -> Response:
    """GET /api/v1/users/:user_id/observers: the mirror list (same shape)."""
    student = _observer_for(ctx, args["user_id"])
    ids = {lk.observer_id for lk in ctx.state.links if lk.student_id == student.id and lk.workflow_state == "active"}
    observers = [ctx.state.user_records[i] for i in ids if i in ctx.state.user_records]
    per_page, page = per_page_for(ctx.params), page_number(ctx.params)
    observers.sort(key=lambda u: (u.sortable_name.casefold(), u.id))
    rows = observers[(page - 1) * per_page : page * per_page]
    body = []
    for observer in rows:
        item = user_json(ctx, observer, [n for n in _OBSERVEE_INCLUDES if n in ctx.params.getlist("include[]")])
        item["observation_link_root_account_ids"] = _link_ids(ctx, observer, student)
        body.append(item)
    links = known_total_links(page, per_page, len(observers))
    link = link_header(ctx.base + ctx.request.raw_path.removesuffix(".json"), ctx.request.query, links, per_page)
    return json_response(200, body, [("Link", link)] if link else [])


def show_observee(ctx: Ctx, args: dict[str, str]) -> Response:
    """GET /api/v1/users/:user_id/observees/:observee_id: 404 unless linked."""
    observer = _observer_for(ctx, args["user_id"])
    student = ctx.find_user(args["observee_id"])
    if not _link_ids(ctx, observer, student):
        raise errors.not_found()
    return json_response(200, _students_json(ctx, observer, [student])[0])


def _root_accounts_forlink(ctx: Ctx, common: list[int]) -> list[int]:
    """``root_account_id``: omitted → the domain root account only; ``all`` → every common one
    (docs/canvas.md §14.4)."""
    raw = ctx.params.get("root_account_id")
    if raw == "all":
        return common
    wanted = DOMAIN_ROOT_ACCOUNT_ID if not raw else int(raw) if raw.isdigit() else -1
    return [wanted] if wanted in common else []


def put_observee(ctx: Ctx, args: dict[str, str]) -> Response:
    """PUT /api/v1/users/:user_id/observees/:observee_id: idempotent; no shared root account → 404."""
    observer = ctx.find_user(args["user_id"])
    student = ctx.find_user(args["observee_id"])
    common = _common_roots(observer, student)
    if not common:
        raise errors.not_found()
    if not ctx.can("manage_user_observers"):
        raise ctx.unauthorized()
    if observer.id == student.id:
        message = "Cannot observe yourself"
        raise errors.validation_error(
            422, {"observer_id": [{"attribute": "observer_id", "type": message, "message": message}]}
        )
    raw = ctx.params.get("root_account_id")
    roots = common if raw == "all" else [int(raw) if raw and raw.isdigit() else DOMAIN_ROOT_ACCOUNT_ID]
    link(ctx, observer=observer, student=student, root_account_ids=roots)
    return json_response(200, _students_json(ctx, observer, [student])[0])


def delete_observee(ctx: Ctx, args: dict[str, str]) -> Response:
    """DELETE /api/v1/users/:user_id/observees/:observee_id: removes the link; 404 when there is none."""
    observer = _observer_for(ctx, args["user_id"])
    student = ctx.find_user(args["observee_id"])
    links = [
        lk
        for lk in ctx.state.links
        if lk.observer_id == observer.id and lk.student_id == student.id and lk.workflow_state == "active"
    ]
    if not links:
        raise errors.not_found()
    body = _students_json(ctx, observer, [student])[0]
    for lk in links:
        lk.workflow_state = "deleted"
    observer.enrollments = [e for e in observer.enrollments if e.associated_user_id != student.id]
    return json_response(200, body)


def post_observee(ctx: Ctx, args: dict[str, str]) -> Response:
    """POST /api/v1/users/:user_id/observees: access_token, then pairing_code, then observee credentials."""
    # the before_action (``#self_or_admin_permission_check``): the parent themself, or an admin over its root account
    observer = _observer_for(ctx, args["user_id"])
    params, state = ctx.params, ctx.state
    if params.get("access_token"):
        # the same name as the auth parameter (docs/canvas.md §14.4 A): a query-string admin token lands here too
        owner_id = state.tokens.get(params.get("access_token") or "")
        if owner_id is None:
            raise errors.bad_request("Unknown observee.", 422)
        student = state.user_records[owner_id]
    elif "pairing_code" in params:
        code = active_code(ctx, params.get("pairing_code") or "")
        if code is None:
            raise errors.bad_request("Invalid pairing code.", 422)
        code.workflow_state = "deleted"  # destroyed before the link is made, and whatever happens next
        student = state.user_records[code.user_id]
    elif "observee[unique_id]" in params:
        found = state.login_owner(params.get("observee[unique_id]") or "", DOMAIN_ROOT_ACCOUNT_ID)
        if found is None or not _common_roots(observer, found):
            raise errors.bad_request("Unknown observee.", 422)
        if found.password is None or found.password != params.get("observee[password]"):
            raise errors.bad_request("Invalid credentials provided.", 401)
        student = found
    else:
        raise KeyError("observee")  # params[:observee][:unique_id] on nil → 500 (docs/canvas.md §14.4 A)
    roots = _root_accounts_forlink(ctx, _common_roots(observer, student))
    if ctx.me().id != observer.id and not roots:
        # an admin's call with no shared root account where it manages observers is refused, after the code was
        # already used up; only the parent's own call gets the silent 200 with [] (docs/canvas.md §14.4 A)
        raise ctx.unauthorized()
    link(ctx, observer=observer, student=student, root_account_ids=roots)
    body = user_json(ctx, student, [])
    body["observation_link_root_account_ids"] = roots
    return json_response(200, body)


ROUTES = [
    Route("GET", "/api/v1/users/:user_id/observees", list_observees),
    Route("POST", "/api/v1/users/:user_id/observees", post_observee),
    Route("GET", "/api/v1/users/:user_id/observees/:observee_id", show_observee),
    Route("PUT", "/api/v1/users/:user_id/observees/:observee_id", put_observee),
    Route("DELETE", "/api/v1/users/:user_id/observees/:observee_id", delete_observee),
    Route("GET", "/api/v1/users/:user_id/observers", list_observers),
]
