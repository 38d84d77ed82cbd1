"""Engines tuned per backend, and the write transaction every store write goes through."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import URL, Connection, Engine, create_engine, event
from sqlalchemy.pool import StaticPool
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_fixed

# Connection execution option marking a transaction that will write (see _begin below).
_WRITE_OPTION = "profilesync_write"
SQLITE_BUSY_TIMEOUT_MS = 30_000


def is_sqlite_memory(url: URL) -> bool:
    """Whether the URL is a private in-memory SQLite database (one connection, shared by all threads)."""
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def create_store_engine(url: URL) -> Engine:
    """An engine for the history store; SQLite gets WAL, a busy timeout and explicit transactions."""
    if url.get_backend_name() != "sqlite":
        # pre_ping: a nightly run may hold a pooled connection across a server restart.
        return create_engine(url, pool_pre_ping=True)
    if is_sqlite_memory(url):
        # One shared connection, or each thread would see its own empty database; the store serialises it.
        engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        engine = create_engine(url, connect_args={"check_same_thread": False})
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy emit BEGIN itself (the pysqlite driver's own transaction handling skips DDL and
    # cannot say IMMEDIATE); recipe from SQLAlchemy's SQLite dialect docs, "Transactional DDL".
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")  # before WAL: switching may wait
        _switch_to_wal(cursor)  # readers never block the writer, nor it them
        cursor.execute("PRAGMA synchronous = NORMAL")  # durable enough under WAL, and much faster
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _switch_to_wal(cursor: Any) -> None:
    """``PRAGMA journal_mode = WAL``, waiting for other openers of a new database.

    SQLite answers "database is locked" at once, without its busy handler, when another connection is switching
    the same new file to WAL at that moment (found by the store's concurrent-first-open test: several processes
    starting on a new database): a short wait and another try is all it needs.
    """
    retrying = Retrying(
        stop=stop_after_delay(SQLITE_BUSY_TIMEOUT_MS / 1000),
        wait=wait_fixed(0.01),
        retry=retry_if_exception(lambda exc: isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)),
        reraise=True,
    )
    retrying(cursor.execute, "PRAGMA journal_mode = WAL")


def _sqlite_begin(conn: Connection) -> None:
    # A write transaction takes SQLite's write lock up front (IMMEDIATE), so it waits in busy_timeout for
    # other writers instead of failing with "database is locked" when a read lock cannot be upgraded.
    write = conn.get_execution_options().get(_WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that commits on success and rolls back on error."""
    with engine.connect() as conn:
        conn.execution_options(**{_WRITE_OPTION: True})
        with conn.begin():
            yield conn
