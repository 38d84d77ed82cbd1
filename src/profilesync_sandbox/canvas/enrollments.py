"""The user enrollments listing a client reads to know, without a write, whether a pairing code would be refused."""

from __future__ import annotations

from profilesync_sandbox.canvas.app import Ctx
from profilesync_sandbox.canvas.pagination import known_total_links, link_header, page_number, per_page_for
from profilesync_sandbox.canvas.userjson import timestamp
from profilesync_sandbox.routing import Route
from profilesync_sandbox.wire import Response, json_response

# -- a user's enrollments (``GET /api/v1/users/:user_id/enrollments``, Canvas's enrollments API) [I]
# Emulated from Canvas's API docs, reduced to what the observers job reads.

_ENROLLMENT_TYPES = {
    "student": "StudentEnrollment",
    "teacher": "TeacherEnrollment",
    "ta": "TaEnrollment",
    "observer": "ObserverEnrollment",
    "designer": "DesignerEnrollment",
}
_DEFAULT_STATES = ("active", "invited")  # "If omitted, active and invited enrollments are returned"
_SYNTHETIC_STATES = {
    "current_and_invited": ("active", "invited"),
    "current_and_future": ("active", "invited", "creation_pending"),
    "current_and_concluded": ("active", "completed"),
}


def list_user_enrollments(ctx: Ctx, args: dict[str, str]) -> Response:
    """GET /api/v1/users/:user_id/enrollments: ``type[]`` and ``state[]`` filters, counted-total pages."""
    user = ctx.find_user(args["user_id"])
    if ctx.me().id != user.id and not ctx.can("read_roster"):
        raise ctx.unauthorized()
    types = set(ctx.params.getlist("type[]"))
    states: set[str] = set()
    for raw in ctx.params.getlist("state[]") or _DEFAULT_STATES:
        states.update(_SYNTHETIC_STATES.get(raw, (raw,)))
    found = [
        (index, e)
        for index, e in enumerate(user.enrollments)
        if e.state in states and (not types or _ENROLLMENT_TYPES.get(e.type, e.type) in types)
    ]
    per_page, page = per_page_for(ctx.params), page_number(ctx.params)
    rows = found[(page - 1) * per_page : page * per_page]
    offset = ctx.config.utc_offset_minutes
    body = [
        {
            "id": user.id * 100 + index,  # stable and unique: enrollments have no ids of their own here
            "user_id": user.id,
            "course_id": 100 + e.root_account_id,
            "root_account_id": e.root_account_id,
            "type": _ENROLLMENT_TYPES.get(e.type, e.type),
            "role": _ENROLLMENT_TYPES.get(e.type, e.type),
            "enrollment_state": e.state,
            "associated_user_id": e.associated_user_id,
            "created_at": timestamp(user.created_at, offset),
        }
        for index, e in rows
    ]
    links = known_total_links(page, per_page, len(found))
    link = link_header(ctx.base + ctx.request.raw_path.removesuffix(".json"), ctx.request.query, links, per_page)
    return json_response(200, body, [("Link", link)] if link else [])


ROUTES = [
    Route("GET", "/api/v1/users/:user_id/enrollments", list_user_enrollments),
]
