"""The masqueraded preflight's refusals told apart by their body: limited access, one user refused, no act-as at all."""

from __future__ import annotations

from typing import Any

import pytest
import responses

from profilesync.engine.model import RemoteUser
from profilesync.errors import FatalRemoteError, LimitedAccessError, MasqueradeRefusedError, PermissionDeniedError
from profilesync.targets.canvas.refusals import MASQUERADE_REFUSALS_BEFORE_FATAL
from profilesync.targets.canvas.target import CanvasTarget

from .conftest import BASE

PREFLIGHT = f"{BASE}/api/v1/users/self/files"
IMAGE = b"\xff\xd8\xff\xe0fake jpeg bytes\xff\xd9"
# AuthenticationMethods#render_json_unauthorized, with and without api_auth_error_updates
UNAUTHORIZED = {"status": "unauthorized", "errors": [{"message": "user not authorized to perform that action"}]}
# AuthenticationMethods#load_user when User#can_masquerade? says no
INVALID_AS_USER = {"errors": "Invalid as_user_id"}


def users(count: int, first: int = 2001) -> list[RemoteUser]:
    return [RemoteUser(user_id=str(first + i), key=f"S{first + i}", name="x", avatar_ref=None) for i in range(count)]


def refusal(target: CanvasTarget, user: RemoteUser) -> Exception:
    with pytest.raises(PermissionDeniedError) as caught:
        target.upload_avatar(user, IMAGE)
    return caught.value


@pytest.mark.parametrize("status", [401, 403])
def test_unauthorized_body_is_limited_access(rsps: responses.RequestsMock, target: CanvasTarget, status: int) -> None:
    """401 or 403 "user not authorized" on the preflight is limited_access, with advice naming the account setting."""
    rsps.add(responses.POST, PREFLIGHT, status=status, json=UNAUTHORIZED)
    error = refusal(target, users(1)[0])
    assert isinstance(error, LimitedAccessError) and error.kind == "limited_access"
    assert "Limited access for students" in str(error.advice)
    assert "act as" not in str(error).lower()


def test_translated_unauthorized_body_is_still_limited_access(
    rsps: responses.RequestsMock, target: CanvasTarget
) -> None:
    """The message is translated to the account's language; the body's shape alone decides."""
    body = {"status": "no autorizado", "errors": [{"message": "usuario no autorizado para realizar esa acción"}]}
    rsps.add(responses.POST, PREFLIGHT, status=401, json=body)
    assert isinstance(refusal(target, users(1)[0]), LimitedAccessError)


def test_limited_access_never_stops_the_run(rsps: responses.RequestsMock, target: CanvasTarget) -> None:
    """Sixty limited-access students in a row each fail alone: never a fatal error, never act-as advice."""
    rsps.add(responses.POST, PREFLIGHT, status=403, json=UNAUTHORIZED)
    for user in users(60):
        assert isinstance(refusal(target, user), LimitedAccessError)


def test_limited_access_proves_acting_as_users_works(rsps: responses.RequestsMock, target: CanvasTarget) -> None:
    """Canvas refused a student after acting as them: later "Invalid as_user_id" refusals stay per user."""
    rsps.add(responses.POST, PREFLIGHT, status=401, json=UNAUTHORIZED)
    refusal(target, users(1, first=1)[0])
    rsps.replace(responses.POST, PREFLIGHT, status=401, json=INVALID_AS_USER)
    for user in users(MASQUERADE_REFUSALS_BEFORE_FATAL * 2):
        assert isinstance(refusal(target, user), MasqueradeRefusedError)


def test_three_refused_users_do_not_stop_the_run(rsps: responses.RequestsMock, target: CanvasTarget) -> None:
    """Up to one short of the threshold, distinct refused users each fail alone (masquerade_refused)."""
    rsps.add(responses.POST, PREFLIGHT, status=401, json=INVALID_AS_USER)
    for user in users(MASQUERADE_REFUSALS_BEFORE_FATAL - 1):
        error = refusal(target, user)
        assert isinstance(error, MasqueradeRefusedError) and error.kind == "masquerade_refused"


def test_the_same_user_refused_again_is_not_more_evidence(rsps: responses.RequestsMock, target: CanvasTarget) -> None:
    """Retrying one refused user many times counts once: only distinct users prove the token cannot act as anyone."""
    rsps.add(responses.POST, PREFLIGHT, status=401, json=INVALID_AS_USER)
    user = users(1)[0]
    for _ in range(MASQUERADE_REFUSALS_BEFORE_FATAL * 2):
        assert isinstance(refusal(target, user), MasqueradeRefusedError)


def test_threshold_of_distinct_refusals_is_fatal(rsps: responses.RequestsMock, target: CanvasTarget) -> None:
    """The threshold's distinct user refused with none accepted: exit-3 error naming 'Users - act as'."""
    rsps.add(responses.POST, PREFLIGHT, status=401, json=INVALID_AS_USER)
    batch = users(MASQUERADE_REFUSALS_BEFORE_FATAL)
    for user in batch[:-1]:
        refusal(target, user)
    with pytest.raises(FatalRemoteError) as caught:
        target.upload_avatar(batch[-1], IMAGE)
    assert "Users - act as" in str(caught.value.advice) and "Become other users" in str(caught.value.advice)


def test_merged_user_is_named_in_the_message(rsps: responses.RequestsMock, target: CanvasTarget) -> None:
    """load_user adds merged_into_user_id for a merged user: the failure message says whom they were merged into."""
    rsps.add(responses.POST, PREFLIGHT, status=401, json={**INVALID_AS_USER, "merged_into_user_id": 4242})
    error = refusal(target, users(1)[0])
    assert isinstance(error, MasqueradeRefusedError)
    assert "merged into user 4242" in str(error)


@pytest.mark.parametrize("body", [{"message": "nope"}, "<html>Forbidden</html>"])
def test_unknown_refusal_is_a_plain_permission_failure(
    rsps: responses.RequestsMock, target: CanvasTarget, body: Any
) -> None:
    """A 403 in neither Canvas shape (a proxy, a WAF) is kind permission, left to the executor's breaker."""
    if isinstance(body, dict):
        rsps.add(responses.POST, PREFLIGHT, status=403, json=body)
    else:
        rsps.add(responses.POST, PREFLIGHT, status=403, body=body, content_type="text/html")
    error = refusal(target, users(1)[0])
    assert type(error) is PermissionDeniedError and error.kind == "permission"
