"""What only the SQL store has: versioned migrations, opening URLs, SQLite's tuning."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import Column, Connection, Integer, MetaData, Table, create_engine, inspect, text

from profilesync.engine.model import ObserverLink, Uploaded
from profilesync.errors import ConfigError
from profilesync.store import MemoryStore, SchemaTooNewError, SqlStore, open_store
from profilesync.store.migrations import MIGRATIONS, Migration, current_version, migrate
from profilesync.store.schema import metadata, schema_migrations

if TYPE_CHECKING:
    from conftest import Backend

RunThreads = Callable[[int, Callable[[int], None]], None]
T0 = datetime(2025, 1, 6, 2, 0, tzinfo=timezone.utc)
UP = Uploaded(file_id="101", file_uuid="uuid-101", avatar_url="https://x.test/a/101", avatar_ref="101/uuid-101")
LATEST = len(MIGRATIONS)


def _add_next_table(conn: Connection) -> None:
    Table("next_release_test", MetaData(), Column("id", Integer, primary_key=True)).create(conn)


# A stand-in for the next release's migration, to test upgrades before one exists.
NEXT = (*MIGRATIONS, Migration(LATEST + 1, "test: the next release", _add_next_table))


def version_of(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return current_version(conn)
    finally:
        engine.dispose()


def _old_database_with_a_record(url: str, migrations: tuple[Migration, ...]) -> None:
    """A database at an older schema version holding one synced record, written as that version did."""
    engine = create_engine(url)
    try:
        migrate(engine, migrations)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO sync_records (target_id, key, user_id, photo_sha256, file_id, file_uuid, "
                    "avatar_url, avatar_ref, synced_at) VALUES ('t', 'S1', 'u1', :sha, '101', 'uuid-101', "
                    "'https://x.test/a/101', '101/uuid-101', :at)"
                ),
                {"sha": "a" * 64, "at": T0.replace(tzinfo=None) if engine.dialect.name != "postgresql" else T0},
            )
    finally:
        engine.dispose()


class TestMigrations:
    def test_migrations_numbered_from_one(self) -> None:
        """Migrations are numbered 1, 2, 3, ... with no gap."""
        assert [m.version for m in MIGRATIONS] == list(range(1, LATEST + 1))

    def test_fresh_database_migrated_to_latest(self, sql_backend: Backend) -> None:
        """Opening an empty database creates every table and records the newest version."""
        assert sql_backend.url is not None
        sql_backend.open()
        assert version_of(sql_backend.url) == LATEST

    def test_migrated_schema_matches_current_tables(self, sql_backend: Backend) -> None:
        """After all migrations the database has exactly the tables and columns the queries expect."""
        assert sql_backend.url is not None
        sql_backend.open()
        engine = create_engine(sql_backend.url)
        try:
            found = inspect(engine)
            tables = {name: {c["name"] for c in found.get_columns(name)} for name in found.get_table_names()}
        finally:
            engine.dispose()
        assert tables == {t.name: {c.name for c in t.columns} for t in metadata.sorted_tables}

    def test_version_zero_database_upgraded(self, sql_backend: Backend) -> None:
        """A database whose version table exists but records nothing is brought to the newest version."""
        assert sql_backend.url is not None
        engine = create_engine(sql_backend.url)
        with engine.begin() as conn:
            schema_migrations.create(conn)
        engine.dispose()
        sql_backend.open().record_success("t", "S1", "u1", "a" * 64, UP, T0)
        assert version_of(sql_backend.url) == LATEST

    def test_older_database_upgraded_keeping_data(self, sql_backend: Backend) -> None:
        """A database at an older version gets the newer migrations and keeps its data."""
        assert sql_backend.url is not None
        sql_backend.open().record_success("t", "S1", "u1", "a" * 64, UP, T0)
        upgraded = SqlStore(sql_backend.url, migrations=NEXT)
        sql_backend.opened.append(upgraded)
        assert version_of(sql_backend.url) == LATEST + 1
        assert upgraded.records("t")["S1"].synced_at == T0

    def test_version_one_database_gains_observer_links(self, sql_backend: Backend) -> None:
        """A database from before observer links (version 1) is upgraded, keeps its records, and stores links."""
        assert sql_backend.url is not None
        _old_database_with_a_record(sql_backend.url, MIGRATIONS[:1])
        store = sql_backend.open()
        store.record_observer_link(ObserverLink("t", "S1", "pat@example.com", "1001", "2001", "direct", T0))
        assert version_of(sql_backend.url) == LATEST >= 2
        assert (store.records("t")["S1"].synced_at, len(store.observer_links("t"))) == (T0, 1)

    def test_version_two_records_gain_an_empty_file_name(self, sql_backend: Backend) -> None:
        """Records from before the two alternating file names (version 2) read back with file_name None,
        which the Canvas client takes as the single name earlier versions used."""
        assert sql_backend.url is not None
        _old_database_with_a_record(sql_backend.url, MIGRATIONS[:2])
        store = sql_backend.open()
        record = store.records("t")["S1"]
        assert (record.file_id, record.file_name, record.synced_at) == ("101", None, T0)
        store.record_success("t", "S1", "u1", "b" * 64, Uploaded("102", "u2", "https://x/2", "102/u2", "n.jpg"), T0)
        assert store.records("t")["S1"].file_name == "n.jpg"

    def test_newer_database_refused(self, sql_backend: Backend) -> None:
        """A database migrated by a newer profilesync is refused with advice to upgrade."""
        assert sql_backend.url is not None
        engine = create_engine(sql_backend.url)
        migrate(engine, NEXT)
        engine.dispose()
        with pytest.raises(SchemaTooNewError, match=f"version {LATEST + 1}") as raised:
            sql_backend.open()
        assert isinstance(raised.value, ConfigError) and "upgrade profilesync" in str(raised.value)

    def test_reopen_keeps_data(self, sql_backend: Backend) -> None:
        """A store reopened on the same database sees what the previous one wrote."""
        first = sql_backend.open()
        first.record_success("t", "S1", "u1", "a" * 64, UP, T0)
        first.close()
        assert sql_backend.open().records("t")["S1"].photo_sha256 == "a" * 64

    def test_concurrent_first_opens_migrate_once(self, sql_backend: Backend, run_threads: RunThreads) -> None:
        """Several processes' worth of stores opening a new database at once all succeed."""
        barrier = threading.Barrier(4)

        def open_one(_: int) -> None:
            barrier.wait()
            sql_backend.open()

        run_threads(4, open_one)
        assert sql_backend.url is not None
        assert version_of(sql_backend.url) == LATEST


