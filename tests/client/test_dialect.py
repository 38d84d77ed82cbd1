"""The vendor-neutral client and the dialects: plain HTTP knows no vendor's quirks; Canvas's and Guru's add theirs."""

from __future__ import annotations

import pytest
import requests
import responses

from profilesync.errors import FatalRemoteError, PermissionDeniedError, TransientError
from profilesync.http import Api, Dialect, Retry
from profilesync.rategate import RateGate
from profilesync.targets.canvas.client import CANVAS
from profilesync.targets.guru import GURU

from .conftest import BASE, FAST_RETRY, TOKEN

USERS = f"{BASE}/api/v1/users/1001"
RATE_LIMIT_403 = {"status": 403, "body": "403 Forbidden (Rate Limit Exceeded)\n", "content_type": "text/plain"}


def api_for(dialect: Dialect) -> Api:
    return Api(BASE, lambda: f"Bearer {TOKEN}", dialect=dialect, retry=FAST_RETRY, gate=RateGate(16))


@pytest.mark.usefixtures("sleeps")
def test_plain_http_reads_a_text_403_as_a_refusal_not_as_canvas_throttling(rsps: responses.RequestsMock) -> None:
    """Canvas's "Rate Limit Exceeded" 403 is Canvas's alone: under plain HTTP it is a refusal, not retried."""
    rsps.add(responses.GET, USERS, **RATE_LIMIT_403)
    api = api_for(Dialect())
    with pytest.raises(PermissionDeniedError, match="Rate Limit Exceeded"):
        api.json("GET", "/api/v1/users/1001", what="reading")
    assert api.gate.throttled == 0 and len(rsps.calls) == 1


@pytest.mark.usefixtures("sleeps")
def test_plain_http_does_not_strip_canvas_s_csrf_prefix(rsps: responses.RequestsMock) -> None:
    """The ``while(1);`` prefix is Canvas's: plain HTTP takes such a body for what it is, not JSON."""
    rsps.add(responses.GET, USERS, body='while(1);{"id": 1001}', content_type="application/json")
    rsps.add(responses.GET, USERS, body='while(1);{"id": 1001}', content_type="application/json")
    with pytest.raises(FatalRemoteError, match="did not answer with JSON"):
        api_for(Dialect()).json("GET", "/api/v1/users/1001", what="reading")
    assert api_for(CANVAS).json("GET", "/api/v1/users/1001", what="reading") == {"id": 1001}


@pytest.mark.parametrize(("dialect", "name"), [(CANVAS, "Canvas"), (GURU, "Guru")])
def test_messages_name_the_vendor_of_the_dialect(rsps: responses.RequestsMock, dialect: Dialect, name: str) -> None:
    """An unreachable API is named by its dialect's vendor in the error."""
    api = Api(BASE, lambda: "Bearer t", dialect=dialect, retry=Retry(attempts=0))
    with pytest.raises(TransientError, match=f"cannot reach {name}"):
        api.request("GET", "/api/v1/users/1001", what="reading")


def test_only_canvas_reports_the_room_left_in_its_bucket() -> None:
    """X-Rate-Limit-Remaining steers the gate for Canvas; Guru sends no such header, and it is not read for it."""
    answer = requests.Response()
    answer.status_code = 200
    answer.headers["X-Rate-Limit-Remaining"] = "590.5"
    assert CANVAS.remaining(answer) == 590.5 and GURU.remaining(answer) is None
