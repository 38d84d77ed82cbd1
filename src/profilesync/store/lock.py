"""One run at a time per job, each job's lock kept in the history database itself as a leased row.

Each job (Canvas avatars, Guru avatars, observers) has its own row, keyed by the job's name, so two runs of one
job exclude each other while different jobs never block each other. A lock row names its holder (owner, host,
pid) and carries a lease (``expires_at``) that a heartbeat thread renews while the run goes on. Living in the
database makes the lock work for SQLite and PostgreSQL alike, across hosts sharing one database, and lets it
survive nothing but the lease: a run killed with ``kill -9`` stops renewing, so its lock is taken over once the
lease runs out, or at once from the same host when its pid is gone.

The algorithm is written once, over a tiny :class:`LockBackend` (insert-if-absent, read,
compare-and-swap on the owner token, renew, delete) that the SQL store and the in-memory twin implement.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Protocol

from profilesync.errors import LockedError, RunInterrupted

log = logging.getLogger(__name__)

#: the jobs that lock: one lock row each (the ``run_lock.name`` primary key)
AVATARS_CANVAS = "avatars canvas"
AVATARS_GURU = "avatars guru"
OBSERVERS = "observers"


def avatars_job(target: str) -> str:
    """The lock name of ``avatars sync --target TARGET``."""
    return f"avatars {target}"


@dataclass(frozen=True)
class LockSettings:
    """How the lock leases and identifies its holder; tests shorten the lease or fake a pid."""

    lease: timedelta = timedelta(seconds=120)
    heartbeat: timedelta = timedelta(seconds=30)
    hostname: str | None = None  # None: this machine's name
    pid: int | None = None  # None: this process's id
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)

    def host(self) -> str:
        return self.hostname if self.hostname is not None else socket.gethostname()

    def process_id(self) -> int:
        return self.pid if self.pid is not None else os.getpid()


@dataclass(frozen=True)
class LockRow:
    """Who holds the lock, and until when their lease runs."""

    token: str  # unique per acquisition: release and renew only ever touch one's own row
    owner: str  # what the holder is doing, e.g. "avatars sync"
    hostname: str
    pid: int
    acquired_at: datetime
    expires_at: datetime


class LockBackend(Protocol):
    """The few atomic operations on one job's lock row that the algorithm needs."""

    def insert_lock(self, job: str, row: LockRow) -> bool:
        """Insert the job's row if it has none; False when it does."""
        ...

    def read_lock(self, job: str) -> LockRow | None:
        """The job's current lock row, if any."""
        ...

    def replace_lock(self, job: str, expected_token: str, row: LockRow) -> bool:
        """Replace the job's lock row only if it still carries ``expected_token``."""
        ...

    def renew_lock(self, job: str, token: str, expires_at: datetime) -> bool:
        """Extend one's own lease; False when the row is no longer ours."""
        ...

    def delete_lock(self, job: str, token: str) -> None:
        """Remove the job's lock row if it is ours."""
        ...


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host (signal 0 probes without signalling)."""
    if pid <= 0:
        return False
    if sys.platform == "win32":
        # os.kill(pid, 0) would send CTRL_C_EVENT there, not probe: assume alive and let the lease expire.
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user
    except OSError:
        return True  # cannot tell (e.g. Windows quirks): assume alive, the lease still frees it
    return True


def _takeable(current: LockRow, now: datetime, host: str) -> bool:
    """A lock can be taken over when its lease ran out or its holder on this host is gone."""
    if current.expires_at <= now:
        return True
    return current.hostname == host and not pid_alive(current.pid)


def _locked_error(job: str, current: LockRow) -> LockedError:
    since = current.acquired_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    until = current.expires_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    return LockedError(
        f"another profilesync run ({current.owner!r}) holds the {job!r} lock on this database: "
        f"host {current.hostname}, pid {current.pid}, since {since}",
        advice=(
            "wait for that run to finish; if it was killed, its lock is taken over automatically "
            f"when its lease ends ({until}), or at once by a run on the same host"
        ),
    )


class LeaseLock:
    """Acquires, renews and releases the lock row through a backend."""

    def __init__(self, backend: LockBackend, settings: LockSettings) -> None:
        self._backend = backend
        self._settings = settings

    def acquire(self, owner: str, job: str) -> LockRow:
        """Take the job's lock or raise LockedError naming the holder; never waits for it."""
        s = self._settings
        host = s.host()
        # A few rounds only: each lost round means another contender changed the row in between.
        for _ in range(5):
            now = s.clock()
            mine = LockRow(uuid.uuid4().hex, owner, host, s.process_id(), now, now + s.lease)
            if self._backend.insert_lock(job, mine):
                return mine
            current = self._backend.read_lock(job)
            if current is None:
                continue  # released between our insert and our read: try again
            if not _takeable(current, now, host):
                raise _locked_error(job, current)
            if self._backend.replace_lock(job, current.token, mine):
                log.warning(
                    "took over a stale lock from host %s pid %s (lease ended %s)",
                    current.hostname,
                    current.pid,
                    current.expires_at.isoformat(),
                )
                return mine
        current = self._backend.read_lock(job)
        if current is not None:
            raise _locked_error(job, current)
        raise LockedError("the run lock kept changing hands", advice="another run is starting; try again")

    @contextmanager
    def hold(self, owner: str, job: str) -> Iterator[None]:
        """Hold the job's lock for a with-block, renewing the lease from a heartbeat thread.

        A run interrupted while some of its workers could not be waited for (``RunInterrupted.abandoned``)
        keeps its row: the process exits at once, and the next run takes the lock over because its pid is gone
        (or its lease ran out), never while those workers may still be sending requests.
        """
        row = self.acquire(owner, job)
        stop = threading.Event()
        beat = threading.Thread(
            target=self._heartbeat, args=(job, row, stop), name="profilesync-lock-heartbeat", daemon=True
        )
        beat.start()
        release = True
        try:
            yield
        except RunInterrupted as exc:
            release = not exc.abandoned
            raise
        finally:
            stop.set()
            beat.join()
            if release:
                self._backend.delete_lock(job, row.token)

    def _heartbeat(self, job: str, row: LockRow, stop: threading.Event) -> None:
        s = self._settings
        while not stop.wait(s.heartbeat.total_seconds()):
            try:
                if not self._backend.renew_lock(job, row.token, s.clock() + s.lease):
                    # Someone took the lock over (our lease ran out, e.g. the machine slept): say so loudly.
                    log.error("lost the run lock to another run; this run is no longer exclusive")
                    return
            except Exception:  # a database hiccup must not kill the heartbeat; the next beat retries
                log.warning("could not renew the run lock lease", exc_info=True)


def renewed(row: LockRow, expires_at: datetime) -> LockRow:
    """A copy of a lock row with a new lease end (for backends that store rows whole)."""
    return replace(row, expires_at=expires_at)
