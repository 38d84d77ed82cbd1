"""Ctrl-C on a real ``avatars sync --target guru`` process: the same engine stops the same way as for Canvas."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from profilesync_sandbox.guru import GuruSandboxConfig

from .world import GuruWorld, make_guru_world

UPLOAD = "POST /app/picture"


@pytest.fixture
def slow_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GuruWorld]:
    yield from make_guru_world(tmp_path, monkeypatch, GuruSandboxConfig(members=150, page_size=50, latency_ms=40))


def test_ctrl_c_stops_a_guru_sync_and_the_next_run_finishes(slow_world: GuruWorld) -> None:
    """SIGINT mid-sync: exit 130 within seconds, nothing sent after the exit, the run recorded as interrupted
    with the members really synced; the next run uploads exactly the rest."""
    world = slow_world
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GURU_", "CANVAS_", "PROFILESYNC_"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "profilesync.cli", "avatars", "sync", "--target", "guru"],
        env=env | world.env(),
        cwd=world.photos.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while world.guru.state.counts()[UPLOAD] < 10:
            assert time.monotonic() < deadline and process.poll() is None, "the run never got going"
            time.sleep(0.01)
        process.send_signal(signal.SIGINT)
        signalled = time.monotonic()
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, err
    assert time.monotonic() - signalled < 5 and "Traceback" not in err
    seen_at_exit = len(world.guru.state.requests())
    time.sleep(0.5)
    assert len(world.guru.state.requests()) == seen_at_exit

    (run,) = world.json("avatars", "runs")["runs"]
    synced = [r for r in world.json("avatars", "history")["records"] if r["synced_at"]]
    assert run["exit_code"] == 130 and run["counts"]["uploaded"] == len(synced) > 0
    expected = world.expected_uploads()
    assert len(synced) < len(expected)
    second = world.avatars("sync")
    assert second["counts"]["uploaded"] == len(expected) - len(synced) and second["counts"]["failed"] == 0
