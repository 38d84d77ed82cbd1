"""Parents: create-user (docs/canvas.md §14.1, §14.5), pairing codes (§14.2), and the observation link a code makes.

The observee endpoints are in ``observees``; the enrollments listing a client reads is in ``enrollments``.
"""

from __future__ import annotations

import re
import string
from datetime import timedelta
from typing import Any

from profilesync_sandbox.canvas import errors
from profilesync_sandbox.canvas.app import Ctx
from profilesync_sandbox.canvas.records import (
    EmailSent,
    Enrollment,
    ObservationLink,
    PairingCode,
    UserRecord,
)
from profilesync_sandbox.canvas.userjson import user_json
from profilesync_sandbox.canvas.users import resolve_account
from profilesync_sandbox.routing import Route
from profilesync_sandbox.wire import Response, json_response

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CODE_ALPHABET = string.ascii_letters + string.digits


# -- create user (docs/canvas.md §14.1)


def _create_errors(**extra: Any) -> dict[str, Any]:
    """The nested error body of users#create, every section present."""
    body: dict[str, Any] = {"user": {}, "pseudonym": {}, "observee": {}, "pairing_code": {}, "recaptcha": None}
    body.update(extra)
    return body


def create_user(ctx: Ctx, args: dict[str, str]) -> Response:
    """POST /api/v1/accounts/:account_id/users: 200 (not 201); ``taken`` nested under errors.pseudonym."""
    account = resolve_account(ctx, args["account_id"])  # @context is forced to the root account
    if not ctx.can("manage_user_logins"):
        raise errors.ApiError(json_response(403, {}))  # require_self_registration: a bare {} (docs/canvas.md §2)
    params, state = ctx.params, ctx.state
    unique_id = (params.get("pseudonym[unique_id]") or "").strip()
    if not unique_id:
        unique = [{"attribute": "unique_id", "type": "too_short", "message": "is too short (minimum is 1 character)"}]
        raise errors.validation_error(400, _create_errors(pseudonym={"unique_id": unique}))
    code = None
    if params.get("user[initial_enrollment_type]") == "observer" and params.get("pairing_code[code]"):
        code = active_code(ctx, params.get("pairing_code[code]") or "")
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
        link(ctx, observer=user, student=state.user_records[code.user_id], root_account_ids=[account.id])
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


# -- pairing codes (docs/canvas.md §14.2)


def active_code(ctx: Ctx, raw: str) -> PairingCode | None:
    code = ctx.state.codes.get(raw)
    if code is None or code.workflow_state != "active" or code.expires_at <= ctx.state.clock.now():
        return None
    return code


def create_pairing_code(ctx: Ctx, args: dict[str, str]) -> Response:
    """POST /api/v1/users/:user_id/observer_pairing_codes: 401/403 first if the student has no enrollment."""
    student = ctx.find_user(args["user_id"])
    if not student.has_student_enrollment():
        raise ctx.unauthorized()  # whoever calls (docs/canvas.md §14.2)
    if ctx.me().id != student.id and not ctx.can("generate_observer_pairing_code"):
        raise ctx.unauthorized()
    state = ctx.state
    while True:
        text = "".join(state.rng.choice(_CODE_ALPHABET) for _ in range(6))
        if active_code(ctx, text) is None:
            break
    code = PairingCode(text, student.id, state.clock.now() + timedelta(days=7))
    state.codes[text] = code
    expires = code.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return json_response(200, {"user_id": student.id, "code": text, "expires_at": expires, "workflow_state": "active"})


# -- observation links


def link(ctx: Ctx, *, observer: UserRecord, student: UserRecord, root_account_ids: list[int]) -> None:
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


ROUTES = [
    Route("POST", "/api/v1/accounts/:account_id/users", create_user),
    Route("POST", "/api/v1/users/:user_id/observer_pairing_codes", create_pairing_code),
]
