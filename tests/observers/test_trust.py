"""The schedule on which links in the history are checked in Canvas again (profilesync.observers.trust)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from itertools import pairwise

from profilesync.engine.model import ObserverLink, RunEvent
from profilesync.observers.model import Row
from profilesync.observers.trust import Schedule, schedule
from profilesync.store.memory import MemoryStore

PARENTS = [f"parent{i}@home.example.net" for i in range(300)]
NOW = datetime(2026, 12, 4, 2, 0, tzinfo=timezone.utc)
TODAY = NOW.date().toordinal()


def test_daily_runs_check_every_parent_once_in_verify_days_spread_evenly() -> None:
    """Seven nightly runs check each parent exactly once, about a seventh of them each night."""
    nights = [[p for p in PARENTS if Schedule(7, TODAY + d, TODAY + d - 1).due(p)] for d in range(7)]
    assert sorted(p for night in nights for p in night) == sorted(PARENTS)
    assert all(len(PARENTS) / 7 * 0.5 < len(night) < len(PARENTS) / 7 * 1.5 for night in nights)


def test_a_weekly_run_checks_everyone() -> None:
    assert all(Schedule(7, TODAY, TODAY - 7).due(p) for p in PARENTS)


def test_runs_every_three_days_never_leave_a_parent_unchecked_longer_than_verify_days() -> None:
    """Whatever the cadence, a parent is checked on the first run after its day comes round."""
    for parent in PARENTS[:50]:
        checked = [d for d in range(3, 60, 3) if Schedule(7, TODAY + d, TODAY + d - 3).due(parent)]
        gaps = [b - a for a, b in pairwise(checked)]
        assert checked and checked[0] <= 9 and all(gap <= 7 + 2 for gap in gaps)


def test_second_run_the_same_day_checks_nobody_and_zero_days_checks_everybody() -> None:
    assert not any(Schedule(7, TODAY, TODAY).due(p) for p in PARENTS)
    assert all(Schedule(0, TODAY, TODAY).due(p) for p in PARENTS)
    assert all(Schedule(7, TODAY).due(p) for p in PARENTS)  # no finished run yet


def link(student: str, email: str, parent_id: str = "90") -> ObserverLink:
    return ObserverLink("t", student, email, f"id-{student}", parent_id, "direct", NOW)


def test_recorded_needs_every_row_one_parent_account_and_settled_students() -> None:
    rows = [Row(2, "S1", "P@x.example.net", "A", "B"), Row(3, "S2", "p@x.example.net", "A", "B")]
    history = {("S1", "p@x.example.net"): link("S1", "p@x.example.net")}
    assert Schedule(7, TODAY).recorded(rows, history) == []  # S2 has no link yet
    history[("S2", "p@x.example.net")] = link("S2", "p@x.example.net")
    assert len(Schedule(7, TODAY).recorded(rows, history)) == 2
    assert Schedule(7, TODAY, unsettled=frozenset({"S2"})).recorded(rows, history) == []
    history[("S2", "p@x.example.net")] = link("S2", "p@x.example.net", parent_id="91")  # account made again
    assert Schedule(7, TODAY).recorded(rows, history) == []


def test_schedule_reads_the_last_finished_run_and_the_unsettled_students_since() -> None:
    store = MemoryStore()
    assert schedule(store, "t", 7, NOW).last_day is None
    first = store.start_run("t", "observers sync", NOW - timedelta(days=2))
    store.log_event(RunEvent(first, "S1", "1", "link", None, "row 2", NOW - timedelta(days=2)))
    store.log_event(RunEvent(first, "S2", "2", "error", None, "row 3", NOW - timedelta(days=2)))
    store.finish_run(first, NOW - timedelta(days=2), {"link": 1, "error": 1}, 1)
    stopped = store.start_run("t", "observers sync", NOW - timedelta(days=1))
    store.log_event(RunEvent(stopped, "S3", None, "student_not_found", None, "row 4", NOW - timedelta(days=1)))
    # interrupted: the days still count from the first run, and its unsettled rows count too
    store.finish_run(stopped, NOW - timedelta(days=1), {"student_not_found": 1}, 130)
    store.finish_run(store.start_run("other", "observers sync", NOW), NOW, {}, 0)  # another Canvas
    store.finish_run(store.start_run("t", "avatars sync", NOW), NOW, {}, 0)  # another job
    found = schedule(store, "t", 7, NOW)
    assert (found.today - found.last_day, found.unsettled) == (2, frozenset({"S2", "S3"}))
    assert schedule(store, "t", 0, NOW).last_day is None


class EventsCounted(MemoryStore):
    """A store that remembers which runs' events were read."""

    def __init__(self) -> None:
        super().__init__()
        self.read: list[int | None] = []

    def events(self, run_id: int | None = None, key: str | None = None) -> Iterator[RunEvent]:
        self.read.append(run_id)
        return super().events(run_id, key)


def test_events_of_runs_whose_counts_show_only_links_are_not_read() -> None:
    """A night where every row ended linked or already linked leaves nothing unsettled: no event is read."""
    store = EventsCounted()
    run = store.start_run("t", "observers sync", NOW - timedelta(days=1))
    store.log_event(RunEvent(run, "S1", "1", "link", None, "row 2", NOW - timedelta(days=1)))
    store.finish_run(run, NOW - timedelta(days=1), {"link": 1, "already_linked": 5, "error": 0}, 0)
    assert schedule(store, "t", 7, NOW).unsettled == frozenset() and store.read == []
