"""The history-store contract: every implementation (memory, SQLite, PostgreSQL) passes these."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

import pytest

from profilesync.engine.model import Fingerprint, ObserverLink, RunEvent, SyncRecord, Uploaded
from profilesync.engine.ports import HistoryStore

if TYPE_CHECKING:
    from conftest import Backend

RunThreads = Callable[[int, Callable[[int], None]], None]
T0 = datetime(2025, 1, 6, 2, 0, tzinfo=timezone.utc)

UP = Uploaded(file_id="101", file_uuid="uuid-101", avatar_url="https://x.test/a/101", avatar_ref="101/uuid-101")
UP2 = Uploaded(file_id="202", file_uuid="uuid-202", avatar_url="https://x.test/a/202", avatar_ref="202/uuid-202")
PLUS2 = timezone(timedelta(hours=2))


def fp(path: str, size: int = 10, sha: str | None = "a" * 64, problem: str | None = None) -> Fingerprint:
    return Fingerprint(path, size, 1_700_000_000_123_456_789, sha, problem)


class TestSyncRecords:
    def test_no_records_for_unknown_target(self, store: HistoryStore) -> None:
        """A target never synced has no records."""
        assert store.records("canvas:x") == {}

    def test_success_round_trips(self, store: HistoryStore) -> None:
        """A recorded success comes back field for field."""
        store.record_success("canvas:x", "S1", "u1", "f" * 64, UP, T0)
        assert store.records("canvas:x") == {
            "S1": SyncRecord("canvas:x", "S1", "u1", "f" * 64, "101", "uuid-101", UP.avatar_url, UP.avatar_ref, T0)
        }

    def test_success_replaces_previous_success(self, store: HistoryStore) -> None:
        """A later success overwrites the earlier one for the same key."""
        store.record_success("t", "S1", "u1", "a" * 64, UP, T0)
        store.record_success("t", "S1", "u1", "b" * 64, UP2, T0 + timedelta(days=1))
        record = store.records("t")["S1"]
        assert (record.photo_sha256, record.file_id, record.synced_at) == ("b" * 64, "202", T0 + timedelta(days=1))

    def test_success_clears_earlier_error(self, store: HistoryStore) -> None:
        """A success after a failure forgets the error."""
        store.record_failure("t", "S1", "u1", "boom", T0)
        store.record_success("t", "S1", "u1", "a" * 64, UP, T0 + timedelta(minutes=1))
        record = store.records("t")["S1"]
        assert (record.last_error, record.last_error_at) == (None, None)

    def test_failure_keeps_last_success(self, store: HistoryStore) -> None:
        """A failure records the error and leaves the last verified sync untouched."""
        store.record_success("t", "S1", "u1", "a" * 64, UP, T0)
        store.record_failure("t", "S1", "u1", "quota exceeded", T0 + timedelta(days=1))
        record = store.records("t")["S1"]
        assert record == SyncRecord(
            "t", "S1", "u1", "a" * 64, "101", "uuid-101", UP.avatar_url, UP.avatar_ref, T0,
            last_error="quota exceeded", last_error_at=T0 + timedelta(days=1),
        )  # fmt: skip

    def test_failure_without_record_creates_unsynced_one(self, store: HistoryStore) -> None:
        """A first-ever failure creates a record that says "never synced"."""
        store.record_failure("t", "S1", "u1", "boom", T0)
        assert store.records("t")["S1"] == SyncRecord(
            "t", "S1", "u1", None, None, None, None, None, None, last_error="boom", last_error_at=T0
        )

    def test_records_are_per_target(self, store: HistoryStore) -> None:
        """The same key on two targets is two records."""
        store.record_success("canvas:a", "S1", "u1", "a" * 64, UP, T0)
        store.record_success("canvas:b", "S1", "u9", "b" * 64, UP2, T0)
        assert store.records("canvas:a")["S1"].user_id == "u1"
        assert store.records("canvas:b")["S1"].user_id == "u9"

    def test_records_of_some_keys_only(self, store: HistoryStore) -> None:
        """``records(target, keys)`` reads just those keys of that target (a plan for one user); unknown keys
        and other targets' records are left out, no keys reads none."""
        for key in ("S1", "S2", "S3"):
            store.record_success("canvas:a", key, "u1", "a" * 64, UP, T0)
        store.record_success("canvas:b", "S4", "u9", "b" * 64, UP2, T0)
        assert set(store.records("canvas:a", ["S2", "S3", "S4", "nobody"])) == {"S2", "S3"}
        assert store.records("canvas:a", ["S2"]) == {"S2": store.records("canvas:a")["S2"]}
        assert store.records("canvas:a", []) == {}

    def test_synced_any_counts_successes_of_that_target_only(self, store: HistoryStore) -> None:
        """``synced_any``: only a success counts (a failure is "never synced"), and only on that target."""
        assert not store.synced_any("canvas:a")
        store.record_failure("canvas:a", "S1", "u1", "boom", T0)
        store.record_success("canvas:b", "S1", "u1", "a" * 64, UP, T0)
        store.start_run("canvas:a", "avatars sync", T0)
        assert not store.synced_any("canvas:a") and store.synced_any("canvas:b")
        store.record_success("canvas:a", "S2", "u2", "a" * 64, UP, T0)
        assert store.synced_any("canvas:a")

    def test_history_newest_first_never_synced_last(self, store: HistoryStore) -> None:
        """History lists the newest sync first and never-synced keys at the end."""
        store.record_failure("t", "never", "u0", "boom", T0 + timedelta(days=9))
        store.record_success("t", "old", "u1", "a" * 64, UP, T0)
        store.record_success("t", "new", "u2", "a" * 64, UP, T0 + timedelta(days=2))
        store.record_success("t", "mid", "u3", "a" * 64, UP, T0 + timedelta(days=1))
        assert [r.key for r in store.history()] == ["new", "mid", "old", "never"]

    def test_history_filters_by_target_and_key(self, store: HistoryStore) -> None:
        """History narrows to one target, one key, or both."""
        store.record_success("a", "S1", "u1", "a" * 64, UP, T0)
        store.record_success("a", "S2", "u2", "a" * 64, UP, T0)
        store.record_success("b", "S1", "u3", "a" * 64, UP, T0)
        assert {(r.target_id, r.key) for r in store.history("a")} == {("a", "S1"), ("a", "S2")}
        assert {(r.target_id, r.key) for r in store.history(key="S1")} == {("a", "S1"), ("b", "S1")}
        assert [(r.target_id, r.key) for r in store.history("b", "S1")] == [("b", "S1")]


