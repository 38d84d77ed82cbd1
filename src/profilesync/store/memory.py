"""The in-memory twin of the history store: plain dicts behind a lock, for fast engine tests."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from profilesync.engine.model import Fingerprint, ObserverLink, RunEvent, RunRecord, SyncRecord, Uploaded
from profilesync.store.lock import LeaseLock, LockRow, LockSettings, renewed
from profilesync.store.utc import to_utc


@dataclass
class MemoryDatabase:
    """What one database holds; several MemoryStores may share one, like processes sharing a file."""

    mutex: threading.RLock = field(default_factory=threading.RLock)
    records: dict[tuple[str, str], SyncRecord] = field(default_factory=dict)
    fingerprints: dict[str, Fingerprint] = field(default_factory=dict)
    observer_links: dict[tuple[str, str, str], ObserverLink] = field(default_factory=dict)
    runs: dict[int, RunRecord] = field(default_factory=dict)
    events: list[tuple[int, RunEvent]] = field(default_factory=list)  # (sequence, event)
    locks: dict[str, LockRow] = field(default_factory=dict)  # by job
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))


class MemoryStore:
    """:class:`~profilesync.engine.ports.HistoryStore` in memory; thread-safe, gone when dropped."""

    def __init__(
        self,
        database: MemoryDatabase | None = None,
        *,
        lock_settings: LockSettings | None = None,
        keep_runs: timedelta | None = None,
    ) -> None:
        self.database = database if database is not None else MemoryDatabase()
        self._keep_runs = keep_runs  # None: keep every run
        self._lease = LeaseLock(_MemoryLockBackend(self.database), lock_settings or LockSettings())

    # -- sync records -------------------------------------------------------------------------------
    def records(self, target_id: str, keys: Collection[str] | None = None) -> dict[str, SyncRecord]:
        with self.database.mutex:
            if keys is not None:
                found = ((k, self.database.records.get((target_id, k))) for k in set(keys))
                return {k: r for k, r in found if r is not None}
            return {k: r for (t, k), r in self.database.records.items() if t == target_id}

    def record_success(
        self, target_id: str, key: str, user_id: str, photo_sha256: str, uploaded: Uploaded, at: datetime
    ) -> None:
        record = SyncRecord(
            target_id=target_id,
            key=key,
            user_id=user_id,
            photo_sha256=photo_sha256,
            file_id=uploaded.file_id,
            file_uuid=uploaded.file_uuid,
            avatar_url=uploaded.avatar_url,
            avatar_ref=uploaded.avatar_ref,
            synced_at=to_utc(at),
            file_name=uploaded.file_name,
            locked=uploaded.locked,
        )
        with self.database.mutex:
            self.database.records[(target_id, key)] = record

    def record_failure(self, target_id: str, key: str, user_id: str, error: str, at: datetime) -> None:
        at = to_utc(at)
        with self.database.mutex:
            old = self.database.records.get((target_id, key))
            if old is None:
                new = SyncRecord(target_id, key, user_id, None, None, None, None, None, None, error, at)
            else:  # keep the last verified sync as it was
                new = replace(old, last_error=error, last_error_at=at)
            self.database.records[(target_id, key)] = new

    def history(self, target_id: str | None = None, key: str | None = None) -> list[SyncRecord]:
        with self.database.mutex:
            found = [
                r
                for r in self.database.records.values()
                if (target_id is None or r.target_id == target_id) and (key is None or r.key == key)
            ]
        # Same order as the SQL store: newest sync first, never-synced last, then by target and key.
        found.sort(key=lambda r: (r.target_id, r.key))
        found.sort(key=lambda r: r.synced_at.timestamp() if r.synced_at else 0.0, reverse=True)
        found.sort(key=lambda r: r.synced_at is None)
        return found

    # -- target names ---------------------------------------------------------------------------------
    def synced_any(self, target_id: str) -> bool:
        with self.database.mutex:
            return any(t == target_id and r.synced_at is not None for (t, _), r in self.database.records.items())

    def target_ids(self) -> set[str]:
        with self.database.mutex:
            found = {t for t, _ in self.database.records}
            found |= {t for t, _, _ in self.database.observer_links}
            found |= {r.target_id for r in self.database.runs.values()}
        return found

    def adopt_target(self, old_id: str, new_id: str) -> int:
        if old_id == new_id:
            return 0
        moved = 0
        with self.database.mutex:
            db = self.database
            for (target, key), record in list(db.records.items()):
                if target != old_id:
                    continue
                del db.records[(target, key)]
                if (new_id, key) not in db.records:
                    db.records[(new_id, key)] = replace(record, target_id=new_id)
                    moved += 1
            for (target, student, email), link in list(db.observer_links.items()):
                if target == old_id:
                    del db.observer_links[(target, student, email)]
                    db.observer_links.setdefault((new_id, student, email), replace(link, target_id=new_id))
            for run_id, run in list(db.runs.items()):
                if run.target_id == old_id:
                    db.runs[run_id] = replace(run, target_id=new_id)
        return moved

    # -- photo fingerprint cache --------------------------------------------------------------------
    def fingerprints(self, paths: Collection[str] | None = None) -> dict[str, Fingerprint]:
        with self.database.mutex:
            if paths is not None:
                found = ((p, self.database.fingerprints.get(p)) for p in set(paths))
                return {p: f for p, f in found if f is not None}
            return dict(self.database.fingerprints)

    def save_fingerprints(self, entries: Iterable[Fingerprint]) -> None:
        batch = {e.path: e for e in entries}
        with self.database.mutex:
            self.database.fingerprints.update(batch)

    # -- observer links -----------------------------------------------------------------------------
    def record_observer_link(self, link: ObserverLink) -> None:
        link = replace(link, parent_email=link.parent_email.lower(), linked_at=to_utc(link.linked_at))
        with self.database.mutex:
            self.database.observer_links[(link.target_id, link.student_key, link.parent_email)] = link

    def observer_links(
        self, target_id: str | None = None, *, student_key: str | None = None, parent_email: str | None = None
    ) -> list[ObserverLink]:
        email = parent_email.lower() if parent_email is not None else None
        with self.database.mutex:
            found = [
                lk
                for lk in self.database.observer_links.values()
                if (target_id is None or lk.target_id == target_id)
                and (student_key is None or lk.student_key == student_key)
                and (email is None or lk.parent_email == email)
            ]
        # Same order as the SQL store: newest first, then by target, student key and email.
        found.sort(key=lambda lk: (lk.target_id, lk.student_key, lk.parent_email))
        found.sort(key=lambda lk: lk.linked_at, reverse=True)
        return found

    # -- runs ----------------------------------------------------------------------------------------
    def start_run(self, target_id: str, command: str, at: datetime) -> int:
        at = to_utc(at)
        with self.database.mutex:
            run_id = next(self.database.ids)
            self.database.runs[run_id] = RunRecord(run_id, target_id, command, at, None, {}, None)
            return run_id

    def log_event(self, event: RunEvent) -> None:
        event = replace(event, at=to_utc(event.at))
        with self.database.mutex:
            if event.run_id not in self.database.runs:
                raise KeyError(event.run_id)
            self.database.events.append((len(self.database.events), event))

    def finish_run(self, run_id: int, at: datetime, counts: Mapping[str, int], exit_code: int) -> None:
        at = to_utc(at)
        with self.database.mutex:
            run = self.database.runs[run_id]  # KeyError for an unknown run, as the SQL store raises
            self.database.runs[run_id] = replace(run, ended_at=at, counts=dict(counts), exit_code=exit_code)
            if self._keep_runs is not None:  # as the SQL store prunes: runs started before the window
                before = at - self._keep_runs
                old = {i for i, r in self.database.runs.items() if r.started_at < before and i != run_id}
                for i in old:
                    del self.database.runs[i]
                self.database.events = [(seq, e) for seq, e in self.database.events if e.run_id not in old]

    def runs(self, limit: int = 20) -> list[RunRecord]:
        with self.database.mutex:
            found = list(self.database.runs.values())
        found.sort(key=lambda r: (r.started_at, r.run_id), reverse=True)
        return found[:limit]

    def events(self, run_id: int | None = None, key: str | None = None) -> Iterator[RunEvent]:
        with self.database.mutex:
            found = [
                (seq, e)
                for seq, e in self.database.events
                if (run_id is None or e.run_id == run_id) and (key is None or e.key == key)
            ]
        found.sort(key=lambda pair: (pair[1].at, pair[0]), reverse=True)
        return iter([e for _, e in found])

    # -- the run lock --------------------------------------------------------------------------------
    def lock(self, owner: str, *, job: str) -> AbstractContextManager[None]:
        return self._lease.hold(owner, job)

    def close(self) -> None:
        """Nothing to release."""


class _MemoryLockBackend:
    """The lock rows as a dict of the shared database, changed under its mutex."""

    def __init__(self, database: MemoryDatabase) -> None:
        self._db = database

    def insert_lock(self, job: str, row: LockRow) -> bool:
        with self._db.mutex:
            if job in self._db.locks:
                return False
            self._db.locks[job] = row
            return True

    def read_lock(self, job: str) -> LockRow | None:
        with self._db.mutex:
            return self._db.locks.get(job)

    def replace_lock(self, job: str, expected_token: str, row: LockRow) -> bool:
        with self._db.mutex:
            current = self._db.locks.get(job)
            if current is None or current.token != expected_token:
                return False
            self._db.locks[job] = row
            return True

    def renew_lock(self, job: str, token: str, expires_at: datetime) -> bool:
        with self._db.mutex:
            current = self._db.locks.get(job)
            if current is None or current.token != token:
                return False
            self._db.locks[job] = renewed(current, expires_at)
            return True

    def delete_lock(self, job: str, token: str) -> None:
        with self._db.mutex:
            current = self._db.locks.get(job)
            if current is not None and current.token == token:
                del self._db.locks[job]
