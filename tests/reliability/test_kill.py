"""``kill -9`` at the worst moments of a large run, then run again: fully synced, nothing duplicated or lost.

The CLI runs as a real subprocess; the sandbox's kill failpoint (``sb.faults.kill_on``) sends it SIGKILL when
the chosen request arrives (``before``: never handled) or once it took effect (``after``: the answer is never
read). No test hook exists in profilesync itself.
"""

from __future__ import annotations

import random
import signal
from dataclasses import dataclass
from typing import Literal

import pytest

from .conftest import MakeWorld, Spawn
from .helpers import assert_all_synced, assert_no_duplicates, expected_keys, history, profile_pictures

USERS = 150


@dataclass(frozen=True)
class Point:
    host: str
    method: str
    path: str
    when: Literal["before", "after"]
    upload_mode: str


POINTS = {
    # the preflight arrives and the process dies: nothing was prepared for that user
    "before-preflight": Point("canvas", "POST", r"^/api/v1/users/self/files$", "before", "instfs"),
    # inst-fs stored the file (it is in "profile pictures"), the avatar was never set
    "after-upload": Point("upload", "POST", r"^/files$", "after", "instfs"),
    # local storage: the one-shot confirm happened, the client never heard
    "after-confirm": Point("canvas", "POST", r"^/api/v1/files/\d+/create_success$", "after", "local"),
    # the file is among the avatar options, the PUT never ran
    "before-put": Point("canvas", "PUT", r"^/api/v1/users/\d+$", "before", "instfs"),
    # the avatar is set on Canvas, the history write never happened
    "before-history-write": Point("canvas", "PUT", r"^/api/v1/users/\d+$", "after", "local"),
}


@pytest.mark.parametrize("name", list(POINTS))
def test_kill_at_any_point_is_repaired_by_the_next_run(make: MakeWorld, spawn: Spawn, name: str) -> None:
    """After kill -9 at a random request of one kind, the next run finishes the job: no duplicate, no lost record."""
    point = POINTS[name]
    world = make(users=USERS, upload_mode=point.upload_mode, thumbnail_lag_s=0.05, latency_ms=2)
    keys = expected_keys(world)
    nth = random.Random(name).randint(len(keys) // 3, len(keys) * 2 // 3)  # reproducible, different per point
    process = spawn(world, "avatars", "sync", "--format", "json")
    kill = world.sandbox.faults.kill_on(
        point.method, point.path, process.pid, when=point.when, nth=nth, host=point.host
    )
    out, err = process.communicate(timeout=120)
    assert kill.fired.is_set(), f"the run ended before request {nth}: {err}"
    assert process.returncode == -signal.SIGKILL, (process.returncode, err)
    assert out == ""  # killed before it could report anything

    before = {key: r for key, r in history(world).items() if r["synced_at"]}
    assert 0 < len(before) < len(keys)
    # The kill left work half done: files uploaded for users the history does not call synced...
    half_done = [u for u in world.students() if profile_pictures(world, u.id) and u.sis_user_id not in before]
    assert half_done or name == "before-preflight"
    if name == "before-history-write":  # ...down to an avatar set on Canvas that the history never heard of
        assert any(u.avatar_url and "/images/thumbnails/" in u.avatar_url for u in half_done)
    # The killed run's lock (same host, pid gone) must not block this run: it would exit 5.
    second = world.json("avatars", "sync")
    assert second["failures"] == []
    assert second["counts"]["uploaded"] == len(keys) - len(before)  # what was verified is never redone
    assert_all_synced(world, keys)
    assert_no_duplicates(world)
    after = history(world)
    for key, record in before.items():  # nothing recorded before the kill was lost
        assert after[key]["file_id"] == record["file_id"] and after[key]["synced_at"] == record["synced_at"], key
