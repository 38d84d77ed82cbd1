"""Fixtures for the sandbox tests: fresh sandboxes on ephemeral loopback ports, stopped after each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from profilesync_sandbox import Sandbox, SandboxConfig

from .helpers import api

MakeSandbox = Callable[..., Sandbox]


@pytest.fixture
def make_sandbox() -> Iterator[MakeSandbox]:
    """Start a sandbox with config overrides (30 generated users by default)."""
    started: list[Sandbox] = []

    def factory(**overrides: Any) -> Sandbox:
        overrides.setdefault("users", 30)
        sb = Sandbox(SandboxConfig(**overrides)).start()
        started.append(sb)
        return sb

    yield factory
    for sb in started:
        sb.stop()


@pytest.fixture
def sb(make_sandbox: MakeSandbox) -> Sandbox:
    return make_sandbox()


@pytest.fixture
def admin(sb: Sandbox) -> requests.Session:
    return api(sb)
