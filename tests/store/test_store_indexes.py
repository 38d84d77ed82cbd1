"""The history's indexes: migration 4 adds them to an existing database, and every query the SQL store makes
on a populated SQLite database is an index lookup unless it means to read the whole table."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event, inspect, text

from profilesync.engine.model import Fingerprint, ObserverLink, RunEvent, Uploaded
from profilesync.store import SqlStore
from profilesync.store.migrations import MIGRATIONS, migrate
from profilesync.store.schema import metadata

if TYPE_CHECKING:
    from conftest import Backend

T0 = datetime(2026, 1, 5, 2, 0, tzinfo=timezone.utc)
UP = Uploaded(file_id="101", file_uuid="uuid-101", avatar_url="https://x.test/a/101", avatar_ref="101/uuid-101")


def indexes(url: str) -> dict[str, set[tuple[str, tuple[str, ...]]]]:
    engine = create_engine(url)
    try:
        found = inspect(engine)
        return {
            t: {(str(ix["name"]), tuple(str(c) for c in ix["column_names"])) for ix in found.get_indexes(t)}
            for t in found.get_table_names()
        }
    finally:
        engine.dispose()


def expected_indexes() -> dict[str, set[tuple[str, tuple[str, ...]]]]:
    return {
        t.name: {(str(ix.name), tuple(c.name for c in ix.columns)) for ix in t.indexes} for t in metadata.sorted_tables
    }


def test_fresh_database_has_the_indexes_the_schema_describes(sql_backend: Backend) -> None:
    """A new database's indexes are exactly schema.py's, on every SQL backend."""
    assert sql_backend.url is not None
    sql_backend.open()
    assert indexes(sql_backend.url) == expected_indexes()


def test_version_three_database_gains_the_indexes_and_keeps_its_data(sql_backend: Backend) -> None:
    """A database written by the previous release (schema 3) gets the new indexes on open; its records and
    runs read back as before, and the key lookup finds the old record."""
    assert sql_backend.url is not None
    engine = create_engine(sql_backend.url)
    migrate(engine, MIGRATIONS[:3])
    with engine.begin() as conn:  # the row as release 3 wrote it (this release's writes name newer columns)
        conn.execute(
            text(
                "INSERT INTO sync_records (target_id, key, user_id, photo_sha256, synced_at)"
                " VALUES (:t, :k, :u, :s, :at)"
            ),
            {"t": "canvas:t", "k": "S1", "u": "u1", "s": "a" * 64, "at": T0},
        )
    old = SqlStore(sql_backend.url, migrations=MIGRATIONS[:3])
    run_id = old.start_run("canvas:t", "avatars sync", T0)
    old.finish_run(run_id, T0, {"uploaded": 1}, 0)
    old.close()
    engine.dispose()
    assert ("ix_sync_records_key", ("key",)) not in indexes(sql_backend.url)["sync_records"]
    store = sql_backend.open()
    assert indexes(sql_backend.url) == expected_indexes()
    assert [r.key for r in store.history(key="S1")] == ["S1"] and store.records("canvas:t")["S1"].synced_at == T0
    assert [r.run_id for r in store.runs()] == [run_id] and store.target_ids() == {"canvas:t"}


def test_every_query_uses_an_index_unless_it_reads_the_whole_table(tmp_path: Path) -> None:
    """SQLite's query plan for each statement the store sends, on a populated history: every statement that
    picks rows (a WHERE) finds them through an index, never by scanning the table."""
    url = f"sqlite:///{tmp_path / 'history.sqlite3'}"
    store = SqlStore(url, keep_runs=timedelta(days=30))
    sent: list[tuple[str, Any]] = []
    event.listen(store._engine, "before_cursor_execute", lambda _c, _u, sql, params, _x, _m: sent.append((sql, params)))
    for n in range(200):  # enough rows that SQLite prefers an index wherever one fits
        store.record_success("canvas:t", f"S{n}", f"u{n}", "a" * 64, UP, T0)
        store.record_observer_link(ObserverLink("canvas:t", f"S{n}", f"p{n}@x.test", "1", "2", "direct", T0))
    for night in range(40):
        run_id = store.start_run("canvas:t", "avatars sync", T0 + timedelta(days=night))
        store.log_event(RunEvent(run_id, "S1", "u1", "uploaded", "new", None, T0 + timedelta(days=night)))
        store.record_failure("canvas:t", "S2", "u2", "quota", T0)
        store.finish_run(run_id, T0 + timedelta(days=night, minutes=1), {"uploaded": 1}, 0)
    store.save_fingerprints([Fingerprint("/p/S1.jpg", 1, 1, "a" * 64, None)])
    store.records("canvas:t")
    store.history(key="S1")
    store.history()
    store.target_ids()
    store.observer_links("canvas:t")
    store.runs()
    list(store.events(run_id=1))
    list(store.events(key="S1"))
    store.fingerprints()
    store.adopt_target("canvas:t", "canvas:new")
    scans = []
    with store._engine.connect() as conn:
        for sql, params in {(s, repr(p)): (s, p) for s, p in sent}.values():
            if not sql.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE", "INSERT")):
                continue
            if "WHERE" not in sql:  # meant to read everything: every fingerprint, `avatars history`, the target names
                continue
            if isinstance(params, list):  # executemany: one row's parameters show the plan
                params = params[0]
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", tuple(params)).all()
            scans += [(sql, row[-1]) for row in plan if str(row[-1]).startswith("SCAN") and "INDEX" not in row[-1]]
    store.close()
    assert not scans, "\n".join(sorted({f"{p}: {s}" for s, p in scans}))
