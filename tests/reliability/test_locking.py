"""One run at a time: an overlapping cron run exits 5 at once and touches nothing; a killed run's lock frees itself."""

from __future__ import annotations

import json
import os
import signal
import time

from .conftest import MakeWorld, Spawn
from .helpers import assert_all_synced, expected_keys, wait_until

PREFLIGHT = "POST /api/v1/users/:user_id/files"


def test_overlapping_run_exits_5_at_once_and_changes_nothing(make: MakeWorld, spawn: Spawn) -> None:
    """While a slow sync runs in another process, a second sync exits 5 within a second, sending no request."""
    world = make(users=60, latency_ms=40)
    first = spawn(world, "avatars", "sync", "--format", "json")
    sb = world.sandbox
    wait_until(lambda: sb.state.counts()[PREFLIGHT] > 0, what="the first run to start uploading")
    requests_before = len(sb.state.requests())

    started = time.monotonic()
    second = world.cli("avatars", "sync", expect=5)
    assert time.monotonic() - started < 3
    assert "another profilesync run" in second.stderr and f"pid {first.pid}" in second.stderr
    listings = [r for r in sb.state.requests()[requests_before:] if r.route == "GET /api/v1/accounts/:account_id/users"]
    assert listings == []  # the second run asked Canvas nothing

    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert json.loads(out)["counts"]["failed"] == 0
    runs = world.json("avatars", "runs")["runs"]
    assert len(runs) == 1 and runs[0]["exit_code"] == 0  # the refused run left no trace in the history
    assert_all_synced(world, expected_keys(world))


def test_lock_of_a_killed_run_does_not_block_the_next(make: MakeWorld, spawn: Spawn) -> None:
    """A run killed with -9 mid-sync leaves its lock behind; the next run takes it over and finishes the job."""
    world = make(users=60, latency_ms=40)
    first = spawn(world, "avatars", "sync")
    sb = world.sandbox
    wait_until(lambda: sb.state.counts()[PREFLIGHT] > 5, what="the first run to be mid-sync")
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=30)  # reaped, as cron or systemd would

    started = time.monotonic()
    result = world.cli("avatars", "sync", "--format", "json")
    assert "took over a stale lock" in result.stderr and f"pid {first.pid}" in result.stderr
    assert json.loads(result.stdout)["counts"]["failed"] == 0
    assert time.monotonic() - started < 60
    assert_all_synced(world, expected_keys(world))
    runs = world.json("avatars", "runs")["runs"]
    assert [r["exit_code"] for r in runs] == [0, None]  # newest first; the killed run stays "unfinished"