class TestTimestamps:
    def test_naive_datetime_refused(self, store: HistoryStore) -> None:
        """A naive datetime is refused rather than guessed at."""
        with pytest.raises(ValueError, match="naive"):
            store.record_success("t", "S1", "u1", "a" * 64, UP, datetime(2025, 1, 1))

    def test_record_times_come_back_aware_utc(self, store: HistoryStore) -> None:
        """Sync and error times are returned as the same instant, in UTC."""
        at = datetime(2025, 6, 1, 14, 30, 15, 123456, tzinfo=PLUS2)
        store.record_success("t", "S1", "u1", "a" * 64, UP, at)
        store.record_failure("t", "S1", "u1", "boom", at)
        record = store.records("t")["S1"]
        for value in (record.synced_at, record.last_error_at):
            assert value == at and value is not None and value.tzinfo == timezone.utc

    def test_run_times_come_back_aware_utc(self, store: HistoryStore) -> None:
        """Run start, end and event times are returned as the same instant, in UTC."""
        at = datetime(2025, 6, 1, 14, 30, tzinfo=PLUS2)
        run_id = store.start_run("t", "avatars sync", at)
        store.log_event(RunEvent(run_id, "S1", "u1", "failed", "quota", "no room", at))
        store.finish_run(run_id, at, {}, 0)
        run = store.runs()[0]
        event = next(store.events())
        for value in (run.started_at, run.ended_at, event.at):
            assert value == at and value is not None and value.tzinfo == timezone.utc