class TestOpening:
    def test_default_is_sqlite_in_user_data_dir(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """With no URL the store is a SQLite file in the per-user data directory, created on demand."""
        monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
        store = open_store(None)
        store.close()
        assert (tmp_path / "data" / "profilesync" / "history.sqlite3").is_file()

    def test_memory_url_opens_the_twin(self) -> None:
        """The special URL memory:// opens the in-memory store."""
        assert isinstance(open_store("memory://"), MemoryStore)

    def test_sqlite_in_memory_url_shared_by_threads(self, run_threads: RunThreads) -> None:
        """A SQLAlchemy in-memory SQLite URL gives one database that every thread sees."""
        store = open_store("sqlite://")

        def write(n: int) -> None:
            for i in range(10):
                store.record_success("t", f"S{n}-{i}", "u", "a" * 64, UP, T0)

        run_threads(8, write)
        assert len(store.records("t")) == 80

    def test_bad_url_is_a_config_error(self) -> None:
        """A URL SQLAlchemy cannot parse is reported as configuration, without echoing it."""
        with pytest.raises(ConfigError, match="cannot open the history database") as raised:
            open_store("not a url:secret")
        assert "secret" not in str(raised.value)

    def test_unknown_driver_is_a_config_error(self) -> None:
        """A URL naming a missing database driver is reported as configuration."""
        with pytest.raises(ConfigError, match="cannot open"):
            open_store("nosuchdb://user@host/db")

    def test_unreachable_server_hides_password(self) -> None:
        """A server that cannot be reached is a config error whose message hides the password."""
        with pytest.raises(ConfigError, match="cannot open") as raised:
            open_store("postgresql+psycopg://user:hunter2@127.0.0.1:1/db?connect_timeout=5")
        assert "hunter2" not in str(raised.value)

    def test_sqlite_missing_directory_is_a_config_error(self, tmp_path: Path) -> None:
        """A SQLite path in a directory that does not exist is reported as configuration."""
        with pytest.raises(ConfigError, match="cannot open"):
            open_store(f"sqlite:///{tmp_path / 'missing' / 'history.sqlite3'}")


class TestSqliteTuning:
    def test_wal_journal_mode(self, tmp_path: Path) -> None:
        """SQLite files are switched to write-ahead logging, so readers never block the writer."""
        url = f"sqlite:///{tmp_path / 'h.sqlite3'}"
        SqlStore(url).close()
        engine = create_engine(url)
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        engine.dispose()


def test_openers_racing_on_a_new_sqlite_file_all_succeed(tmp_path: Path) -> None:
    """Eight openers of one new SQLite file at once, forty times over: none fails with "database is locked"
    (SQLite refuses a concurrent switch to WAL at once, without its busy handler; the store waits instead)."""
    for round_ in range(40):
        url = f"sqlite:///{tmp_path / f'history-{round_}.sqlite3'}"
        barrier = threading.Barrier(8)
        errors: list[BaseException] = []

        def open_one(url: str, barrier: threading.Barrier, errors: list[BaseException]) -> None:
            barrier.wait()
            try:
                open_store(url).close()
            except BaseException as exc:  # collected: a thread's exception would otherwise be lost
                errors.append(exc)

        threads = [threading.Thread(target=open_one, args=(url, barrier, errors)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == [], f"round {round_}: {errors[0]!r}"
