"""Runs and their events are kept for a window (PROFILESYNC_KEEP_RUNS_DAYS); sync records are kept for ever.

Against every store (in-memory, SQLite, and PostgreSQL when available): the pruning is part of the contract.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from profilesync.engine.model import Fingerprint, ObserverLink, RunEvent, Uploaded
from profilesync.engine.ports import HistoryStore
from profilesync.store import MEMORY_URL, open_store

if TYPE_CHECKING:
    from conftest import Backend

NOW = datetime(2026, 6, 1, 2, 0, tzinfo=timezone.utc)
UP = Uploaded(file_id="101", file_uuid="uuid-101", avatar_url="https://x.test/a/101", avatar_ref="101/uuid-101")


def nightly_run(store: HistoryStore, started: datetime, key: str = "S1") -> int:
    """One recorded run with one event, as ``avatars sync`` records it; returns its id."""
    run_id = store.start_run("canvas:t", "avatars sync", started)
    store.log_event(RunEvent(run_id, key, "u1", "uploaded", "new", None, started + timedelta(seconds=5)))
    store.finish_run(run_id, started + timedelta(minutes=2), {"uploaded": 1}, 0)
    return run_id


def test_runs_older_than_the_window_are_pruned_with_their_events(backend: Backend) -> None:
    """Finishing a run forgets the runs (and events) started more than the window before; newer ones stay."""
    keeping = backend.open()
    old = nightly_run(keeping, NOW - timedelta(days=40), key="OLD")
    recent = nightly_run(keeping, NOW - timedelta(days=20), key="RECENT")
    pruning = backend.open(keep_runs=timedelta(days=30))
    latest = nightly_run(pruning, NOW)
    assert [r.run_id for r in pruning.runs()] == [latest, recent]
    assert list(pruning.events(run_id=old)) == [] and list(pruning.events(key="OLD")) == []
    assert [e.key for e in pruning.events(run_id=recent)] == ["RECENT"]


def test_the_window_edge_is_kept(backend: Backend) -> None:
    """A run started exactly the window before the end of the current one is still inside it."""
    store = backend.open(keep_runs=timedelta(days=30))
    run_id = store.start_run("canvas:t", "avatars sync", NOW - timedelta(days=30))
    store.finish_run(run_id, NOW - timedelta(days=30, seconds=-1), {}, 0)
    edge = nightly_run(store, NOW - timedelta(days=30) + timedelta(minutes=2))  # ends at NOW-30d+4m
    assert {r.run_id for r in store.runs()} == {run_id, edge}


def test_a_long_run_never_prunes_itself(backend: Backend) -> None:
    """The run being finished stays, even when it started before the window (a run that hung for days)."""
    store = backend.open(keep_runs=timedelta(days=1))
    run_id = store.start_run("canvas:t", "avatars sync", NOW - timedelta(days=3))
    store.finish_run(run_id, NOW, {}, 0)
    assert [r.run_id for r in store.runs()] == [run_id]


def test_sync_records_links_and_fingerprints_are_never_pruned(backend: Backend) -> None:
    """Pruning touches runs and events only: the sync state and the caches stay whatever their age."""
    store = backend.open(keep_runs=timedelta(days=1))
    long_ago = NOW - timedelta(days=3000)
    store.record_success("canvas:t", "S1", "u1", "a" * 64, UP, long_ago)
    store.record_failure("canvas:t", "S2", "u2", "quota", long_ago)
    store.record_observer_link(ObserverLink("canvas:t", "S1", "pat@example.com", "1", "2", "direct", long_ago))
    store.save_fingerprints([Fingerprint("/p/S1.jpg", 10, 1, "a" * 64, None)])
    nightly_run(store, long_ago)
    nightly_run(store, NOW)
    assert len(store.runs()) == 1
    assert set(store.records("canvas:t")) == {"S1", "S2"} and store.records("canvas:t")["S1"].synced_at == long_ago
    assert len(store.observer_links("canvas:t")) == 1 and set(store.fingerprints()) == {"/p/S1.jpg"}


def test_a_year_of_nightly_runs_stays_bounded(backend: Backend) -> None:
    """365 nightly runs with a 30-day window leave the 30 nights that started within 30 days of the last run's
    end, with their events, no more."""
    store = backend.open(keep_runs=timedelta(days=30))
    start = NOW - timedelta(days=364)
    ids = [nightly_run(store, start + timedelta(days=n)) for n in range(365)]
    assert [r.run_id for r in store.runs(limit=1000)] == ids[::-1][:30]
    assert len(list(store.events())) == 30


def test_without_a_window_every_run_is_kept(backend: Backend) -> None:
    """No window (PROFILESYNC_KEEP_RUNS_DAYS=0): ten years of runs are all still there."""
    store = backend.open()
    for year in range(10):
        nightly_run(store, NOW - timedelta(days=365 * year))
    assert len(store.runs(limit=100)) == 10 and len(list(store.events())) == 10


def test_open_store_takes_the_window_in_days(tmp_path: object) -> None:
    """``open_store(keep_runs_days=N)`` prunes at N days; 0 keeps every run."""
    for url in (MEMORY_URL, f"sqlite:///{tmp_path}/h.sqlite3"):
        forever = open_store(url, keep_runs_days=0)
        nightly_run(forever, NOW - timedelta(days=500))
        nightly_run(forever, NOW)
        assert len(forever.runs()) == 2
        forever.close()
    store = open_store(f"sqlite:///{tmp_path}/h.sqlite3", keep_runs_days=400)
    nightly_run(store, NOW + timedelta(days=1))
    assert len(store.runs()) == 2  # the 500-day-old run went, yesterday's and today's stay
    store.close()
