"""Ctrl-C and SIGTERM on a real CLI process mid-sync: it stops within seconds, nothing of it keeps working after
it exits or after its lock is released, the run is recorded as interrupted with what it really did, and the next
run finishes the job without tripping the safety valve.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

from profilesync.store import open_store
from profilesync.store.lock import AVATARS_CANVAS, OBSERVERS
from support.world import World

from .conftest import MakeWorld, Spawn
from .helpers import assert_all_synced, assert_no_duplicates, expected_keys, history, wait_until

PREFLIGHT = "POST /api/v1/users/:user_id/files"
OBSERVEES = "PUT /api/v1/users/:user_id/observees/:observee_id"


def requests_seen(world: World) -> int:
    """Every request the sandbox's hosts answered (Canvas and the upload host)."""
    return len(world.sandbox.state.requests())


def start_and_interrupt(world: World, spawn: Spawn, signum: int, *args: str) -> tuple[subprocess.Popen[str], float]:
    """Start ``avatars sync`` and signal it once it is mid-sync; the process and when the signal was sent."""
    process = spawn(world, "avatars", "sync", *args)
    wait_until(lambda: world.sandbox.state.counts()[PREFLIGHT] >= 20, what="the run to be mid-sync")
    process.send_signal(signum)
    return process, time.monotonic()


def test_ctrl_c_stops_within_seconds_records_what_was_done_and_the_next_run_finishes(
    make: MakeWorld, spawn: Spawn
) -> None:
    """SIGINT mid-sync of 300 users: exit 130 within seconds, no request after the exit, the run recorded as
    interrupted with the counts of what was really synced; the next run completes (no safety valve) and leaves
    every user synced once."""
    world = make(users=300, latency_ms=20, thumbnail_lag_s=0.02)
    keys = expected_keys(world)
    process, signalled = start_and_interrupt(world, spawn, signal.SIGINT, "--format", "json")
    out, err = process.communicate(timeout=60)
    took = time.monotonic() - signalled
    seen_at_exit = requests_seen(world)
    assert process.returncode == 130, err
    assert took < 5, took
    assert "Traceback" not in err and "interrupted" in err
    assert json.loads(out) == {
        "error": "interrupted by SIGINT",
        "advice": "nothing is lost: the next run finishes what this one started",
        "exit_code": 130,
    }
    time.sleep(1.0)
    assert requests_seen(world) == seen_at_exit  # no worker outlived the process

    (run,) = world.json("avatars", "runs")["runs"]
    synced = [k for k, r in history(world).items() if r["synced_at"]]
    assert run["exit_code"] == 130 and run["ended_at"]
    assert run["counts"]["uploaded"] == len(synced) and 0 < len(synced) < len(keys) - 150
    assert "130 interrupted" in world.cli("avatars", "runs").stdout

    # Finishing an interrupted first sync is routine: more than half the school is new, and that is fine.
    second = world.json("avatars", "sync")
    assert second["exit_code"] == 0 and second["counts"]["uploaded"] == len(keys) - len(synced)
    assert_all_synced(world, keys)
    assert_no_duplicates(world)