class TestFingerprints:
    def test_empty_cache(self, store: HistoryStore) -> None:
        """A new store has no fingerprints."""
        assert store.fingerprints() == {}

    def test_round_trip(self, store: HistoryStore) -> None:
        """Saved fingerprints, including problems and missing hashes, come back as saved."""
        entries = [fp("/p/a.jpg"), fp("/p/b.png", sha=None, problem="not an image"), fp("/p/ü é.jpg", size=2**40)]
        store.save_fingerprints(entries)
        assert store.fingerprints() == {e.path: e for e in entries}

    def test_save_replaces_existing(self, store: HistoryStore) -> None:
        """Saving a path again replaces its entry and keeps the others."""
        store.save_fingerprints([fp("/p/a.jpg"), fp("/p/b.jpg")])
        store.save_fingerprints([fp("/p/a.jpg", size=99, sha="c" * 64)])
        cache = store.fingerprints()
        assert (cache["/p/a.jpg"].size, cache["/p/a.jpg"].sha256, len(cache)) == (99, "c" * 64, 2)

    def test_repeated_path_in_one_save_last_wins(self, store: HistoryStore) -> None:
        """When one save names a path twice, the later entry is kept."""
        store.save_fingerprints([fp("/p/a.jpg", size=1), fp("/p/a.jpg", size=2)])
        assert store.fingerprints()["/p/a.jpg"].size == 2

    def test_save_accepts_generator_and_nothing(self, store: HistoryStore) -> None:
        """save_fingerprints takes any iterable, including an empty one."""
        store.save_fingerprints(fp(f"/p/{i}.jpg") for i in range(3))
        store.save_fingerprints([])
        assert len(store.fingerprints()) == 3

    def test_twenty_thousand_round_trip(self, store: HistoryStore) -> None:
        """A 20,000-photo cache saves in one call and loads back whole (timings: see the report script)."""
        entries = [fp(f"/photos/{i:06d}.jpg", size=i) for i in range(20_000)]
        store.save_fingerprints(entries)
        store.save_fingerprints(entries[:10_000])  # the second night: everything upserted again
        assert store.fingerprints() == {e.path: e for e in entries}

    def test_lookup_of_some_paths(self, store: HistoryStore) -> None:
        """With paths, only those entries come back (unknown paths and repeats ignored)."""
        entries = [fp(f"/photos/{i:06d}.jpg", size=i) for i in range(2_000)]
        store.save_fingerprints(entries)
        wanted = [e.path for e in entries[::2]] + ["/photos/none.jpg", entries[0].path]
        assert store.fingerprints(wanted) == {e.path: e for e in entries[::2]}
        assert store.fingerprints([]) == {}


def link(
    student: str = "S1", email: str = "pat@example.com", at: datetime = T0, *, target: str = "canvas:x", **kw: str
) -> ObserverLink:
    values = {"student_id": "1001", "parent_id": "2001", "method": "direct", **kw}
    return ObserverLink(target, student, email, values["student_id"], values["parent_id"], values["method"], at)


