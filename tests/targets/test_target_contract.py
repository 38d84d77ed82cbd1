"""The contract every ``AvatarTarget`` keeps (vdirsyncer's StorageTests idea): one suite, run for each target
against its sandbox. The engine relies on exactly these behaviours and nothing vendor-specific."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from profilesync.engine.model import RemoteUser, SyncRecord, Uploaded
from profilesync.errors import RemoteError

from .conftest import Harness, image


def record_of(harness: Harness, user: RemoteUser, uploaded: Uploaded) -> SyncRecord:
    """What the executor writes to the history after a verified upload."""
    assert user.key is not None
    return SyncRecord(
        target_id=harness.target.target_id,
        key=user.key,
        user_id=user.user_id,
        photo_sha256="0" * 64,
        file_id=uploaded.file_id,
        file_uuid=uploaded.file_uuid,
        avatar_url=uploaded.avatar_url,
        avatar_ref=uploaded.avatar_ref,
        synced_at=datetime.now(UTC),
    )


def some_user(harness: Harness, index: int = 0) -> RemoteUser:
    user = harness.target.find_user(harness.keys()[index])
    assert user is not None
    return user


def shown(harness: Harness, user: RemoteUser) -> str | None:
    """The avatar_ref the target reports for the user now."""
    again = harness.target.find_user(user.key or "")
    assert again is not None
    return again.avatar_ref


def test_target_id_names_the_instance(harness: Harness) -> None:
    """target_id is '<target>:<instance>', the history's name for it (Canvas: its root account's uuid)."""
    assert harness.target.target_id == f"{harness.name}:{harness.instance}"


def test_list_users_yields_each_user_once_with_folded_keys(harness: Harness) -> None:
    """The listing has every active user's key, each user once."""
    users = list(harness.target.list_users())
    ids = [u.user_id for u in users]
    assert len(ids) == len(set(ids))
    assert set(harness.keys()) <= {u.key for u in users if u.active}


def test_find_user_agrees_with_the_listing(harness: Harness) -> None:
    """find_user(key) returns the user the listing shows for that key, avatar included."""
    listed = {u.key: u for u in harness.target.list_users()}
    for key in harness.keys()[:3]:
        found = harness.target.find_user(key)
        assert found is not None
        assert (found.user_id, found.key, found.avatar_ref, found.active) == (
            listed[key].user_id,
            key,
            listed[key].avatar_ref,
            listed[key].active,
        )


def test_find_user_unknown_key_is_none(harness: Harness) -> None:
    """A key nobody has gives None, not an error."""
    assert harness.target.find_user("nobody-here@example.invalid") is None


def test_avatar_ref_is_stable_across_reads(harness: Harness) -> None:
    """Two listings report the same avatar_ref for every user (nothing changed, nothing to do)."""
    first = {u.user_id: u.avatar_ref for u in harness.target.list_users()}
    second = {u.user_id: u.avatar_ref for u in harness.target.list_users()}
    assert first == second


def test_upload_makes_the_user_show_it(harness: Harness) -> None:
    """After upload_avatar, the listing and the lookup both show the returned avatar_ref."""
    user = some_user(harness)
    uploaded = harness.target.upload_avatar(user, image(user.key or ""))
    assert uploaded.avatar_ref and uploaded.avatar_url and uploaded.file_id
    assert shown(harness, user) == uploaded.avatar_ref
    listed = next(u for u in harness.target.list_users() if u.user_id == user.user_id)
    assert listed.avatar_ref == uploaded.avatar_ref
    assert harness.uploads() == 1


def test_second_upload_replaces_the_first(harness: Harness) -> None:
    """Uploading a new image gives a new avatar_ref, and that is what the user shows."""
    user = some_user(harness, 1)
    first = harness.target.upload_avatar(user, image(user.key or ""))
    second = harness.target.upload_avatar(user, image(user.key or "", variant=1))
    assert second.avatar_ref != first.avatar_ref
    assert shown(harness, user) == second.avatar_ref


def test_reassign_puts_our_avatar_back_without_uploading(harness: Harness) -> None:
    """When the user picked another avatar, reassign_avatar restores ours with no new upload."""
    user = some_user(harness, 2)
    uploaded = harness.target.upload_avatar(user, image(user.key or ""))
    harness.user_picks_own_avatar(user)
    assert shown(harness, user) != uploaded.avatar_ref
    uploads = harness.uploads()
    again = harness.target.reassign_avatar(user, record_of(harness, user, uploaded))
    assert again is not None and again.avatar_ref == uploaded.avatar_ref
    assert shown(harness, user) == uploaded.avatar_ref
    assert harness.uploads() == uploads


def test_reassign_after_our_file_is_gone_returns_none(harness: Harness) -> None:
    """When the target lost our file, reassign_avatar says so (None) so the executor uploads again."""
    user = some_user(harness, 3)
    uploaded = harness.target.upload_avatar(user, image(user.key or ""))
    harness.user_picks_own_avatar(user)
    harness.vendor_loses(uploaded)
    assert harness.target.reassign_avatar(user, record_of(harness, user, uploaded)) is None


def test_reassign_with_no_recorded_file_returns_none(harness: Harness) -> None:
    """A record that names no file cannot be reassigned."""
    user = some_user(harness, 4)
    empty = Uploaded(file_id=None, file_uuid=None, avatar_url="", avatar_ref="")
    assert harness.target.reassign_avatar(user, record_of(harness, user, empty)) is None


def test_upload_for_an_unknown_user_fails_that_user_only(harness: Harness) -> None:
    """A user id the target does not know raises a per-user RemoteError (twice: still not fatal)."""
    ghost = RemoteUser(user_id="999999", key=harness.keys()[0], name="Ghost", avatar_ref=None)
    for _ in range(2):
        with pytest.raises(RemoteError):  # a FatalRemoteError (which would stop the run) is not one
            harness.target.upload_avatar(ghost, image("ghost"))


def test_an_upload_given_the_history_keeps_the_picture_it_replaces(harness: Harness) -> None:
    """upload_avatar with the previous record never destroys the file on display: the earlier avatar can
    still be put back afterwards (Canvas alternates two file names; Guru gives each picture a new URL)."""
    user = some_user(harness, 5)
    first = harness.target.upload_avatar(user, image(user.key or ""))
    now = harness.target.find_user(user.key or "")
    assert now is not None
    second = harness.target.upload_avatar(now, image(user.key or "", variant=1), record_of(harness, now, first))
    assert shown(harness, user) == second.avatar_ref
    back = harness.target.reassign_avatar(user, record_of(harness, user, first))
    assert back is not None and shown(harness, user) == first.avatar_ref


def test_own_avatars_never_claims_a_picture_the_user_chose(harness: Harness) -> None:
    """own_avatars (asked under respect for users the history does not know) never calls a user's own pick
    ours, and names only users it was asked about."""
    user = some_user(harness, 6)
    harness.target.upload_avatar(user, image(user.key or ""))
    harness.user_picks_own_avatar(user)
    picked = harness.target.find_user(user.key or "")
    blank = some_user(harness, 7)
    assert picked is not None and picked.avatar_ref is not None
    assert harness.target.own_avatars([picked, blank]) == set()