def test_sigterm_exits_143_and_is_recorded_as_terminated(make: MakeWorld, spawn: Spawn) -> None:
    """SIGTERM (systemd stopping the unit) ends the run like Ctrl-C, with exit 143."""
    world = make(users=150, latency_ms=20)
    process, signalled = start_and_interrupt(world, spawn, signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143, err
    assert time.monotonic() - signalled < 5
    assert "Traceback" not in err and "SIGTERM" in err
    (run,) = world.json("avatars", "runs")["runs"]
    assert run["exit_code"] == 143
    assert "143 terminated" in world.cli("avatars", "runs").stdout


def test_lock_is_released_only_when_nothing_of_the_run_is_working(make: MakeWorld, spawn: Spawn) -> None:
    """After SIGINT, a second run trying the lock gets it only once the first run's requests have all ended."""
    world = make(users=150, latency_ms=60)
    process, _ = start_and_interrupt(world, spawn, signal.SIGINT)
    probe = open_store(world.database_url)
    attempts = 0
    try:
        while True:
            attempts += 1
            try:
                with probe.lock("second run", job=AVATARS_CANVAS):
                    seen_when_acquired = requests_seen(world)
                    break
            except Exception:  # LockedError while the first run winds down
                time.sleep(0.005)
    finally:
        probe.close()
    process.communicate(timeout=60)
    assert process.returncode == 130
    assert attempts > 1  # the first run held the lock while its users in flight finished
    time.sleep(0.5)
    assert requests_seen(world) == seen_when_acquired  # nothing of the first run worked after it let go


def test_second_ctrl_c_exits_at_once_without_traceback(make: MakeWorld, spawn: Spawn) -> None:
    """A second SIGINT while the users in flight finish exits at once (exit 130, no traceback); the next run
    takes over the left lock and repairs everything."""
    world = make(users=150, latency_ms=250)
    keys = expected_keys(world)
    process, _ = start_and_interrupt(world, spawn, signal.SIGINT)
    time.sleep(0.1)  # the first signal is being handled: users in flight need several 250 ms requests
    process.send_signal(signal.SIGINT)
    again = time.monotonic()
    _, err = process.communicate(timeout=60)
    assert time.monotonic() - again < 1.0
    assert process.returncode == 130, err
    assert "Traceback" not in err and "SIGINT again" in err

    world.cli("avatars", "sync")
    assert_all_synced(world, keys)
    assert_no_duplicates(world)


def _parents_csv(world: World, rows: int) -> Path:
    path = world.photos.parent / "parents.csv"
    lines = ["student_sis_id,parent_email,parent_first_name,parent_last_name"]
    for n, student in enumerate(world.students()[:rows]):
        lines.append(f"{student.sis_user_id},parent{n}@families.example.org,Pat,Parent{n}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_observers_sync_is_stopped_by_ctrl_c_too(make: MakeWorld, spawn: Spawn) -> None:
    """``observers sync`` of 200 parents: SIGINT mid-run exits 130 within seconds, records the rows done, and
    the next run links the rest."""
    world = make(users=220, latency_ms=30)
    csv_path = _parents_csv(world, 200)
    linkable = world.json("observers", "plan", str(csv_path))["counts"]["create_parent_and_link"]
    assert world.sandbox.state.observer_links() == []  # every link counted below is this run's
    process = spawn(world, "observers", "sync", str(csv_path))
    wait_until(lambda: world.sandbox.state.counts()[OBSERVEES] >= 10, what="the observers run to be linking")
    process.send_signal(signal.SIGINT)
    signalled = time.monotonic()
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert time.monotonic() - signalled < 5 and "Traceback" not in err
    seen_at_exit = requests_seen(world)
    time.sleep(0.5)
    assert requests_seen(world) == seen_at_exit

    (run,) = world.json("avatars", "runs")["runs"]
    # Links in Canvas, not PUT requests: a PUT answered "throttled" (or 5xx, or lost) is sent again, and the
    # sandbox logs every attempt, while it makes one link.
    linked = len(world.sandbox.state.observer_links())
    assert run["command"] == "observers sync" and run["exit_code"] == 130
    assert run["counts"]["create_parent_and_link"] == linked < linkable
    result = world.json("observers", "sync", str(csv_path))
    assert result["counts"]["create_parent_and_link"] == linkable - linked
    assert result["counts"]["already_linked"] == linked


def test_avatars_and_observers_jobs_run_at_the_same_time(make: MakeWorld, spawn: Spawn) -> None:
    """An observers sync started while an avatars sync runs on the same database runs (no exit 5), and both
    finish; a second observers sync while one holds its lock is still refused."""
    world = make(users=80, latency_ms=40)
    csv_path = _parents_csv(world, 20)
    linkable = world.json("observers", "plan", str(csv_path))["counts"]["create_parent_and_link"]
    avatars = spawn(world, "avatars", "sync", "--format", "json")
    wait_until(lambda: world.sandbox.state.counts()[PREFLIGHT] > 5, what="the avatars run to be uploading")
    # The avatars run's uploads wait until the observers runs are done: it cannot finish first, however slow the
    # machine makes them (the observers job never uploads).
    uploads = world.sandbox.faults.hold(None, "", host="upload")
    try:
        observers = world.json("observers", "sync", str(csv_path))
        assert observers["counts"]["create_parent_and_link"] == linkable > 10
        assert avatars.poll() is None  # the avatars run was still going all along
        with open_store(world.database_url).lock("observers elsewhere", job=OBSERVERS):
            world.cli("observers", "sync", str(csv_path), expect=5)
    finally:
        uploads.release()
    out, err = avatars.communicate(timeout=120)
    assert avatars.returncode == 0, err
    assert json.loads(out)["counts"]["failed"] == 0
    assert_all_synced(world, expected_keys(world))
    assert sorted(r["exit_code"] for r in world.json("avatars", "runs")["runs"]) == [0, 0]


def test_ctrl_c_while_listing_users_stops_before_any_upload(make: MakeWorld, spawn: Spawn) -> None:
    """SIGINT while the users are still being listed: exit 130 at once, no upload ever starts, and the run is
    recorded as interrupted with nothing done."""
    world = make(users=300, latency_ms=300)
    process = spawn(world, "avatars", "sync")
    listing = "GET /api/v1/accounts/:account_id/users"
    wait_until(lambda: world.sandbox.state.counts()[listing] >= 1, what="the listing to start")
    process.send_signal(signal.SIGINT)
    signalled = time.monotonic()
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert time.monotonic() - signalled < 3 and "Traceback" not in err
    assert world.sandbox.state.counts()[PREFLIGHT] == 0
    (run,) = world.json("avatars", "runs")["runs"]
    assert run["exit_code"] == 130 and sum(run["counts"].values()) == 0
