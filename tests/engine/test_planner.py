"""The decision table of docs/design.md §4, row by row, without any I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from profilesync.engine.model import (
    Action,
    Photo,
    PhotoSet,
    Policy,
    Reason,
    RemoteUser,
    SyncRecord,
)
from profilesync.engine.planner import decide, plan

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
MAX_AGE = timedelta(days=30)
OURS = "attachment:501/uuid-501"


def user(
    key: str | None = "S1", avatar_ref: str | None = None, user_id: str = "1001", active: bool = True
) -> RemoteUser:
    return RemoteUser(user_id=user_id, key=key, name="Ada Lovelace", avatar_ref=avatar_ref, active=active)


def photo(key: str = "S1", sha: str = "aaa", problem: str | None = None) -> Photo:
    return Photo.at(key, Path(f"/photos/{key}.jpg"), sha, problem)


def record(
    key: str = "S1",
    sha: str = "aaa",
    ref: str | None = OURS,
    age_days: float = 1,
    user_id: str = "1001",
    synced: bool = True,
) -> SyncRecord:
    return SyncRecord(
        target_id="canvas:x",
        key=key,
        user_id=user_id,
        photo_sha256=sha if synced else None,
        file_id="501",
        file_uuid="uuid-501",
        avatar_url="https://x/images/thumbnails/501/uuid-501",
        avatar_ref=ref if synced else None,
        synced_at=NOW - timedelta(days=age_days) if synced else None,
    )


def photos(*items: Photo, ambiguous: dict[str, tuple[Path, ...]] | None = None) -> PhotoSet:
    return PhotoSet(photos={p.key: p for p in items}, ambiguous=ambiguous or {})


def run(
    u: RemoteUser,
    ps: PhotoSet,
    recs: dict[str, SyncRecord],
    policy: Policy = Policy.ENFORCE,
    max_age: timedelta | None = MAX_AGE,
) -> tuple[Action, Reason]:
    planned = decide(u, ps, recs, now=NOW, policy=policy, max_age=max_age)
    return planned.action, planned.reason


def test_user_without_key_is_skipped() -> None:
    """A user with no SIS ID is skip/no_key."""
    assert run(user(key=None), photos(photo()), {}) == (Action.SKIP, Reason.NO_KEY)


def test_user_without_photo_is_skipped() -> None:
    """No photo named K is skip/no_photo."""
    assert run(user(), photos(photo("S2")), {}) == (Action.SKIP, Reason.NO_PHOTO)


def test_two_photos_for_one_key_is_an_error() -> None:
    """K.jpg and K.png is error/ambiguous_photo."""
    ps = photos(ambiguous={"S1": (Path("S1.jpg"), Path("S1.png"))})
    assert run(user(), ps, {}) == (Action.ERROR, Reason.AMBIGUOUS_PHOTO)


def test_invalid_photo_is_an_error_and_leaves_the_avatar_alone() -> None:
    """An undecodable photo is error/invalid_photo even when the history says it is stale."""
    recs = {"S1": record(age_days=90)}
    assert run(user(avatar_ref=OURS), photos(photo(problem="not an image")), recs) == (
        Action.ERROR,
        Reason.INVALID_PHOTO,
    )


def test_no_history_uploads_new() -> None:
    """No history for the user is upload/new."""
    assert run(user(), photos(photo()), {}) == (Action.UPLOAD, Reason.NEW)


def test_failed_only_history_uploads_new() -> None:
    """A record that only holds an earlier failure counts as no history."""
    assert run(user(), photos(photo()), {"S1": record(synced=False)}) == (Action.UPLOAD, Reason.NEW)


def test_history_of_another_account_uploads_new() -> None:
    """A key that moved to another Canvas user is new for that user."""
    recs = {"S1": record(user_id="999")}
    assert run(user(avatar_ref=None), photos(photo()), recs) == (Action.UPLOAD, Reason.NEW)


def test_changed_content_uploads_changed() -> None:
    """A photo whose SHA-256 differs from the synced one is upload/changed."""
    assert run(user(avatar_ref=OURS), photos(photo(sha="bbb")), {"S1": record()}) == (
        Action.UPLOAD,
        Reason.CHANGED,
    )


def test_old_sync_uploads_stale() -> None:
    """A sync older than the max age is upload/stale."""
    assert run(user(avatar_ref=OURS), photos(photo()), {"S1": record(age_days=31)}) == (
        Action.UPLOAD,
        Reason.STALE,
    )


def test_max_age_zero_never_goes_stale() -> None:
    """max age disabled (0 days → None) never re-uploads an unchanged photo."""
    got = run(user(avatar_ref=OURS), photos(photo()), {"S1": record(age_days=3000)}, max_age=None)
    assert got == (Action.SKIP, Reason.UNCHANGED)


def test_target_showing_our_avatar_is_unchanged() -> None:
    """The avatar we set, same photo, recent sync: skip/unchanged."""
    assert run(user(avatar_ref=OURS), photos(photo()), {"S1": record()}) == (Action.SKIP, Reason.UNCHANGED)


def test_replaced_avatar_is_reassigned_under_enforce() -> None:
    """Another avatar under policy enforce is reassign/avatar_changed."""
    got = run(user(avatar_ref="attachment:777/theirs"), photos(photo()), {"S1": record()})
    assert got == (Action.REASSIGN, Reason.AVATAR_CHANGED)


def test_removed_avatar_is_reassigned_under_enforce() -> None:
    """A user back on the default avatar under enforce gets ours back."""
    assert run(user(avatar_ref=None), photos(photo()), {"S1": record()}) == (
        Action.REASSIGN,
        Reason.AVATAR_CHANGED,
    )


def test_replaced_avatar_is_left_under_respect() -> None:
    """Another avatar under policy respect is skip/user_choice."""
    got = run(user(avatar_ref="attachment:777/theirs"), photos(photo()), {"S1": record()}, Policy.RESPECT)
    assert got == (Action.SKIP, Reason.USER_CHOICE)


def test_respect_wins_over_a_new_school_photo() -> None:
    """Under respect, a user's own avatar is kept even when the school photo changed or went stale."""
    recs = {"S1": record(age_days=90)}
    got = run(user(avatar_ref="https://gravatar/x"), photos(photo(sha="new")), recs, Policy.RESPECT)
    assert got == (Action.SKIP, Reason.USER_CHOICE)


