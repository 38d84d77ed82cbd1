"""Locked avatars end to end (README "Locked avatars", docs/canvas.md §18): the real CLI against the sandbox with
PROFILESYNC_LOCK_AVATARS, the student's own change refused, a new photo still set, and the option off as before."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from profilesync_sandbox import SandboxConfig
from profilesync_sandbox.samples import make_portrait
from support.world import World, make_world

from .test_avatars_sync import expected_keys

USERS = 40
PUT_USER = "PUT /api/v1/users/:id"


@pytest.fixture
def small_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    yield from make_world(tmp_path, monkeypatch, SandboxConfig(users=USERS, request_cost=0.05))


def locking(world: World, on: bool = True) -> None:
    world.extra_env["PROFILESYNC_LOCK_AVATARS"] = "true" if on else "false"


def shows_our_file(world: World, key: str) -> bool:
    user = world.user(key)
    files = world.sandbox.state.files(user.id)
    return bool(user.avatar_url) and any(f"/images/thumbnails/{f.id}/{f.uuid}" in str(user.avatar_url) for f in files)


def test_sync_with_locking_sets_and_locks_and_the_student_cannot_replace_it(small_world: World) -> None:
    """Each avatar is set and locked (two PUTs the first time); the student's own PUT is a 200 that changes
    nothing; a new school photo still goes through, locked, with one PUT; a steady night costs only the listing."""
    world = small_world
    locking(world)
    keys = sorted(expected_keys(world))
    result = world.json("avatars", "sync")
    assert result["counts"]["uploaded"] == len(keys) and result["counts"]["failed"] == 0
    assert all(world.user(k).avatar_state == "locked" and shows_our_file(world, k) for k in keys)
    assert world.sandbox.state.counts()[PUT_USER] == 2 * len(keys)  # the lock, then the token

    key = keys[3]
    user = world.user(key)
    shown = user.avatar_url
    student = world.sandbox.token_for(user.id)
    own = f"{world.sandbox.base_url}/api/v1/users/{user.id}"
    session = requests.Session()  # the student's own client, not profilesync's
    session.headers["Authorization"] = f"Bearer {student}"
    world.sandbox.state.user_sets_own_avatar(user.id, make_portrait("selfie", size=200))  # via the UI: ignored
    options = session.get(f"{own}/avatars").json()
    selfie = next(o for o in options if o["type"] == "attachment" and o["display_name"].startswith("my photo"))
    answer = session.put(own, data={"user[avatar][token]": selfie["token"]})
    assert answer.status_code == 200 and answer.json()["avatar_url"] == shown
    assert world.user(key).avatar_url == shown and world.user(key).avatar_state == "locked"

    world.write_photo(key, variant=1)
    world.sandbox.state.reset_counts()
    again = world.json("avatars", "sync")
    assert again["counts"]["uploaded"] == 1 and again["counts"]["failed"] == 0
    assert world.user(key).avatar_url != shown and shows_our_file(world, key)
    assert world.user(key).avatar_state == "locked"
    assert world.sandbox.state.counts()[PUT_USER] == 1  # the history knew it was locked: the token alone

    world.sandbox.state.reset_counts()
    steady = world.json("avatars", "sync")
    assert steady["counts"]["uploaded"] == 0 and steady["counts"]["reassigned"] == 0
    assert world.api_requests() <= math.ceil(len(world.sandbox.state.users()) / 100) + 2


def test_turning_locking_on_locks_synced_users_once(small_world: World) -> None:
    """Off: nothing is locked, no state is sent. Turned on: one reassign/lock per synced user, then nothing."""
    world = small_world
    keys = sorted(expected_keys(world))
    world.json("avatars", "sync")
    assert not any(world.user(k).avatar_state == "locked" for k in keys)
    assert world.sandbox.state.counts()[PUT_USER] == len(keys)  # the token alone, as before the option

    locking(world)
    plan = world.json("avatars", "plan")
    assert {(a["action"], a["reason"]) for a in plan["actions"] if a["key"] in keys} == {("reassign", "lock")}
    result = world.json("avatars", "sync")
    assert result["counts"]["reassigned"] == len(keys) and result["counts"]["failed"] == 0
    assert all(world.user(k).avatar_state == "locked" and shows_our_file(world, k) for k in keys)

    world.sandbox.state.reset_counts()
    steady = world.json("avatars", "sync")
    assert steady["counts"]["reassigned"] == 0 and steady["counts"]["unchanged"] == len(keys)
    assert world.sandbox.state.counts()[PUT_USER] == 0

    locking(world, on=False)  # turning it off unlocks nobody (README): the admin unlocks in Canvas
    world.json("avatars", "sync")
    assert all(world.user(k).avatar_state == "locked" for k in keys)


def test_respect_leaves_a_students_own_picture_unlocked(small_world: World) -> None:
    """Under respect a picture the student chose before the sync is skipped (user_choice) and not locked."""
    world = small_world
    world.extra_env["PROFILESYNC_POLICY"] = "respect"
    locking(world)
    key = sorted(expected_keys(world))[0]
    user = world.user(key)
    world.sandbox.state.user_sets_own_avatar(user.id, make_portrait("selfie", size=200))
    chosen = world.user(key).avatar_url
    result = world.json("avatars", "sync")
    assert result["counts"]["failed"] == 0
    assert world.user(key).avatar_url == chosen and world.user(key).avatar_state != "locked"


def test_respect_repairs_a_user_left_on_the_silhouette_by_a_failed_lock(small_world: World) -> None:
    """Locking turned on under respect: the lock PUT clears the picture before our token follows. If the token
    PUT then fails, that user fails alone (exit 1), and the next run sets the avatar back, locked, instead of
    reading the silhouette as the user's choice."""
    world = small_world
    world.extra_env["PROFILESYNC_POLICY"] = "respect"
    keys = sorted(expected_keys(world))
    world.json("avatars", "sync")
    locking(world)
    key = keys[0]
    user_id = world.user(key).id
    # the lock goes through, the token after it is refused
    world.sandbox.faults.fail_next("PUT", rf"/api/v1/users/{user_id}$", 422, skip=1)
    failed = world.json("avatars", "sync", "--user", key, expect=1)
    assert failed["counts"]["failed"] == 1
    assert world.user(key).avatar_state == "locked" and not shows_our_file(world, key)  # cleared: the silhouette

    repaired = world.json("avatars", "sync")
    assert repaired["counts"]["failed"] == 0
    assert shows_our_file(world, key) and world.user(key).avatar_state == "locked"
