"""The history store on any SQLAlchemy database (SQLite by default, PostgreSQL in bigger setups)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import URL, Connection, Select, and_, delete, make_url, select, union, update
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, NoSuchModuleError

from profilesync.engine.model import Fingerprint, ObserverLink, RunEvent, RunRecord, SyncRecord, Uploaded
from profilesync.errors import ConfigError
from profilesync.store.connect import create_store_engine, is_sqlite_memory, write_transaction
from profilesync.store.lock import LeaseLock, LockSettings
from profilesync.store.migrations import MIGRATIONS, Migration, migrate
from profilesync.store.schema import observer_links, photo_fingerprints, run_events, runs, sync_records
from profilesync.store.sql_lock import SqlLockBackend
from profilesync.store.upsert import upsert
from profilesync.store.utc import to_utc

# A success writes every column of the record but its primary key (target_id, key).
_SUCCESS_COLUMNS = tuple(f.name for f in fields(SyncRecord))[2:]
_FINGERPRINT_COLUMNS = ("size", "mtime_ns", "sha256", "problem")
# Selected in the dataclasses' field order so rows unpack positionally: attribute access on 20,000 rows
# costs more than the query itself.
_RECORD_COLUMNS = tuple(sync_records.c[f.name] for f in fields(SyncRecord))
_FINGERPRINT_SELECT = tuple(photo_fingerprints.c[f.name] for f in fields(Fingerprint))
# Rows fetched at a time by the whole-table reads: a district's 100,000 records are built as they arrive, never
# held twice (rows and records: +25 MB at that size); PostgreSQL streams them from a server-side cursor.
_STREAM_ROWS = 2_000
_LINK_SELECT = tuple(observer_links.c[f.name] for f in fields(ObserverLink))
_LINK_UPDATE = ("student_id", "parent_id", "method", "linked_at")

log = logging.getLogger(__name__)


class SqlStore:
    """:class:`~profilesync.engine.ports.HistoryStore` over SQLAlchemy Core; safe to share between threads."""

    def __init__(
        self,
        url: str | URL,
        *,
        lock_settings: LockSettings | None = None,
        migrations: Sequence[Migration] = MIGRATIONS,
        keep_runs: timedelta | None = None,
    ) -> None:
        self._keep_runs = keep_runs  # None: keep every run
        try:
            self.url = make_url(url)
        except ArgumentError as exc:
            raise _open_error(None, exc) from exc
        try:
            self._engine = create_store_engine(self.url)
        except (ArgumentError, NoSuchModuleError, ImportError) as exc:  # unknown backend, driver not installed
            raise _open_error(self.url, exc) from exc
        sqlite = self.url.get_backend_name() == "sqlite"
        # SQLite has one writer at a time: queue our own threads here rather than in its busy handler.
        self._write_lock: AbstractContextManager[Any] = threading.RLock() if sqlite else nullcontext()
        # A private in-memory SQLite database is one connection: reads must queue too.
        self._read_lock = self._write_lock if is_sqlite_memory(self.url) else nullcontext()
        try:
            migrate(self._engine, migrations)
        except DBAPIError as exc:  # unreachable, refused, no such database, no permission to create tables
            self._engine.dispose()
            raise _open_error(self.url, exc) from exc
        except BaseException:
            self._engine.dispose()
            raise
        self._lease = LeaseLock(SqlLockBackend(self._write, self._read), lock_settings or LockSettings())

    @property
    def display_url(self) -> str:
        """The database URL with any password hidden, for logs and ``doctor``."""
        return self.url.render_as_string(hide_password=True)

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._write_lock, write_transaction(self._engine) as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._read_lock, self._engine.connect() as conn:
            yield conn

    # -- sync records -------------------------------------------------------------------------------
    def records(self, target_id: str, keys: Collection[str] | None = None) -> dict[str, SyncRecord]:
        # One query, on the primary key (target_id, key): the whole target for a full plan, a lookup for --user.
        # The target id is not selected but shared, as is each of the two file names: ~14 MB less at 100,000.
        query = select(*_RECORD_COLUMNS[1:]).where(sync_records.c.target_id == target_id)
        if keys is not None:
            query = query.where(sync_records.c.key.in_(sorted(set(keys))))
        found: dict[str, SyncRecord] = {}
        names: dict[str | None, str | None] = {}
        with self._read() as conn:
            for k, u, sha, fid, uuid, url, ref, at, err, err_at, name, locked in _streamed(conn, query):
                found[k] = SyncRecord(
                    target_id, k, u, sha, fid, uuid, url, ref, at, err, err_at, names.setdefault(name, name), locked
                )
        return found

    def record_success(
        self, target_id: str, key: str, user_id: str, photo_sha256: str, uploaded: Uploaded, at: datetime
    ) -> None:
        row = {
            "target_id": target_id,
            "key": key,
            "user_id": user_id,
            "photo_sha256": photo_sha256,
            "file_id": uploaded.file_id,
            "file_uuid": uploaded.file_uuid,
            "avatar_url": uploaded.avatar_url,
            "avatar_ref": uploaded.avatar_ref,
            "synced_at": to_utc(at),
            "last_error": None,
            "last_error_at": None,
            "file_name": uploaded.file_name,
            "locked": uploaded.locked,
        }
        with self._write() as conn:
            upsert(conn, sync_records, [row], ("target_id", "key"), _SUCCESS_COLUMNS)

    def record_failure(self, target_id: str, key: str, user_id: str, error: str, at: datetime) -> None:
        row = {
            "target_id": target_id,
            "key": key,
            "user_id": user_id,
            "last_error": error,
            "last_error_at": to_utc(at),
        }
        # On an existing record only the error columns change: the last verified sync stays as it was.
        with self._write() as conn:
            upsert(conn, sync_records, [row], ("target_id", "key"), ("last_error", "last_error_at"))

    def history(self, target_id: str | None = None, key: str | None = None) -> list[SyncRecord]:
        query = select(*_RECORD_COLUMNS).order_by(
            sync_records.c.synced_at.is_(None),  # never-synced last, portably (no NULLS LAST needed)
            sync_records.c.synced_at.desc(),
            sync_records.c.target_id,
            sync_records.c.key,
        )
        if target_id is not None:
            query = query.where(sync_records.c.target_id == target_id)
        if key is not None:
            query = query.where(sync_records.c.key == key)
        with self._read() as conn:
            rows = conn.execute(query).all()
        return [SyncRecord(*row) for row in rows]

    # -- target names ---------------------------------------------------------------------------------
    def synced_any(self, target_id: str) -> bool:
        synced = and_(sync_records.c.target_id == target_id, sync_records.c.synced_at.is_not(None))
        with self._read() as conn:
            return conn.execute(select(sync_records.c.key).where(synced).limit(1)).first() is not None

    def target_ids(self) -> set[str]:
        query = union(select(sync_records.c.target_id), select(observer_links.c.target_id), select(runs.c.target_id))
        with self._read() as conn:
            return {str(row[0]) for row in conn.execute(query)}

    def adopt_target(self, old_id: str, new_id: str) -> int:
        if old_id == new_id:
            return 0
        with self._write() as conn:
            taken = select(sync_records.c.key).where(sync_records.c.target_id == new_id).scalar_subquery()
            moved = conn.execute(
                update(sync_records)
                .where(sync_records.c.target_id == old_id, sync_records.c.key.not_in(taken))
                .values(target_id=new_id)
            ).rowcount
            conn.execute(delete(sync_records).where(sync_records.c.target_id == old_id))
            linked = select(observer_links.c.student_key, observer_links.c.parent_email).where(
                observer_links.c.target_id == new_id
            )
            for student_key, parent_email in conn.execute(linked).all():
                conn.execute(
                    delete(observer_links).where(
                        observer_links.c.target_id == old_id,
                        observer_links.c.student_key == student_key,
                        observer_links.c.parent_email == parent_email,
                    )
                )
            conn.execute(update(observer_links).where(observer_links.c.target_id == old_id).values(target_id=new_id))
            conn.execute(update(runs).where(runs.c.target_id == old_id).values(target_id=new_id))
        return int(moved)

    # -- photo fingerprint cache --------------------------------------------------------------------
    def fingerprints(self, paths: Collection[str] | None = None) -> dict[str, Fingerprint]:
        query = select(*_FINGERPRINT_SELECT)
        with self._read() as conn:
            if paths is None:
                return {row[0]: Fingerprint(*row) for row in _streamed(conn, query)}
            # One IN list, as records(keys) does: a scan asks photos.scan.CACHE_BATCH (500) paths at a time.
            rows = conn.execute(query.where(photo_fingerprints.c.path.in_(sorted(set(paths))))).all()
            return {row[0]: Fingerprint(*row) for row in rows}

    def save_fingerprints(self, entries: Iterable[Fingerprint]) -> None:
        # Last entry wins for a repeated path, as a plain dict update would; ON CONFLICT refuses repeats in
        # one statement on PostgreSQL.
        rows = {
            e.path: {
                "path": e.path,
                "size": e.size,
                "mtime_ns": e.mtime_ns,
                "sha256": e.sha256,
                "problem": e.problem,
            }
            for e in entries
        }
        if not rows:
            return
        with self._write() as conn:
            upsert(conn, photo_fingerprints, rows.values(), ("path",), _FINGERPRINT_COLUMNS)

    # -- observer links -----------------------------------------------------------------------------
    def record_observer_link(self, link: ObserverLink) -> None:
        row = {
            "target_id": link.target_id,
            "student_key": link.student_key,
            "parent_email": link.parent_email.lower(),
            "student_id": link.student_id,
            "parent_id": link.parent_id,
            "method": link.method,
            "linked_at": to_utc(link.linked_at),
        }
        with self._write() as conn:
            upsert(conn, observer_links, [row], ("target_id", "student_key", "parent_email"), _LINK_UPDATE)

    def observer_links(
        self, target_id: str | None = None, *, student_key: str | None = None, parent_email: str | None = None
    ) -> list[ObserverLink]:
        query = select(*_LINK_SELECT).order_by(
            observer_links.c.linked_at.desc(),
            observer_links.c.target_id,
            observer_links.c.student_key,
            observer_links.c.parent_email,
        )
        if target_id is not None:
            query = query.where(observer_links.c.target_id == target_id)
        if student_key is not None:
            query = query.where(observer_links.c.student_key == student_key)
        if parent_email is not None:
            query = query.where(observer_links.c.parent_email == parent_email.lower())
        with self._read() as conn:
            rows = conn.execute(query).all()
        return [ObserverLink(*row) for row in rows]

    # -- runs ----------------------------------------------------------------------------------------
    def start_run(self, target_id: str, command: str, at: datetime) -> int:
        values = {"target_id": target_id, "command": command, "started_at": to_utc(at), "counts": "{}"}
        with self._write() as conn:
            new_key = conn.execute(runs.insert().values(values)).inserted_primary_key
        assert new_key is not None
        return int(new_key[0])

    def log_event(self, event: RunEvent) -> None:
        values = {
            "run_id": event.run_id,
            "key": event.key,
            "user_id": event.user_id,
            "outcome": event.outcome,
            "reason": event.reason,
            "message": event.message,
            "at": to_utc(event.at),
        }
        try:
            with self._write() as conn:
                conn.execute(run_events.insert().values(values))
        except IntegrityError as exc:  # the foreign key: no such run
            raise KeyError(event.run_id) from exc

    def finish_run(self, run_id: int, at: datetime, counts: Mapping[str, int], exit_code: int) -> None:
        values = {"ended_at": to_utc(at), "counts": _dump_counts(counts), "exit_code": exit_code}
        with self._write() as conn:
            if conn.execute(update(runs).where(runs.c.id == run_id).values(values)).rowcount == 0:
                raise KeyError(run_id)
            if self._keep_runs is not None:
                _prune_runs(conn, before=to_utc(at) - self._keep_runs, spare=run_id)

    def runs(self, limit: int = 20) -> list[RunRecord]:
        query = select(runs).order_by(runs.c.started_at.desc(), runs.c.id.desc()).limit(limit)
        with self._read() as conn:
            return [
                RunRecord(
                    run_id=r.id,
                    target_id=r.target_id,
                    command=r.command,
                    started_at=r.started_at,
                    ended_at=r.ended_at,
                    counts=json.loads(r.counts),
                    exit_code=r.exit_code,
                )
                for r in conn.execute(query)
            ]

    def events(self, run_id: int | None = None, key: str | None = None) -> Iterator[RunEvent]:
        query = select(run_events).order_by(run_events.c.at.desc(), run_events.c.id.desc())
        if run_id is not None:
            query = query.where(run_events.c.run_id == run_id)
        if key is not None:
            query = query.where(run_events.c.key == key)
        # Fetched whole, so no connection stays checked out while the caller iterates.
        with self._read() as conn:
            found = [
                RunEvent(r.run_id, r.key, r.user_id, r.outcome, r.reason, r.message, r.at) for r in conn.execute(query)
            ]
        return iter(found)

    # -- the run lock --------------------------------------------------------------------------------
    def lock(self, owner: str, *, job: str) -> AbstractContextManager[None]:
        return self._lease.hold(owner, job)

    def close(self) -> None:
        self._engine.dispose()


def _streamed(conn: Connection, query: Select[Any]) -> Iterator[Any]:
    """The query's rows, fetched _STREAM_ROWS at a time."""
    for part in conn.execution_options(yield_per=_STREAM_ROWS).execute(query).partitions():
        yield from part


