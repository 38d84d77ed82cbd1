"""`avatars runs` and `avatars history --user`: what the history tells an admin after a night with failures."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from profilesync.engine.model import RunEvent
from profilesync.store import open_store
from support.world import World


@pytest.fixture
def failed_night(world: World) -> tuple[World, str, str]:
    """A sync in which one user's photo is not an image and another user's quota is full (exit 1)."""
    keys = sorted(p.stem for p in world.photos.iterdir())
    bad_photo, full_quota = keys[0], keys[1]
    (world.photos / f"{bad_photo}.jpg").write_bytes(b"not a picture at all")
    world.sandbox.state.set_quota(world.user(full_quota).id, 100)
    world.cli("avatars", "sync", expect=1)
    return world, bad_photo, full_quota


def test_runs_lists_the_sync_with_counts_and_exit_code(failed_night: tuple[World, str, str]) -> None:
    """`avatars runs --format json` shows the sync, its counts and exit code 1."""
    world, _, _ = failed_night
    runs = world.json("avatars", "runs")["runs"]
    assert len(runs) == 1
    run = runs[0]
    assert run["command"] == "avatars sync" and run["exit_code"] == 1
    assert run["counts"]["failed"] == 2 and run["counts"]["uploaded"] == len(list(world.photos.iterdir())) - 2
    assert run["ended_at"] and run["duration_s"] is not None


def test_runs_table_says_what_the_exit_code_means(failed_night: tuple[World, str, str]) -> None:
    """The runs table spells out the exit code for people (1: some failed)."""
    world, _, _ = failed_night
    output = world.cli("avatars", "runs").stdout
    assert "1 some failed" in output and "avatars sync" in output


def test_runs_are_newest_first_and_limited(failed_night: tuple[World, str, str]) -> None:
    """`--limit 1` after two syncs shows only the newer one."""
    world, _, _ = failed_night
    world.cli("avatars", "sync", expect=1)
    runs = world.json("avatars", "runs", "--limit", "1")["runs"]
    assert len(runs) == 1 and runs[0]["counts"]["uploaded"] == 0


def test_run_events_say_why_each_user_failed(failed_night: tuple[World, str, str]) -> None:
    """`avatars runs --run ID` lists the failed users first, each with reason and message."""
    world, bad_photo, full_quota = failed_night
    run_id = world.json("avatars", "runs")["runs"][0]["run_id"]
    events: list[dict[str, Any]] = world.json("avatars", "runs", "--run", str(run_id))["events"]
    failures = {e["key"]: e for e in events[:2]}
    assert set(failures) == {bad_photo, full_quota}
    assert failures[bad_photo]["reason"] == "invalid_photo" and "not an image" in failures[bad_photo]["message"]
    assert failures[full_quota]["reason"] == "quota" and "quota" in failures[full_quota]["message"]
    assert {e["outcome"] for e in events[2:]} == {"uploaded"}


def test_history_of_a_failed_user_shows_the_failure(failed_night: tuple[World, str, str]) -> None:
    """`avatars history --user KEY` shows the user's failed event with its message, besides the record."""
    world, _, full_quota = failed_night
    document = world.json("avatars", "history", "--user", full_quota)
    assert [(e["outcome"], e["reason"]) for e in document["events"]] == [("failed", "quota")]
    assert document["records"][0]["last_error"]


def test_history_shows_when_a_photo_last_changed(world: World) -> None:
    """After a changed photo is synced, the user's events read changed then new, newest first."""
    key = sorted(p.stem for p in world.photos.iterdir())[3]
    world.cli("avatars", "sync")
    world.write_photo(key, variant=1)
    world.cli("avatars", "sync")
    document = world.json("avatars", "history", "--user", key)
    assert [(e["outcome"], e["reason"]) for e in document["events"]] == [("uploaded", "changed"), ("uploaded", "new")]
    assert document["records"][0]["synced_at"] == document["events"][0]["at"]


def test_history_table_shows_run_events(failed_night: tuple[World, str, str]) -> None:
    """The history table for one user has a run events section with the failure message."""
    world, bad_photo, _ = failed_night
    output = world.cli("avatars", "history", "--user", bad_photo).stdout
    assert "run events (1):" in output and "invalid_photo" in output and "not an image" in output


def test_runs_before_any_sync_says_so(world: World) -> None:
    """With no run recorded, `avatars runs` says how to make one."""
    assert "no runs recorded yet" in world.cli("avatars", "runs").stdout


def test_a_sync_forgets_runs_older_than_the_kept_days(world: World) -> None:
    """With PROFILESYNC_KEEP_RUNS_DAYS=30, a sync forgets the run of 40 days ago and its events, keeps the one of
    20 days ago; `avatars runs` lists the rest as before, and the users' sync records are all still there."""
    store = open_store(world.database_url)
    now = datetime.now(timezone.utc)
    old, recent = (store.start_run("canvas:old", "avatars sync", now - timedelta(days=d)) for d in (40, 20))
    for run_id in (old, recent):
        store.log_event(RunEvent(run_id, "S-GONE", None, "failed", "quota", "full", now - timedelta(days=40)))
        store.finish_run(run_id, now - timedelta(days=19), {"failed": 1}, 1)
    store.close()
    world.extra_env["PROFILESYNC_KEEP_RUNS_DAYS"] = "30"
    world.cli("avatars", "sync")
    runs = world.json("avatars", "runs")["runs"]
    assert [r["run_id"] for r in runs][1:] == [recent] and runs[0]["counts"]["uploaded"] > 0
    assert world.json("avatars", "runs", "--run", str(old))["events"] == []
    synced = {r["key"] for r in world.json("avatars", "history")["records"]}
    assert synced == {p.stem for p in world.photos.iterdir()}
