"""The safety valve's count: routine work (new users, the monthly refresh) never counts; changed photos of synced
users, avatars to put back and re-keyed users do; --max-uploads and --force as documented."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from profilesync.engine.model import Action, Photo, Plan, PlannedAction, Reason, RemoteUser, SyncRecord
from profilesync.valve import SAFETY_MIN_UPLOADS, assess, cannot_trip, synced_any

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


def _action(i: int, action: Action, reason: Reason, record: SyncRecord | None = None) -> PlannedAction:
    user = RemoteUser(str(i), f"S{i}", f"User {i}", None)
    return PlannedAction(f"S{i}", user, action, reason, Photo.at(f"S{i}", Path(f"/p/S{i}.jpg"), "sha"), record)


def _record(key: str, user_id: str) -> SyncRecord:
    return SyncRecord("t", key, user_id, "old", "1", "u", "url", "ref", NOW)


def _plan(*groups: tuple[int, Action, Reason]) -> Plan:
    actions, n = [], 0
    for count, action, reason in groups:
        actions += [_action(n + i, action, reason) for i in range(count)]
        n += count
    return Plan("t", tuple(actions))


def no_history() -> Mapping[str, SyncRecord]:
    raise AssertionError("the history was read though the plan did not need it")


def test_new_and_stale_uploads_never_count() -> None:
    """250 new and 40 stale uploads of 300 users: nothing counted, no stop, and the history is never read."""
    plan = _plan(
        (250, Action.UPLOAD, Reason.NEW), (40, Action.UPLOAD, Reason.STALE), (10, Action.SKIP, Reason.UNCHANGED)
    )
    verdict = assess(plan, lambda: {})
    assert verdict.total == 0 and not verdict.trips and verdict.limit == 150
    assert not assess(_plan((90, Action.UPLOAD, Reason.NEW)), no_history).trips


def test_changed_photos_and_put_backs_count_together() -> None:
    """Of 300 users, 100 changed photos and 60 avatars to put back (160 > 150) trip the valve; naming both."""
    plan = _plan(
        (100, Action.UPLOAD, Reason.CHANGED),
        (60, Action.REASSIGN, Reason.AVATAR_CHANGED),
        (140, Action.SKIP, Reason.UNCHANGED),
    )
    verdict = assess(plan, no_history)
    assert verdict.counted == {"changed": 100, "avatar_changed": 60, "rekeyed": 0} and verdict.trips
    assert "photos changed for users already synced 100" in verdict.message()
    assert "avatars to put back 60" in verdict.message()
    assert not assess(plan, no_history, force=True).trips


def test_small_targets_need_more_than_the_minimum() -> None:
    """On 120 users, 100 changed photos (over half, but not over 100) do not trip; 101 do."""
    plan = _plan((100, Action.UPLOAD, Reason.CHANGED), (20, Action.SKIP, Reason.UNCHANGED))
    verdict = assess(plan, no_history)
    assert verdict.limit == SAFETY_MIN_UPLOADS and not verdict.trips
    assert assess(_plan((101, Action.UPLOAD, Reason.CHANGED), (19, Action.SKIP, Reason.UNCHANGED)), no_history).trips


def test_users_known_under_another_key_count() -> None:
    """New uploads for accounts the history synced under another key count as re-keyed."""
    plan = _plan((200, Action.UPLOAD, Reason.NEW))
    history = {f"old-{i}": _record(f"old-{i}", str(i)) for i in range(160)}
    verdict = assess(plan, lambda: history)
    assert verdict.counted["rekeyed"] == 160 and verdict.trips


def test_a_key_synced_for_another_account_counts() -> None:
    """A new upload whose key the history synced for a different account counts as re-keyed."""
    actions = tuple(_action(i, Action.UPLOAD, Reason.NEW, record=_record(f"S{i}", f"other-{i}")) for i in range(200))
    assert assess(Plan("t", actions), lambda: {}).counted["rekeyed"] == 200


def test_max_uploads_counts_every_upload() -> None:
    """With --max-uploads, every upload counts, new ones included."""
    verdict = assess(_plan((6, Action.UPLOAD, Reason.NEW)), no_history, max_uploads=5)
    assert verdict.trips and verdict.message() == "the plan has 6 uploads, more than --max-uploads 5"
    assert verdict.document()["rule"] == "max_uploads"


def test_a_history_with_no_successful_sync_cannot_trip_the_valve() -> None:
    """No history, or one whose users only failed: cannot_trip (a sync may write before its plan is complete);
    one synced user, or --max-uploads, and it may trip."""
    failed_only = SyncRecord("t", "S1", "1", None, None, None, None, None, None, last_error="boom", last_error_at=NOW)
    assert cannot_trip(synced_before=synced_any({}), max_uploads=None)
    assert cannot_trip(synced_before=synced_any({"S1": failed_only}), max_uploads=None)
    assert not cannot_trip(synced_before=synced_any({"S1": failed_only, "S2": _record("S2", "2")}), max_uploads=None)
    assert not cannot_trip(synced_before=False, max_uploads=500)


def test_what_cannot_trip_never_trips() -> None:
    """With no synced user in the history, a plan of nothing but new uploads for every user stays under the
    valve's limit, whatever its size: cannot_trip says what assess finds."""
    plan = _plan((5000, Action.UPLOAD, Reason.NEW))
    assert not assess(plan, dict).trips