def _prune_runs(conn: Connection, *, before: datetime, spare: int) -> None:
    """Forget the runs started before ``before`` and their events (never ``spare``, the run being recorded).

    Both deletes are range lookups (ix_runs_started_at, ix_run_events_run_id): a nightly run removes the one
    run that fell out of the window. The events go first and explicitly rather than by the foreign key's
    cascade, which SQLite only honours on connections that turned foreign keys on.
    """
    old = and_(runs.c.started_at < before, runs.c.id != spare)
    conn.execute(delete(run_events).where(run_events.c.run_id.in_(select(runs.c.id).where(old))))
    pruned = conn.execute(delete(runs).where(old)).rowcount
    if pruned:
        log.info("history: forgot %d runs started before %s", pruned, before.date().isoformat())


def _dump_counts(counts: Mapping[str, int]) -> str:
    return json.dumps({str(k): int(v) for k, v in counts.items()}, sort_keys=True)


def _open_error(url: URL | None, exc: BaseException) -> ConfigError:
    # Never echo an unparseable URL: it may hold a password SQLAlchemy could not find to hide.
    shown = url.render_as_string(hide_password=True) if url is not None else "(unparseable URL)"
    reason = getattr(exc, "orig", None) or exc  # the driver's own words, without SQLAlchemy's boilerplate
    error = ConfigError([f"cannot open the history database {shown}: {reason}"])
    error.advice = (
        "check PROFILESYNC_DATABASE_URL (a SQLAlchemy URL such as sqlite:///path/history.sqlite3 or "
        "postgresql+psycopg://user@host/db; PostgreSQL needs `pip install 'profilesync[postgres]'`)"
    )
    return error
