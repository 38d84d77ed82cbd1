"""The run lock's row operations on a SQLAlchemy history database (the lease logic is in ``store/lock.py``)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, select, update
from sqlalchemy.exc import IntegrityError

from profilesync.store.lock import LockRow
from profilesync.store.schema import run_lock

#: the store's own transactions: a write (BEGIN IMMEDIATE on SQLite) or a read
Transaction = Callable[[], AbstractContextManager[Connection]]


class SqlLockBackend:
    """The lock row operations, each its own short transaction."""

    def __init__(self, write: Transaction, read: Transaction) -> None:
        self._write = write
        self._read = read

    def insert_lock(self, job: str, row: LockRow) -> bool:
        try:
            with self._write() as conn:
                conn.execute(run_lock.insert().values(name=job, **_lock_values(row)))
        except IntegrityError:  # the primary key: somebody holds it
            return False
        return True

    def read_lock(self, job: str) -> LockRow | None:
        with self._read() as conn:
            r = conn.execute(select(run_lock).where(run_lock.c.name == job)).first()
        if r is None:
            return None
        return LockRow(r.token, r.owner, r.hostname, r.pid, r.acquired_at, r.expires_at)

    def replace_lock(self, job: str, expected_token: str, row: LockRow) -> bool:
        # Compare-and-swap: of several contenders replacing the same stale row, exactly one matches.
        where = and_(run_lock.c.name == job, run_lock.c.token == expected_token)
        with self._write() as conn:
            return conn.execute(update(run_lock).where(where).values(_lock_values(row))).rowcount == 1

    def renew_lock(self, job: str, token: str, expires_at: datetime) -> bool:
        where = and_(run_lock.c.name == job, run_lock.c.token == token)
        with self._write() as conn:
            return conn.execute(update(run_lock).where(where).values(expires_at=expires_at)).rowcount == 1

    def delete_lock(self, job: str, token: str) -> None:
        with self._write() as conn:
            conn.execute(delete(run_lock).where(run_lock.c.name == job, run_lock.c.token == token))


def _lock_values(row: LockRow) -> dict[str, Any]:
    return {
        "token": row.token,
        "owner": row.owner,
        "hostname": row.hostname,
        "pid": row.pid,
        "acquired_at": row.acquired_at,
        "expires_at": row.expires_at,
    }
