"""Uploads as real Canvas does them: a throttling upload host, lagging thumbnails, the alternating file names,
two "profile pictures" folders, and our own uploads under ``respect`` with a new history.

Each test runs the real CLI against the sandbox over loopback and checks the sandbox's own truth.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from profilesync.targets.canvas import avatars
from profilesync_sandbox.samples import make_portrait
from support.world import MakeWorld, World, world_maker

OURS = {"profilesync-avatar.jpg", "profilesync-avatar-b.jpg"}


@pytest.fixture
def make(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MakeWorld]:
    """``make(users=40, upload_throttle=True, ...)``: a started sandbox with photos for 5/6 of its students."""
    with world_maker(tmp_path, monkeypatch) as build:
        yield build


def keys_with_photos(world: World) -> list[str]:
    stems = {p.stem for p in world.photos.iterdir()}
    return sorted(stems & {u.sis_user_id for u in world.students() if u.sis_user_id})


def shown_file(world: World, key: str) -> Any:
    """The file the user's avatar shows (None when the avatar is blank or not a file)."""
    user = world.user(key)
    files = world.sandbox.state.files(user.id)
    return next((f for f in files if f"/images/thumbnails/{f.id}/" in (user.avatar_url or "")), None)


def our_files(world: World, key: str) -> list[Any]:
    return [f for f in world.sandbox.state.files(world.user(key).id) if f.display_name in OURS]


def assert_synced(world: World, keys: list[str]) -> None:
    for key in keys:
        shown = shown_file(world, key)
        assert shown is not None and shown.display_name in OURS, f"{key} shows {world.user(key).avatar_url}"
        assert len(our_files(world, key)) <= 2, key


@pytest.mark.parametrize(
    ("upload_mode", "status"),
    [("local", 403), ("instfs", 429), ("instfs", 503)],
    ids=["local-403", "instfs-429", "instfs-503"],
)
def test_throttling_upload_host_fails_nobody(make: MakeWorld, upload_mode: str, status: int) -> None:
    """An upload host that refuses any second upload at a time (Canvas's 403 on /files_api, inst-fs's
    429/503 with Retry-After) fails no user: every one is synced, each with one file."""
    world = make(
        users=40,
        upload_mode=upload_mode,
        upload_throttle=True,
        upload_hwm=90.0,  # 50 reserved per upload in flight: a second one at once is refused
        upload_throttle_status=429 if status == 403 else status,
        latency_ms=30,
    )
    result = world.json("avatars", "sync", "--workers", "12")
    keys = keys_with_photos(world)
    assert result["failures"] == [] and result["counts"]["uploaded"] == len(keys)
    refused = Counter(r.status for r in world.sandbox.state.requests("upload") if r.status >= 400)
    assert refused[status] > 0 and set(refused) == {status}, refused  # the throttle really bit
    assert_synced(world, keys)
    for key in keys:
        assert len(our_files(world, key)) == 1, key


