"""Shared fakes for the HTTP-level unit tests (Canvas and Guru clients with `responses`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import responses

from profilesync.rategate import RateGate


def mocked_http() -> Iterator[responses.RequestsMock]:
    """Every HTTP call goes to this registry; an unregistered URL is a ConnectionError, and a registered one
    that the test never calls fails it."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


class FakeTime:
    """A clock that stands still until something sleeps on it; sleeping moves it on at once."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


def record_pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Retry backoff and throttle pauses recorded instead of waited for.

    Every rate gate made during the test runs in fake time: its throttle pauses are recorded and pass at once.
    """
    recorded: list[float] = []
    monkeypatch.setattr("time.sleep", recorded.append)
    fake = FakeTime()
    make_gate = RateGate.__init__

    def fake_time_gate(self: RateGate, *args: Any, **kwargs: Any) -> None:
        make_gate(self, *args, **{"clock": fake.monotonic, "sleep": fake.sleep, **kwargs})

    monkeypatch.setattr(RateGate, "__init__", fake_time_gate)
    throttle = RateGate.throttle

    def recorded_throttle(self: RateGate, remaining: float | None, sent_with: int = 1) -> float:
        pause = throttle(self, remaining, sent_with)
        recorded.append(pause)
        return pause

    monkeypatch.setattr(RateGate, "throttle", recorded_throttle)
    return recorded