class TestObserverLinks:
    def test_no_links_at_first(self, store: HistoryStore) -> None:
        """A new store has no observer links."""
        assert store.observer_links() == []

    def test_link_round_trips(self, store: HistoryStore) -> None:
        """A recorded link comes back field for field."""
        store.record_observer_link(link(method="pairing-code"))
        assert store.observer_links("canvas:x") == [
            ObserverLink("canvas:x", "S1", "pat@example.com", "1001", "2001", "pairing-code", T0)
        ]

    def test_email_is_stored_lower_case(self, store: HistoryStore) -> None:
        """The parent email is kept lower-cased, as Canvas compares logins."""
        store.record_observer_link(link(email="Pat.Parent@Example.COM"))
        assert [lk.parent_email for lk in store.observer_links()] == ["pat.parent@example.com"]

    def test_same_link_again_replaces_the_record(self, store: HistoryStore) -> None:
        """Recording the same student and parent (in any letter case) again keeps one, updated record."""
        store.record_observer_link(link())
        store.record_observer_link(link(email="PAT@example.com", at=T0 + timedelta(days=1), parent_id="2002"))
        assert [(lk.parent_id, lk.linked_at) for lk in store.observer_links()] == [("2002", T0 + timedelta(days=1))]

    def test_newest_first(self, store: HistoryStore) -> None:
        """Links are listed newest first."""
        store.record_observer_link(link("S1", at=T0))
        store.record_observer_link(link("S2", at=T0 + timedelta(hours=2)))
        store.record_observer_link(link("S3", at=T0 + timedelta(hours=1)))
        assert [lk.student_key for lk in store.observer_links()] == ["S2", "S3", "S1"]

    def test_filters_by_target_student_and_email(self, store: HistoryStore) -> None:
        """Links narrow to one target, one student key and/or one parent email (case-insensitive)."""
        store.record_observer_link(link("S1", "a@x.org"))
        store.record_observer_link(link("S2", "a@x.org"))
        store.record_observer_link(link("S1", "b@x.org"))
        store.record_observer_link(link("S1", "a@x.org", target="canvas:y"))
        assert {
            (lk.student_key, lk.parent_email) for lk in store.observer_links("canvas:x", parent_email="A@X.org")
        } == {
            ("S1", "a@x.org"),
            ("S2", "a@x.org"),
        }
        assert len(store.observer_links(student_key="S1")) == 3
        assert [lk.target_id for lk in store.observer_links("canvas:y", student_key="S1")] == ["canvas:y"]

    def test_student_key_is_case_sensitive(self, store: HistoryStore) -> None:
        """SIS ids differing only in case are two students, as in Canvas."""
        store.record_observer_link(link("s1"))
        store.record_observer_link(link("S1"))
        assert sorted(lk.student_key for lk in store.observer_links()) == ["S1", "s1"]

    def test_link_time_comes_back_aware_utc(self, store: HistoryStore) -> None:
        """linked_at is returned as the same instant, in UTC."""
        at = datetime(2025, 6, 1, 14, 30, tzinfo=PLUS2)
        store.record_observer_link(link(at=at))
        linked_at = store.observer_links()[0].linked_at
        assert linked_at == at and linked_at.tzinfo == timezone.utc

    def test_links_written_from_threads(self, store: HistoryStore, run_threads: RunThreads) -> None:
        """Eight threads recording links at once all succeed (the observers executor's pattern)."""

        def work(n: int) -> None:
            for i in range(20):
                store.record_observer_link(link(f"S{n}-{i}", f"p{i}@x.org"))

        run_threads(8, work)
        assert len(store.observer_links("canvas:x")) == 160


