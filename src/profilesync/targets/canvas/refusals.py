"""Canvas's refusals of a masqueraded preflight: which kind it is, and when they mean "the token cannot act as users".

The preflight (``POST /api/v1/users/self/files?as_user_id=<id>``) is refused in two ways, told apart by the body
(details and citations in docs/canvas-behaviours.md):

- The masquerade itself: ``AuthenticationMethods#load_user`` (lib/authentication_methods.rb) answers 401
  ``{"errors": "Invalid as_user_id"}`` — ``errors`` a plain string, never translated — when
  ``User#can_masquerade?`` (app/models/user.rb) says no, adding ``merged_into_user_id`` for a merged user. That
  method refuses the token as a whole (no ``become_user`` on the domain root account), but also one user at a time:
  no login in the domain root account (``SisPseudonym.for``: a trusted/consortium user, a merged user), course roles
  or account roles with rights the token's role lacks (``includes_subset_of_course_admin_permissions?``,
  ``has_subset_of_account_permissions?``).
- The student, once Canvas acts as them: ``UsersController`` runs ``check_limited_access_for_students`` before
  ``create_file``; ``ApplicationController#check_limited_access_for_students`` refuses a user for whom
  ``User#student_in_limited_access_account?`` holds with ``render_unauthorized_action``, whose JSON is
  ``AuthenticationMethods#render_json_unauthorized``: 401 (403 under ``api_auth_error_updates``)
  ``{"status": "unauthorized", "errors": [{"message": "user not authorized to perform that action"}]}`` — ``errors``
  a list, the message in the account's language. It runs after ``load_user``, so the masquerade worked.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, NoReturn

import requests

from profilesync.engine.breaker import Breaker
from profilesync.errors import FatalRemoteError, LimitedAccessError, MasqueradeRefusedError, PermissionDeniedError
from profilesync.targets.canvas.client import error_message, parse_json

#: distinct users refused "Invalid as_user_id", with no user accepted, before the run stops. Conservative on purpose:
#: a handful of merged, consortium or higher-ranked users early in the listing must not stop a school's run, and
#: a token without "Users - act as" is caught up front by the root-account permissions check.
MASQUERADE_REFUSALS_BEFORE_FATAL = 20
#: the preflight's refusals that stop the run, and after how many distinct users (see :func:`masquerade_breaker`)
REFUSALS_BEFORE_FATAL = {MasqueradeRefusedError.kind: MASQUERADE_REFUSALS_BEFORE_FATAL}

ACT_AS_ADVICE = (
    "the token's admin role needs the 'Users - act as' permission (\"Become other users\") on the root account: "
    "Canvas lets admins upload into a user's files only by acting as them"
)
ONE_USER_ADVICE = (
    "Canvas does not let an admin act as a user who has no login in this root account (a user of a trusted or "
    "consortium account, or one merged into another user) or whose admin or course roles hold rights the token's "
    "role lacks; fix that user's login or roles in Canvas, or use a token whose role holds those rights. "
    "The other users are synced"
)
LIMITED_ACCESS_ADVICE = (
    "to sync these students turn off 'Limited access for students' (enable_limited_access_for_students) in Admin > "
    "Settings of their account or sub-account; Canvas offers no other supported way, as only the student may add "
    "files to their own folders. Staff are synced as usual"
)


class Refusal(Enum):
    """What a 401/403 on the masqueraded preflight says."""

    MASQUERADE = "masquerade"  # Canvas would not act as this user
    LIMITED_ACCESS = "limited_access"  # Canvas acted as the user, and refused the user
    OTHER = "other"


def classify(response: requests.Response) -> tuple[Refusal, dict[str, Any]]:
    """The kind of a 401/403 preflight refusal, from the shape of its body (never its translated text)."""
    try:
        body = parse_json(response)
    except ValueError:
        return Refusal.OTHER, {}
    if not isinstance(body, dict):
        return Refusal.OTHER, {}
    errors = body.get("errors")
    if isinstance(errors, str):
        return Refusal.MASQUERADE, body  # "Invalid as_user_id" from load_user
    if isinstance(errors, list) and body.get("status") != "unauthenticated":
        return Refusal.LIMITED_ACCESS, body  # render_json_unauthorized with a current (masqueraded) user
    return Refusal.OTHER, body


def masquerade_breaker() -> Breaker[None]:
    """Whether acting as users works this run, judged only from Canvas's answers.

    Acting as oneself always works (``User#can_masquerade?`` returns true first), so only another user's accepted
    preflight — or a refusal Canvas made as that user — proves the permission (:meth:`Breaker.proven`). Without
    any, the run stops once :data:`REFUSALS_BEFORE_FATAL` distinct users were refused.
    """
    return Breaker(REFUSALS_BEFORE_FATAL)


def raise_refusal(user_id: str, response: requests.Response, evidence: Breaker[None]) -> NoReturn:
    """Turn a 401/403 answer to the preflight for ``user_id`` into the error it stands for."""
    kind, body = classify(response)
    message = error_message(response)
    status = response.status_code
    if kind is Refusal.LIMITED_ACCESS:
        evidence.proven()  # Canvas accepted acting as the user before it refused the upload
        raise LimitedAccessError(
            f"Canvas refuses uploads as user {user_id}: 'Limited access for students' is on for their account "
            f"({message})",
            advice=LIMITED_ACCESS_ADVICE,
            status=status,
        )
    if kind is Refusal.MASQUERADE:
        trip = evidence.refused(MasqueradeRefusedError.kind, user_id, None)
        if trip is not None:
            raise FatalRemoteError(
                f"Canvas refused to let the token act as users: the first {trip.threshold} users tried were all "
                f"refused and none accepted ({message})",
                advice=ACT_AS_ADVICE,
            )
        merged = body.get("merged_into_user_id")
        why = f"; Canvas says this user was merged into user {merged}" if merged is not None else ""
        raise MasqueradeRefusedError(
            f"Canvas refused to act as user {user_id} ({message}{why})", advice=ONE_USER_ADVICE, status=status
        )
    raise PermissionDeniedError(f"preparing the upload for user {user_id}: not permitted ({message})", status=status)
