"""The history-store contract for target names: listing them, and adopting an earlier name's history."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from profilesync.engine.model import ObserverLink, Uploaded
from profilesync.engine.ports import HistoryStore

T0 = datetime(2025, 1, 6, 2, 0, tzinfo=timezone.utc)
UP = Uploaded(file_id="101", file_uuid="uuid-101", avatar_url="https://x.test/a/101", avatar_ref="101/uuid-101")
UP2 = Uploaded(file_id="202", file_uuid="uuid-202", avatar_url="https://x.test/a/202", avatar_ref="202/uuid-202")
OLD = "canvas:https://School.Instructure.com"
NEW = "canvas:root:abc123"


def link(target: str, student: str, parent_id: str = "p1") -> ObserverLink:
    return ObserverLink(target, student, "pat@example.com", "s-" + student, parent_id, "direct", T0)


def test_target_ids_names_records_links_and_runs(store: HistoryStore) -> None:
    """target_ids lists every name a record, an observer link or a run was filed under."""
    store.record_success("canvas:a", "S1", "u1", "f" * 64, UP, T0)
    store.record_observer_link(link("canvas:b", "S1"))
    store.start_run("canvas:c", "avatars sync", T0)
    assert store.target_ids() == {"canvas:a", "canvas:b", "canvas:c"}


def test_adopt_target_refiles_records_links_and_runs(store: HistoryStore) -> None:
    """Everything under the old name moves to the new one; nothing is left under the old name."""
    store.record_success(OLD, "S1", "u1", "f" * 64, UP, T0)
    store.record_failure(OLD, "S2", "u2", "boom", T0)
    store.record_observer_link(link(OLD, "S1"))
    run_id = store.start_run(OLD, "avatars sync", T0)
    assert store.adopt_target(OLD, NEW) == 2
    assert set(store.records(NEW)) == {"S1", "S2"} and store.records(OLD) == {}
    assert store.records(NEW)["S1"].file_id == "101" and store.records(NEW)["S1"].target_id == NEW
    assert [lk.target_id for lk in store.observer_links()] == [NEW]
    assert [r.target_id for r in store.runs() if r.run_id == run_id] == [NEW]
    assert OLD not in store.target_ids()


def test_adopt_target_keeps_the_newer_record_of_a_key(store: HistoryStore) -> None:
    """A key already recorded under the new name keeps that record; the old one is dropped."""
    store.record_success(OLD, "S1", "u1", "f" * 64, UP, T0)
    store.record_success(NEW, "S1", "u1", "e" * 64, UP2, T0 + timedelta(days=1))
    store.record_observer_link(link(OLD, "S1", parent_id="old"))
    store.record_observer_link(link(NEW, "S1", parent_id="new"))
    assert store.adopt_target(OLD, NEW) == 0
    assert store.records(NEW)["S1"].file_id == "202" and store.records(OLD) == {}
    assert [lk.parent_id for lk in store.observer_links()] == ["new"]


def test_adopting_a_name_as_itself_changes_nothing(store: HistoryStore) -> None:
    """adopt_target(x, x) moves nothing and keeps the records."""
    store.record_success(NEW, "S1", "u1", "f" * 64, UP, T0)
    assert store.adopt_target(NEW, NEW) == 0
    assert set(store.records(NEW)) == {"S1"}
