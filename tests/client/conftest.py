"""Shared fixtures for the Canvas client tests: a mocked transport, fast retries and pauses, a target."""

from __future__ import annotations

from collections.abc import Iterator
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

import pytest
import requests
import responses

from profilesync.domain import Secret
from profilesync.http import Api, Retry
from profilesync.rategate import RateGate
from profilesync.targets.canvas.build import avatar_target
from profilesync.targets.canvas.client import CANVAS
from profilesync.targets.canvas.target import CanvasTarget
from support.http_fakes import mocked_http, record_pauses

BASE = "https://canvas.test"
TOKEN = "7~sEcReTtOkEn0123456789abcdefXYZ"
FAST_RETRY = Retry(attempts=3, base_delay_s=0.0, max_delay_s=0.0)


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    """Every HTTP call of the test goes to this registry; an unregistered URL is a ConnectionError."""
    yield from mocked_http()


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Retry backoff and throttle pauses recorded instead of waited for."""
    return record_pauses(monkeypatch)


@pytest.fixture
def api(sleeps: list[float]) -> Api:
    return Api(BASE, lambda: f"Bearer {TOKEN}", dialect=CANVAS, retry=FAST_RETRY, gate=RateGate(16))


class Target:
    """A CanvasTarget with instant retries, plus the pauses it asked for."""

    def __init__(self, match: str = "sis_user_id") -> None:
        self.pauses: list[float] = []
        self.target = avatar_target(
            BASE, Secret(TOKEN), match=match, retry=FAST_RETRY, sleep=self.pauses.append, max_in_flight=16
        )


@pytest.fixture
def make_target(sleeps: list[float]) -> Any:
    return Target


@pytest.fixture
def target(make_target: Any) -> CanvasTarget:
    return make_target().target  # type: ignore[no-any-return]


def calls_to(rsps: responses.RequestsMock, method: str, url_prefix: str) -> list[Any]:
    """The recorded calls with this method whose URL starts with the prefix."""
    return [c for c in rsps.calls if c.request.method == method and str(c.request.url).startswith(url_prefix)]


def multipart_fields(request: requests.PreparedRequest) -> list[tuple[str, bytes, str | None]]:
    """(field name, value bytes, file name) of a multipart body, in the order sent."""
    body = request.body if isinstance(request.body, bytes) else str(request.body).encode()
    head = f"Content-Type: {request.headers['Content-Type']}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    fields = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        fields.append((str(name), payload, part.get_filename()))
    return fields
