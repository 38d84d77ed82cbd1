"""Fixtures for the reliability tests: a sandbox world built from any config."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from profilesync.sandbox import SandboxConfig
from support.world import World, make_world

from . import helpers

MakeWorld = Callable[..., World]
Spawn = Callable[..., "subprocess.Popen[str]"]


@pytest.fixture
def make(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MakeWorld]:
    """``make(users=150, error_rate=0.1, ...)``: a started sandbox with photos for 5/6 of its students."""
    with ExitStack() as stack:

        def build(**config: Any) -> World:
            worlds = make_world(tmp_path, monkeypatch, SandboxConfig(**config))
            stack.callback(lambda: next(worlds, None))  # runs the harness's own end-of-test checks
            return next(worlds)

        yield build


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """``spawn(world, *args)``: the real CLI as a subprocess; any still running at the end is killed (by pid)."""
    started: list[subprocess.Popen[str]] = []

    def start(world: World, *args: str) -> subprocess.Popen[str]:
        process = helpers.spawn(world, *args)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate()
