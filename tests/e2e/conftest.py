"""Fixtures for the end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from profilesync_sandbox import SandboxConfig
from support.world import USERS, World, make_world


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    yield from make_world(tmp_path, monkeypatch, SandboxConfig(users=USERS, missing_sis_rate=0.03, request_cost=0.05))
