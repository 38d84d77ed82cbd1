"""Parents: create-user (§14.1, §14.5), pairing codes (§14.2), observee links (§14.3, §14.4), and the user
enrollments listing a client reads to know, without a write, whether a pairing code would be refused."""

from __future__ import annotations

import re
import string
from datetime import timedelta
from typing import Any

from profilesync_sandbox.canvas import errors
from profilesync_sandbox.canvas.app import Ctx
from profilesync_sandbox.canvas.pagination import known_total_links, link_header, page_number, per_page_for
from profilesync_sandbox.canvas.records import (
    DOMAIN_ROOT_ACCOUNT_ID,
    EmailSent,
    Enrollment,
    ObservationLink,
    PairingCode,
    UserRecord,
)
from profilesync_sandbox.canvas.userjson import timestamp, user_json
from profilesync_sandbox.canvas.users import resolve_account
from profilesync_sandbox.routing import Route
from profilesync_sandbox.wire import Response, json_response

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CODE_ALPHABET = string.ascii_letters + string.digits
_OBSERVEE_INCLUDES = ("avatar_url", "uuid")


# -- create user (§14.1)


def _create_errors(**extra: Any) -> dict[str, Any]:
    """The nested error body of users#create, every section present."""
    body: dict[str, Any] = {"user": {}, "pseudonym": {}, "observee": {}, "pairing_code": {}, "recaptcha": None}
    body.update(extra)
    return body


def create_user(ctx: Ctx, args: dict[str, str]) -> Response:
    """POST /api/v1/accounts/:account_id/users: 200 (not 201); ``taken`` nested under errors.pseudonym."""
    account = resolve_account(ctx, args["account_id"])  # @context is forced to the root account
    if not ctx.can("manage_user_logins"):
        raise errors.ApiError(json_response(403, {}))  # require_self_registration: a bare {} (§2)
    params, state = ctx.params, ctx.state
    unique_id = (params.get("pseudonym[unique_id]") or "").strip()
    if not unique_id:
        unique = [{"attribute": "unique_id", "type": "too_short", "message": "is too short (minimum is 1 character)"}]
        raise errors.validation_error(400, _create_errors(pseudonym={"unique_id": unique}))
    code = None
    if params.get("user[initial_enrollment_type]") == "observer" and params.get("pairing_code[code]"):
        code = _active_code(ctx, params.get("pairing_code[code]") or "")
        if code is None:
            invalid = [{"attribute": "code", "type": "invalid", "message": "invalid"}]
            raise errors.validation_error(400, _create_errors(pairing_code={"code": invalid}))
    manage_sis = ctx.can("manage_sis")
    sis_user_id = params.get("pseudonym[sis_user_id]") if manage_sis else None  # silently dropped otherwise
    existing = state.login_owner(unique_id, account.id)
    reuse = existing is not None and existing.workflow_state in ("creation_pending", "pending_approval")
    if existing is not None and not reuse:
        taken = [
            {
                "attribute": "unique_id",
                "type": "taken",
                "message": "ID already in use for this account and authentication provider",
            }
        ]
        user_errors = {"pseudonyms": [{"attribute": "pseudonyms", "type": "invalid", "message": "invalid"}]}
        raise errors.validation_error(400, _create_errors(user=user_errors, pseudonym={"unique_id": taken}))
    if sis_user_id and state.find_user(f"sis_user_id:{sis_user_id}", None) is not None:
        message = f'SIS ID "{sis_user_id}" is already in use'
        sis_taken = [{"attribute": "sis_user_id", "type": "taken", "message": message}]
        raise errors.validation_error(400, _create_errors(pseudonym={"sis_user_id": sis_taken}))
    user = existing if reuse and existing is not None else _new_user(ctx, account.id, unique_id)
    _fill_user(ctx, user, unique_id, sis_user_id if manage_sis else user.sis_user_id)
    _notify(ctx, user)
    if code is not None:
        code.workflow_state = "deleted"
        _link(ctx, observer=user, student=state.user_records[code.user_id], root_account_ids=[account.id])
    state.identity_changed()
    includes = ["locale", "uuid"]
    body = user_json(ctx, user, includes, account_id=account.id)
    if params.flag("communication_channel[confirmation_url]") and ctx.can("manage_students"):
        body["confirmation_url"] = f"{ctx.base}/register/{user.uuid}"
    if "user[terms_of_use]" in params:
        body["terms_of_use"] = params.flag("user[terms_of_use]")
    return json_response(200, body)


