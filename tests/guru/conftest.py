"""Fixtures for the Guru tests: the e2e world over the Guru sandbox, and a mocked transport for client tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import responses

from profilesync_sandbox.guru import GuruSandbox, GuruSandboxConfig
from support.http_fakes import mocked_http, record_pauses

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
    yield from mocked_http()


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Retry backoff and throttle pauses recorded instead of waited for."""
    return record_pauses(monkeypatch)