def test_lagging_thumbnail_keeps_the_old_picture_and_the_next_run_sets_the_new(
    make: MakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A thumbnail slower than the client's poll never blanks an avatar: the user keeps the previous picture,
    the run says so (thumbnail_pending), a run while it still lags uploads nothing again, and the first run
    after it is ready sets the uploaded file with no new upload."""
    monkeypatch.setattr(avatars, "THUMBNAIL_POLL_DELAYS_S", (0.0, 0.05, 0.05))
    world = make(users=24, thumbnail_lag_s=3600.0)
    keys = keys_with_photos(world)
    state = world.sandbox.state

    first = world.json("avatars", "sync", expect=1)  # nothing could be shown yet
    assert {f["reason"] for f in first["failures"]} == {"thumbnail_pending"}
    assert all(not world.user(k).avatar_url for k in keys)  # blank before, still blank: nothing taken away
    state.reset_counts()
    waiting = world.json("avatars", "sync", expect=1)  # still no thumbnail: wait for it, upload nothing new
    assert {f["reason"] for f in waiting["failures"]} == {"thumbnail_pending"} and world.upload_requests() == 0
    state.advance_clock(3601)
    plan = world.json("avatars", "plan")
    assert {(a["action"], a["reason"]) for a in plan["actions"] if a["key"] in keys} == {("reassign", "unfinished")}
    state.reset_counts()
    second = world.json("avatars", "sync")
    assert second["counts"]["reassigned"] == len(keys) and world.upload_requests() == 0
    assert_synced(world, keys)

    # A new photo while thumbnails lag again: the old picture stays on display the whole time.
    key = keys[0]
    before = shown_file(world, key)
    world.write_photo(key, variant=4)
    third = world.json("avatars", "sync", expect=1)
    assert [(f["key"], f["reason"]) for f in third["failures"]] == [(key, "thumbnail_pending")]
    assert shown_file(world, key) == before  # never blank, still the previous picture
    state.advance_clock(3601)
    state.reset_counts()
    fourth = world.json("avatars", "sync")
    assert fourth["counts"]["reassigned"] == 1 and world.upload_requests() == 0
    now_shown = shown_file(world, key)
    assert now_shown is not None and now_shown.id != before.id
    assert sorted(f.display_name for f in our_files(world, key)) == sorted(OURS)


def test_many_syncs_keep_two_files_and_never_blank(make: MakeWorld) -> None:
    """Five photo changes in a row: each sync shows the newest photo, the user never shows a blank avatar
    after the first sync, and at most two files of ours ever exist (the two names, in turn)."""
    world = make(users=12, upload_mode="local", thumbnail_lag_s=0.2)
    key = keys_with_photos(world)[0]
    world.cli("avatars", "sync")
    for variant in range(1, 6):
        previous = shown_file(world, key)
        world.write_photo(key, variant=variant)
        world.cli("avatars", "sync")
        shown = shown_file(world, key)
        assert shown is not None and previous is not None and shown.id > previous.id
        assert shown.display_name != previous.display_name  # the file shown was never the one overwritten
        assert len(our_files(world, key)) == 2
    deleted = [f for f in world.sandbox.state.files(world.user(key).id, include_deleted=True) if f.state == "deleted"]
    assert len(deleted) == 4  # each overwrite replaced the file not on display


def test_users_synced_under_the_single_old_name_migrate(make: MakeWorld) -> None:
    """A history written before the two names (no file_name) over users showing ``profilesync-avatar.jpg``:
    a changed photo goes to the other name beside the shown file, the next to the old name again."""
    world = make(users=12)
    key = keys_with_photos(world)[1]
    world.cli("avatars", "sync")
    with sqlite3.connect(world.database_url.removeprefix("sqlite:///")) as db:
        db.execute("UPDATE sync_records SET file_name = NULL")  # as the previous release left it
    old = shown_file(world, key)
    assert old is not None and old.display_name == "profilesync-avatar.jpg"
    world.write_photo(key, variant=1)
    world.cli("avatars", "sync")
    assert shown_file(world, key).display_name == "profilesync-avatar-b.jpg"
    assert {f.id for f in our_files(world, key)} >= {old.id}  # the old picture was never deleted early
    world.write_photo(key, variant=2)
    world.cli("avatars", "sync")
    assert shown_file(world, key).display_name == "profilesync-avatar.jpg"
    assert len(our_files(world, key)) == 2


def test_respect_with_a_new_database_freezes_nobody(make: MakeWorld) -> None:
    """Under respect with a new, empty history over a school synced earlier: our earlier uploads are
    recognised by name, so everyone gets their photo again — except a user who picked a picture themself."""
    world = make(users=30)
    keys = keys_with_photos(world)
    world.cli("avatars", "sync")
    chooser = keys[2]
    world.sandbox.state.user_sets_own_avatar(world.user(chooser).id, make_portrait("cat", variant=9))
    theirs = world.user(chooser).avatar_url
    world.database_url = f"sqlite:///{world.photos.parent / 'new-history.sqlite3'}"
    world.extra_env["PROFILESYNC_POLICY"] = "respect"

    plan = world.json("avatars", "plan")
    reasons = {a["key"]: a["reason"] for a in plan["actions"] if a["key"] in keys}
    assert reasons[chooser] == "user_choice"
    assert {r for k, r in reasons.items() if k != chooser} == {"new"}
    result = world.json("avatars", "sync")
    assert result["counts"]["uploaded"] == len(keys) - 1 and result["failures"] == []
    assert world.user(chooser).avatar_url == theirs
    assert_synced(world, [k for k in keys if k != chooser])
    for key in keys:
        if key != chooser:
            assert len(our_files(world, key)) == 2, key  # uploaded beside the shown file, not over it
    world.sandbox.state.reset_counts()
    again = world.json("avatars", "sync")  # the history now knows them: only the chooser is looked at again
    assert again["counts"]["uploaded"] == 0
    assert world.sandbox.state.counts()["GET /api/v1/users/:user_id/avatars"] == 1


def test_two_profile_pictures_folders_still_sync(make: MakeWorld) -> None:
    """A user whose first "profile pictures" folder is not "my files/profile pictures" (Canvas takes avatars
    from the first one anywhere) still gets the photo: it is put into the folder Canvas looks in."""
    world = make(users=20)
    keys = keys_with_photos(world)
    odd = keys[:3]
    for key in odd:
        world.sandbox.state.add_second_profile_pictures_folder(world.user(key).id)
    result = world.json("avatars", "sync")
    assert result["failures"] == [] and result["counts"]["uploaded"] == len(keys)
    assert_synced(world, keys)
    for key in odd:
        assert shown_file(world, key).folder == "my files/Old Files/profile pictures"


def test_an_empty_second_profile_pictures_folder_is_a_clear_failure(
    make: MakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the folder Canvas takes avatars from holds no image, nothing tells which folder it is: the user
    fails alone (profile_folders) with a message naming both folders and what to delete; the rest sync."""
    monkeypatch.setattr(avatars, "THUMBNAIL_POLL_DELAYS_S", (0.0, 0.05, 0.05))
    world = make(users=12)
    keys = keys_with_photos(world)
    odd = keys[0]
    world.sandbox.state.add_second_profile_pictures_folder(world.user(odd).id, empty=True)
    result = world.json("avatars", "sync", expect=1)
    (failure,) = result["failures"]
    assert failure["key"] == odd and failure["reason"] == "profile_folders"
    assert "'my files/profile pictures'" in failure["message"]
    assert "'my files/Old Files/profile pictures'" in failure["message"] and "delete or rename" in failure["message"]
    assert not world.user(odd).avatar_url  # nothing was taken away
    assert_synced(world, keys[1:])