def _new_user(ctx: Ctx, account_id: int, unique_id: str) -> UserRecord:
    state = ctx.state
    user = UserRecord(
        id=max(state.user_records) + 1,
        name="",
        sortable_name="",
        short_name="",
        uuid=state.new_uuid(),
        created_at=state.clock.now(),
        root_account_ids=[account_id],
        login_account_id=account_id,
        login_id=unique_id,
        workflow_state="pre_registered",
    )
    state.user_records[user.id] = user
    return user


def _fill_user(ctx: Ctx, user: UserRecord, unique_id: str, sis_user_id: str | None) -> None:
    params = ctx.params
    name = params.get("user[name]") or user.name or unique_id
    user.name = name
    first, _, last = name.rpartition(" ")
    user.sortable_name = params.get("user[sortable_name]") or (f"{last}, {first}" if first else name)
    user.short_name = params.get("user[short_name]") or name
    user.login_id = unique_id
    user.sis_user_id = sis_user_id
    if ctx.can("manage_sis") and params.get("pseudonym[integration_id]"):
        user.integration_id = params.get("pseudonym[integration_id]")
    if params.get("user[time_zone]"):
        user.time_zone = params.get("user[time_zone]") or user.time_zone
    address = params.get("communication_channel[address]")
    if address is None and _EMAIL.match(unique_id):
        address = unique_id  # the address defaults to the login when it is an email
    if address and _EMAIL.match(address):
        user.email = address
    if params.get("pseudonym[password]"):
        user.password = params.get("pseudonym[password]")
    registered = params.flag("user[skip_registration]") or bool(params.get("pseudonym[password]"))
    user.workflow_state = "registered" if registered else "pre_registered"


def _notify(ctx: Ctx, user: UserRecord) -> None:
    """``CreationNotifyPolicy``: which email Canvas would send; skip_confirmation means none at all."""
    params = ctx.params
    if user.email is None:
        return
    if params.flag("communication_channel[skip_confirmation]") and ctx.can("manage_students"):
        return  # dispatch only runs `if @cc && !skip_confirmation`
    if params.flag("pseudonym[force_self_registration]") or not ctx.can("manage_user_logins"):
        kind = "confirm_registration"
    elif params.flag("pseudonym[send_confirmation]"):
        kind = "registration_done" if user.workflow_state == "registered" else "account_registration"
    else:
        return
    ctx.state.emails.append(EmailSent(user.id, user.email, kind))


# -- pairing codes (§14.2)


def _active_code(ctx: Ctx, raw: str) -> PairingCode | None:
    code = ctx.state.codes.get(raw)
    if code is None or code.workflow_state != "active" or code.expires_at <= ctx.state.clock.now():
        return None
    return code


def create_pairing_code(ctx: Ctx, args: dict[str, str]) -> Response:
    """POST /api/v1/users/:user_id/observer_pairing_codes: 401/403 first if the student has no enrollment."""
    student = ctx.find_user(args["user_id"])
    if not student.has_student_enrollment():
        raise ctx.unauthorized()  # whoever calls (§14.2)
    if ctx.me().id != student.id and not ctx.can("generate_observer_pairing_code"):
        raise ctx.unauthorized()
    state = ctx.state
    while True:
        text = "".join(state.rng.choice(_CODE_ALPHABET) for _ in range(6))
        if _active_code(ctx, text) is None:
            break
    code = PairingCode(text, student.id, state.clock.now() + timedelta(days=7))
    state.codes[text] = code
    expires = code.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return json_response(200, {"user_id": student.id, "code": text, "expires_at": expires, "workflow_state": "active"})


