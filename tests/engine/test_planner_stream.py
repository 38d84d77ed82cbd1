"""A sync's plan streams: it consumes the users once, keeps only what it acts on, and counts the skips."""

from __future__ import annotations

from collections.abc import Iterator

from tests.engine.test_planner import MAX_AGE, NOW, OURS, photo, photos, record, user

from profilesync import valve
from profilesync.engine.executor import skipped_outcomes
from profilesync.engine.model import Action, PhotoSet, Policy, Reason, RemoteUser, SyncRecord
from profilesync.engine.planner import plan


def _school() -> tuple[list[RemoteUser], dict[str, SyncRecord], PhotoSet]:
    users = [
        user("S1", avatar_ref=OURS, user_id="1"),  # unchanged
        user("S2", user_id="2"),  # new
        user("S3", user_id="3"),  # no photo
        user(None, user_id="4"),  # no key
        user("S5", user_id="5"),  # invalid photo: an error
    ]
    recs = {"S1": record("S1", user_id="1")}
    ps = photos(photo("S1"), photo("S2", sha="bbb"), photo("S5", problem="not an image"), photo("S9"))
    return users, recs, ps


def test_streamed_plan_keeps_what_it_acts_on_and_counts_the_skips() -> None:
    users, recs, ps = _school()
    consumed: list[str] = []

    def listing() -> Iterator[RemoteUser]:  # a generator: the planner must not need it twice
        for u in users:
            consumed.append(u.user_id)
            yield u

    full = plan(users, ps, recs, target_id="t", now=NOW, policy=Policy.ENFORCE, max_age=MAX_AGE)
    streamed = plan(
        listing(),
        ps,
        recs,
        target_id="t",
        now=NOW,
        policy=Policy.ENFORCE,
        max_age=MAX_AGE,
        keep_skips=False,
    )
    assert consumed == ["1", "2", "3", "4", "5"]
    assert [(a.key, a.action) for a in streamed.actions] == [("S2", Action.UPLOAD), ("S5", Action.ERROR)]
    assert streamed.skipped == {Reason.UNCHANGED: 1, Reason.NO_PHOTO: 1, Reason.NO_KEY: 1}
    assert streamed.users == full.users == 5
    assert streamed.pending() == full.pending()
    assert streamed.unmatched_photos == full.unmatched_photos and [p.key for p in full.unmatched_photos] == ["S9"]
    assert full.skipped == {}
    assert skipped_outcomes(streamed) == {"unchanged": 1, "skipped": 2}


def test_the_safety_valve_counts_the_users_a_streamed_plan_only_counted() -> None:
    """The valve's limit is a share of all the users planned, kept or counted: the same for both plans."""
    users = [user(f"S{i}", user_id=str(i)) for i in range(400)]
    ps = photos(*(photo(f"S{i}") for i in range(150)))  # 150 new users, 250 without a photo
    kwargs = {"target_id": "t", "now": NOW, "policy": Policy.ENFORCE, "max_age": MAX_AGE}
    full = plan(users, ps, {}, **kwargs)  # type: ignore[arg-type]
    streamed = plan(iter(users), ps, {}, keep_skips=False, **kwargs)  # type: ignore[arg-type]
    assert valve.assess(streamed, dict).document() == valve.assess(full, dict).document()
    assert valve.assess(streamed, dict).limit == 200
