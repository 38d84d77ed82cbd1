"""The "far more than usual" valve counts what is surprising, says what it counted, and ``plan`` and
``sync --dry-run`` predict it."""

from __future__ import annotations

import shutil
from pathlib import Path

from profilesync_sandbox.samples import make_portrait
from support.world import World

from .conftest import MakeWorld
from .helpers import assert_all_synced, expected_keys

USERS = 300


def _hold_back(world: World, keep: int, aside: Path) -> None:
    """Move all but ``keep`` photos out of the folder (a first sync that got only so far)."""
    aside.mkdir()
    for photo in sorted(world.photos.iterdir())[keep:]:
        shutil.move(photo, aside / photo.name)


def test_finishing_a_first_sync_is_routine(make: MakeWorld, tmp_path: Path) -> None:
    """With 30 users synced, 200+ new users to upload is not surprising: plan predicts no stop, the sync runs."""
    world = make(users=USERS)
    _hold_back(world, 30, tmp_path / "aside")
    world.cli("avatars", "sync")
    for photo in (tmp_path / "aside").iterdir():
        shutil.move(photo, world.photos / photo.name)

    plan = world.json("avatars", "plan")
    assert plan["counts"]["upload"] > 150  # more than half of the 300 users: the old rule stopped here
    assert plan["safety_valve"]["would_trip"] is False
    assert plan["safety_valve"]["counted"] == {"changed": 0, "avatar_changed": 0, "rekeyed": 0}
    assert "warning" not in world.cli("avatars", "plan").stdout
    synced = world.json("avatars", "sync")
    assert synced["exit_code"] == 0 and synced["counts"]["uploaded"] == plan["counts"]["upload"]
    assert_all_synced(world, expected_keys(world))


def test_changed_photos_are_predicted_by_plan_and_dry_run_and_stop_the_sync(make: MakeWorld) -> None:
    """Every photo of a synced school changing: plan (JSON field, table warning) and --dry-run say the sync would
    stop; the sync exits 4 naming what it counted; --force goes ahead."""
    world = make(users=USERS)
    world.cli("avatars", "sync")
    keys = expected_keys(world)
    for photo in world.photos.iterdir():
        photo.write_bytes(make_portrait(photo.stem, variant=3, size=120))

    valve = world.json("avatars", "plan")["safety_valve"]
    assert valve["would_trip"] is True and valve["rule"] == "far_more_than_usual"
    assert valve["counted"]["changed"] == len(keys) == valve["total"] and valve["limit"] == 150
    assert "photos changed for users already synced" in valve["message"]
    assert world.json("avatars", "sync", "--dry-run")["safety_valve"]["would_trip"] is True
    table = world.cli("avatars", "plan").stdout
    assert f"warning: the sync would stop here (exit 4): the plan would make {len(keys)} changes" in table
    assert world.json("avatars", "sync", "--dry-run", "--force")["safety_valve"]["would_trip"] is False

    stopped = world.json("avatars", "sync", expect=4)
    assert f"photos changed for users already synced {len(keys)}" in stopped["error"]
    assert world.json("avatars", "sync", "--force")["counts"]["uploaded"] == len(keys)


def test_users_known_under_another_key_count_as_surprising(make: MakeWorld) -> None:
    """Switching PROFILESYNC_MATCH (photos renamed to login ids) makes every user "new" to the history, though it
    synced them all under their SIS ids: the valve counts them as re-keyed and stops the sync."""
    world = make(users=USERS)
    world.cli("avatars", "sync")
    keys = expected_keys(world)
    for key in keys:
        login = world.user(key).login_id
        assert login
        (world.photos / f"{key}.jpg").rename(world.photos / f"{login}.jpg")
    world.extra_env["PROFILESYNC_MATCH"] = "login_id"

    valve = world.json("avatars", "plan")["safety_valve"]
    assert valve["would_trip"] is True and valve["counted"]["rekeyed"] == len(keys)
    stopped = world.json("avatars", "sync", expect=4)
    assert f"users the history knows under another key {len(keys)}" in stopped["error"]