class TestRuns:
    def test_start_run_returns_distinct_ids(self, store: HistoryStore) -> None:
        """Each started run gets its own id."""
        assert len({store.start_run("t", "avatars sync", T0) for _ in range(3)}) == 3

    def test_unfinished_run_has_no_end(self, store: HistoryStore) -> None:
        """A run not yet finished has no end, counts or exit code."""
        run_id = store.start_run("canvas:x", "avatars sync", T0)
        run = store.runs()[0]
        assert (run.run_id, run.target_id, run.command) == (run_id, "canvas:x", "avatars sync")
        assert (run.started_at, run.ended_at, dict(run.counts), run.exit_code) == (T0, None, {}, None)

    def test_finish_run_records_end_counts_and_exit(self, store: HistoryStore) -> None:
        """Finishing a run stores its end, counts and exit code."""
        run_id = store.start_run("t", "avatars sync", T0)
        store.finish_run(run_id, T0 + timedelta(minutes=3), {"uploaded": 4, "failed": 1}, 1)
        run = store.runs()[0]
        assert (run.ended_at, dict(run.counts), run.exit_code) == (
            T0 + timedelta(minutes=3),
            {"uploaded": 4, "failed": 1},
            1,
        )

    def test_finish_unknown_run_raises(self, store: HistoryStore) -> None:
        """Finishing a run that was never started is a KeyError."""
        with pytest.raises(KeyError):
            store.finish_run(12345, T0, {}, 0)

    def test_runs_newest_first_and_limited(self, store: HistoryStore) -> None:
        """runs() lists the most recent starts first, at most ``limit`` of them."""
        ids = [store.start_run("t", "avatars sync", T0 + timedelta(hours=h)) for h in (1, 3, 2)]
        assert [r.run_id for r in store.runs(limit=2)] == [ids[1], ids[2]]

    def test_events_newest_first(self, store: HistoryStore) -> None:
        """Events come back whole, the latest first."""
        run_id = store.start_run("t", "avatars sync", T0)
        first = RunEvent(run_id, "S1", "u1", "uploaded", "new", None, T0 + timedelta(seconds=1))
        second = RunEvent(run_id, "S2", None, "failed", "quota", "no room left", T0 + timedelta(seconds=2))
        store.log_event(first)
        store.log_event(second)
        assert list(store.events()) == [second, first]

    def test_events_filter_by_run_and_key(self, store: HistoryStore) -> None:
        """Events narrow to one run, one key, or both."""
        runs = [store.start_run("t", "avatars sync", T0) for _ in range(2)]
        for run_id in runs:
            for key in ("S1", "S2"):
                store.log_event(RunEvent(run_id, key, "u", "uploaded", "new", None, T0))
        assert {(e.run_id, e.key) for e in store.events(run_id=runs[0])} == {(runs[0], "S1"), (runs[0], "S2")}
        assert {(e.run_id, e.key) for e in store.events(key="S2")} == {(runs[0], "S2"), (runs[1], "S2")}
        assert [(e.run_id, e.key) for e in store.events(runs[1], "S1")] == [(runs[1], "S1")]

    def test_event_for_unknown_run_raises(self, store: HistoryStore) -> None:
        """Logging an event for a run that was never started is a KeyError."""
        with pytest.raises(KeyError):
            store.log_event(RunEvent(999, "S1", None, "failed", None, None, T0))


class TestConcurrency:
    def test_eight_threads_share_one_store(self, store: HistoryStore, run_threads: RunThreads) -> None:
        """Eight worker threads writing through one store all succeed (the executor's pattern)."""
        run_id = store.start_run("t", "avatars sync", T0)

        def work(n: int) -> None:
            for i in range(25):
                key = f"S{n}-{i}"
                store.record_success("t", key, "u", "a" * 64, UP, T0)
                store.record_failure("t", key, "u", "later failure", T0)
                store.log_event(RunEvent(run_id, key, "u", "uploaded", "new", None, T0))
                store.save_fingerprints([fp(f"/p/{key}.jpg")])
                store.records("t")

        run_threads(8, work)
        assert (len(store.records("t")), len(list(store.events(run_id)))) == (200, 200)

    def test_eight_threads_over_two_stores(self, backend: Backend, run_threads: RunThreads) -> None:
        """Writers on two stores of one database (two processes' worth) never hit a lock error."""
        stores = (backend.open(), backend.open())
        barrier = threading.Barrier(8)

        def work(n: int) -> None:
            store = stores[n % 2]
            barrier.wait()
            for i in range(25):
                store.record_success("t", f"S{n}-{i}", "u", "a" * 64, UP, T0)

        run_threads(8, work)
        assert len(stores[0].records("t")) == 200
