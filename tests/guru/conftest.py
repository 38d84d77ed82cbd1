"""Fixtures for the Guru tests: the e2e world over the Guru sandbox, and a mocked transport for client tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import responses

from profilesync.http import RateGate
from profilesync.sandbox.guru import GuruSandbox, GuruSandboxConfig

from .world import MEMBERS, PAGE_SIZE, GuruWorld, make_guru_world


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GuruWorld]:
    """A few dozen members over four pages, some inactive, some with a picture of their own."""
    config = GuruSandboxConfig(members=MEMBERS, page_size=PAGE_SIZE, inactive_rate=0.15, own_picture_rate=0.2)
    yield from make_guru_world(tmp_path, monkeypatch, config)


@pytest.fixture
def guru() -> Iterator[GuruSandbox]:
    """A bare Guru sandbox of 12 members in pages of 5."""
    with GuruSandbox(GuruSandboxConfig(members=12, page_size=5, inactive_rate=0.25)) as sandbox:
        yield sandbox


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    """Every HTTP call of the test goes to this registry; an unregistered URL is a ConnectionError."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Retry backoff and throttle pauses recorded instead of waited for."""
    recorded: list[float] = []
    monkeypatch.setattr("profilesync.http.time.sleep", recorded.append)
    original = RateGate.throttle

    def throttle(self: RateGate, remaining: float | None, sent_with: int = 1) -> float:
        pause = original(self, remaining, sent_with)
        recorded.append(pause)
        self._paused_until = 0.0  # recorded, not waited for
        return pause

    monkeypatch.setattr(RateGate, "throttle", throttle)
    return recorded