def test_respect_uploads_to_users_with_the_default_avatar() -> None:
    """Under respect, a never-synced user showing the default silhouette still gets the photo."""
    assert run(user(avatar_ref=None), photos(photo()), {}, Policy.RESPECT) == (Action.UPLOAD, Reason.NEW)


def test_respect_still_updates_users_showing_our_avatar() -> None:
    """Under respect, a changed photo replaces the avatar we set ourselves."""
    got = run(user(avatar_ref=OURS), photos(photo(sha="new")), {"S1": record()}, Policy.RESPECT)
    assert got == (Action.UPLOAD, Reason.CHANGED)


def test_inactive_member_is_skipped() -> None:
    """A member the target marks inactive is skip/inactive."""
    assert run(user(active=False), photos(photo()), {}) == (Action.SKIP, Reason.INACTIVE)


def test_unmatched_photos_are_reported_not_acted_on() -> None:
    """Photos naming no user appear in unmatched_photos and in no action."""
    result = plan(
        [user()],
        photos(photo(), photo("GHOST")),
        {},
        target_id="t",
        now=NOW,
        policy=Policy.ENFORCE,
        max_age=MAX_AGE,
    )
    assert [p.key for p in result.unmatched_photos] == ["GHOST"]
    assert [a.key for a in result.actions] == ["S1"]


keys = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=6)


@given(
    entries=st.dictionaries(keys, st.tuples(st.sampled_from(["aaa", "bbb"]), st.integers(0, 29)), max_size=30),
    policy=st.sampled_from(list(Policy)),
)
def test_second_run_with_no_change_plans_no_upload(entries: dict[str, tuple[str, int]], policy: Policy) -> None:
    """After a verified sync of every user, an unchanged world plans no upload and no reassign."""
    users, recs, ps = [], {}, []
    for index, (key, (sha, age)) in enumerate(sorted(entries.items())):
        ref = f"attachment:{index}/u{index}"
        users.append(user(key=key, avatar_ref=ref, user_id=str(index)))
        recs[key] = SyncRecord(
            "t", key, str(index), sha, str(index), f"u{index}", "url", ref, NOW - timedelta(days=age)
        )
        ps.append(photo(key, sha))
    result = plan(users, photos(*ps), recs, target_id="t", now=NOW, policy=policy, max_age=MAX_AGE)
    assert result.pending() == []
    assert all(a.reason is Reason.UNCHANGED for a in result.actions)
