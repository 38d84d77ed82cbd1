"""Shared fakes for the HTTP-level unit tests (Canvas and Guru clients with `responses`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses

from profilesync.http import RateGate


def mocked_http() -> Iterator[responses.RequestsMock]:
    """Every HTTP call goes to this registry; an unregistered URL is a ConnectionError."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def record_pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Retry backoff and throttle pauses recorded instead of waited for."""
    recorded: list[float] = []
    monkeypatch.setattr("profilesync.http.time.sleep", recorded.append)
    original = RateGate.throttle

    def throttle(self: RateGate, remaining: float | None, sent_with: int = 1) -> float:
        pause = original(self, remaining, sent_with)
        recorded.append(pause)
        self._paused_until = 0.0  # the pause is recorded, not waited for
        return pause

    monkeypatch.setattr(RateGate, "throttle", throttle)
    return recorded
