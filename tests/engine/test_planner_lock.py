"""The planner with avatar locking on (PROFILESYNC_LOCK_AVATARS): one reassign/lock for an avatar of ours that
was never locked, nothing for one that was, and ``respect``/``enforce`` unchanged otherwise."""

from __future__ import annotations

from dataclasses import replace

import pytest

from profilesync.engine.model import Action, Policy, Reason, RemoteUser, SyncRecord
from profilesync.engine.planner import decide, plan
from profilesync.valve import assess

from .test_planner import MAX_AGE, NOW, OURS, photo, photos, record, user

THEIRS = "attachment:777/uuid-777"


def run(
    u: RemoteUser, rec: SyncRecord | None, *, policy: Policy = Policy.ENFORCE, lock: bool = True
) -> tuple[str, str]:
    recs = {} if rec is None else {"S1": rec}
    planned = decide(u, photos(photo()), recs, now=NOW, policy=policy, max_age=MAX_AGE, lock=lock)
    return planned.action.value, planned.reason.value


def test_ours_shown_never_locked_is_locked_once() -> None:
    """A user synced before the option was on: reassign/lock."""
    assert run(user(avatar_ref=OURS), record()) == ("reassign", "lock")


def test_ours_shown_and_locked_is_unchanged() -> None:
    """Once the history says locked, a steady night costs nothing."""
    assert run(user(avatar_ref=OURS), replace(record(), locked=True)) == ("skip", "unchanged")


def test_option_off_never_plans_a_lock() -> None:
    """Locking off: the table is as it was."""
    assert run(user(avatar_ref=OURS), record(), lock=False) == ("skip", "unchanged")


@pytest.mark.parametrize("locked", [False, True])
def test_respect_still_skips_a_users_choice(locked: bool) -> None:
    """Under respect a picture someone else chose is neither replaced nor locked."""
    rec = replace(record(), locked=locked)
    assert run(user(avatar_ref=THEIRS), rec, policy=Policy.RESPECT) == ("skip", "user_choice")


def test_enforce_puts_ours_back_as_before() -> None:
    """Under enforce a replaced avatar is reassigned for that reason (the reassign locks it too)."""
    assert run(user(avatar_ref=THEIRS), record()) == ("reassign", "avatar_changed")


def test_new_and_changed_users_upload_as_before() -> None:
    """The lock rides on uploads: their reasons stay new/changed."""
    assert run(user(), None) == ("upload", "new")
    assert run(user(avatar_ref=OURS), record(sha="old")) == ("upload", "changed")


def test_a_sync_plan_keeps_the_lock_reassigns() -> None:
    """keep_skips False: the lock reassigns are kept, locked users are counted as unchanged."""
    users = [user("S1", OURS, "1"), user("S2", OURS, "2")]
    recs = {"S1": record("S1", user_id="1"), "S2": replace(record("S2", user_id="2"), locked=True)}
    result = plan(
        users,
        photos(photo("S1"), photo("S2")),
        recs,
        target_id="canvas:x",
        now=NOW,
        policy=Policy.ENFORCE,
        max_age=MAX_AGE,
        keep_skips=False,
        lock=True,
    )
    assert [(a.key, a.action, a.reason) for a in result.actions] == [("S1", Action.REASSIGN, Reason.LOCK)]
    assert result.skipped == {Reason.UNCHANGED: 1}


def test_turning_locking_on_never_trips_the_safety_valve() -> None:
    """250 one-time locks of 300 users are routine: nothing counted, no stop."""
    users = [user(f"S{i}", OURS, str(i)) for i in range(300)]
    recs = {f"S{i}": record(f"S{i}", user_id=str(i)) for i in range(250)}
    recs |= {f"S{i}": replace(record(f"S{i}", user_id=str(i)), locked=True) for i in range(250, 300)}
    result = plan(
        users,
        photos(*(photo(f"S{i}") for i in range(300))),
        recs,
        target_id="canvas:x",
        now=NOW,
        policy=Policy.ENFORCE,
        max_age=MAX_AGE,
        lock=True,
    )
    assert sum(a.reason is Reason.LOCK for a in result.actions) == 250
    verdict = assess(result, lambda: recs)
    assert verdict.total == 0 and not verdict.trips


def test_respect_repairs_a_silhouette_left_by_a_failed_lock() -> None:
    """Under respect, a synced user on the silhouette whose last attempt failed after the last sync was cleared by
    our lock (sent before the avatar): the next run puts the avatar back instead of calling it their choice."""
    failed = replace(record(), last_error="transient", last_error_at=NOW)
    assert run(user(avatar_ref=None), failed, policy=Policy.RESPECT) == ("reassign", "avatar_changed")


def test_respect_keeps_a_removal_with_no_failed_attempt_behind_it() -> None:
    """Without a failed attempt since the last sync, a removal is still the user's (or a moderator's) choice; with
    locking off, a failed attempt does not change that either."""
    assert run(user(avatar_ref=None), record(), policy=Policy.RESPECT) == ("skip", "user_choice")
    failed = replace(record(), last_error="transient", last_error_at=NOW)
    assert run(user(avatar_ref=None), failed, policy=Policy.RESPECT, lock=False) == ("skip", "user_choice")
