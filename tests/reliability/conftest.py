"""Fixtures for the reliability tests: a sandbox world built from any config."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from support.world import MakeWorld, World, world_maker

from . import helpers

Spawn = Callable[..., "subprocess.Popen[str]"]


@pytest.fixture
def make(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MakeWorld]:
    """``make(users=150, error_rate=0.1, ...)``: a started sandbox with photos for 5/6 of its students."""
    with world_maker(tmp_path, monkeypatch) as build:
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
