"""Shared checks for the reliability tests: the sandbox's truth against the history, and the real CLI as a process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from support.world import World

PROFILE_PICTURES = "my files/profile pictures"
# Settings the developer's shell may carry: a subprocess must see only the world's own.
_OWN_PREFIXES = ("CANVAS_", "GURU_", "PROFILESYNC_")


def expected_keys(world: World) -> set[str]:
    """Students that have a photo in the folder (the users a sync must end up setting)."""
    stems = {p.stem for p in world.photos.iterdir()}
    return stems & {u.sis_user_id for u in world.students() if u.sis_user_id}


def history(world: World) -> dict[str, dict[str, Any]]:
    """``avatars history --format json`` by key."""
    return {r["key"]: r for r in world.json("avatars", "history")["records"]}


def profile_pictures(world: World, user_id: int) -> list[Any]:
    return [f for f in world.sandbox.state.files(user_id) if f.folder == PROFILE_PICTURES]


def assert_all_synced(world: World, keys: Iterable[str]) -> None:
    """Each user shows a file of ours in "profile pictures" (at most two there: the alternating names), and
    the history records that very file."""
    records = history(world)
    for key in sorted(keys):
        user = world.user(key)
        files = profile_pictures(world, user.id)
        assert 1 <= len(files) <= 2, f"{key} has {len(files)} files in profile pictures"
        file = next((f for f in files if f"/images/thumbnails/{f.id}/" in (user.avatar_url or "")), files[-1])
        assert user.avatar_url and f"/images/thumbnails/{file.id}/{file.uuid}" in user.avatar_url, key
        record = records.get(key)
        assert record is not None and record["synced_at"], f"{key} is missing from the history"
        assert record["file_id"] == str(file.id) and record["avatar_url"] == user.avatar_url, key


def assert_history_is_true(world: World) -> None:
    """Every synced record names the file its user shows and the URL we set: the history never lies."""
    for key, record in history(world).items():
        if not record["synced_at"]:
            continue
        user = world.user(key)
        assert record["avatar_url"] == user.avatar_url, key
        assert f"/images/thumbnails/{record['file_id']}/" in (user.avatar_url or ""), key


def assert_no_duplicates(world: World) -> None:
    """No user has more than two files in "profile pictures" (two alternating names, each overwritten)."""
    for user in world.students():
        files = profile_pictures(world, user.id)
        assert len(files) <= 2 and len({f.display_name for f in files}) == len(files), user.sis_user_id


def cli_env(world: World, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OWN_PREFIXES)}
    return {**env, **world.env(), **extra}


def spawn(world: World, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """The real CLI as a separate process (``python -m profilesync.cli ARGS``), output captured."""
    return subprocess.Popen(
        [sys.executable, "-m", "profilesync.cli", *args],
        env=env or cli_env(world),
        cwd=world.photos.parent,  # no stray .env: the tmp dir holds none
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until(condition: Callable[[], bool], timeout: float = 30.0, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def db_bytes(world: World) -> bytes:
    """The raw bytes of the SQLite history and its WAL/SHM companions."""
    path = Path(world.database_url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