# -- observees (§14.3, §14.4)


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


def _link(ctx: Ctx, *, observer: UserRecord, student: UserRecord, root_account_ids: list[int]) -> None:
    """``UserObservationLink.create_or_restore`` plus the observer enrollments it adds after commit."""
    for root in root_account_ids:
        found = next(
            (
                lk
                for lk in ctx.state.links
                if lk.observer_id == observer.id and lk.student_id == student.id and lk.root_account_id == root
            ),
            None,
        )
        if found is None:
            ctx.state.links.append(ObservationLink(observer.id, student.id, root))
        else:
            found.workflow_state = "active"  # a deleted link is restored; an active one left alone
        for enrollment in student.enrollments:
            if enrollment.type == "student" and enrollment.state in ("active", "invited"):
                already = any(
                    e.type == "observer" and e.associated_user_id == student.id and e.root_account_id == root
                    for e in observer.enrollments
                )
                if not already and enrollment.root_account_id == root:
                    observer.enrollments.append(Enrollment("observer", "active", root, student.id))


def _observer_for(ctx: Ctx, raw: str) -> UserRecord:
    """The observer, and the §14.3 access rule: self, or an admin over one of its root accounts."""
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
    """Counted-total pagination, 10 per page by default, with a ``last`` link (§14.3)."""
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


def _root_accounts_for_link(ctx: Ctx, common: list[int]) -> list[int]:
    """``root_account_id``: omitted → the domain root account only; ``all`` → every common one (§14.4)."""
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
    _link(ctx, observer=observer, student=student, root_account_ids=roots)
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
    observer = ctx.find_user(args["user_id"])
    if ctx.me().id != observer.id and not ctx.can("manage_user_observers"):
        raise ctx.unauthorized()
    params, state = ctx.params, ctx.state
    if params.get("access_token"):
        # the same name as the auth parameter (§14.4 A): a query-string admin token lands here too
        owner_id = state.tokens.get(params.get("access_token") or "")
        if owner_id is None:
            raise errors.bad_request("Unknown observee.", 422)
        student = state.user_records[owner_id]
    elif "pairing_code" in params:
        code = _active_code(ctx, params.get("pairing_code") or "")
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
        raise KeyError("observee")  # params[:observee][:unique_id] on nil → 500 (§14.4 A)
    roots = _root_accounts_for_link(ctx, _common_roots(observer, student))
    # no shared root account: still 200, with [] and no link; the code is already gone (§14.4 A)
    _link(ctx, observer=observer, student=student, root_account_ids=roots)
    body = user_json(ctx, student, [])
    body["observation_link_root_account_ids"] = roots
    return json_response(200, body)


# -- a user's enrollments (``GET /api/v1/users/:user_id/enrollments``, Canvas's enrollments API) [I]
# Not in canvas-api.md: emulated from Canvas's API docs, reduced to what the observers job reads.

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
    Route("POST", "/api/v1/accounts/:account_id/users", create_user),
    Route("POST", "/api/v1/users/:user_id/observer_pairing_codes", create_pairing_code),
    Route("GET", "/api/v1/users/:user_id/observees", list_observees),
    Route("POST", "/api/v1/users/:user_id/observees", post_observee),
    Route("GET", "/api/v1/users/:user_id/observees/:observee_id", show_observee),
    Route("PUT", "/api/v1/users/:user_id/observees/:observee_id", put_observee),
    Route("DELETE", "/api/v1/users/:user_id/observees/:observee_id", delete_observee),
    Route("GET", "/api/v1/users/:user_id/observers", list_observers),
    Route("GET", "/api/v1/users/:user_id/enrollments", list_user_enrollments),
]
