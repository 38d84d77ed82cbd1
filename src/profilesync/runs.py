"""The shell every recorded job runs in: the history store, the job's lock, the run record and its exit code.

``avatars sync`` and ``observers sync`` both run inside :func:`recorded_run`; each brings only its own work
and says, once the work ended (or was stopped), what it counts and whether anything failed.
"""

from __future__ import annotations

import getpass
import logging
import os
import socket
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple, Protocol

from profilesync.config import Settings
from profilesync.engine.ports import HistoryStore
from profilesync.errors import ExitCode, ProfilesyncError, RunInterrupted
from profilesync.interrupt import Stop
from profilesync.store import open_store

log = logging.getLogger(__name__)

DEFAULT_WORKERS = 24  # users (or parents) in flight; the rate gate decides how many requests actually are


def now_utc() -> datetime:
    return datetime.now(UTC)


def lock_owner() -> str:
    """Who holds a lock, as its holder and the next run's refusal name it."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "?"
    return f"{user}@{socket.gethostname()} pid {os.getpid()}"


@contextmanager
def opened_store(settings: Settings) -> Iterator[HistoryStore]:
    store = open_store(settings.database_url, keep_runs_days=settings.keep_runs_days)
    try:
        yield store
    finally:
        store.close()


def describe_counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {outcome}" for outcome, n in counts.items())


class Named(Protocol):
    """What a run is recorded under: an avatar target or the observers' Canvas."""

    @property
    def target_id(self) -> str: ...


class Tally(NamedTuple):
    """What a job did, as its run record keeps it."""

    counts: Mapping[str, int]
    failed: bool  # some users or rows failed: a run that otherwise ended well exits PARTIAL


@dataclass
class Run:
    """A run being recorded: its id, the target it runs on, and how it ended once it did."""

    run_id: int
    target_id: str
    #: OK while it runs; once it ended, the exit code recorded (a signal's 130 or 143 included)
    exit_code: int = ExitCode.OK
    counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def interrupted(self) -> bool:
        """Stopped by SIGINT/SIGTERM (or Ctrl-C) rather than ended."""
        return self.exit_code >= 128


@contextmanager
def recorded_run(
    store: HistoryStore,
    target: Named,
    *,
    job: str,
    command: str,
    stop: Stop,
    tally: Callable[[Run], Tally],
) -> Iterator[Run]:
    """Hold ``job``'s lock, record the run's start, and record its end whatever happens inside.

    The target is named only once the lock is held (naming it may ask the vendor). ``tally`` is called once the
    work ended, was stopped or failed, with ``run.exit_code`` already set to the error's or signal's code; its
    counts and ``failed`` make the recorded exit code (PARTIAL when the work ended well but something failed).
    Errors and interrupts propagate after the run is recorded; otherwise ``run.exit_code`` is the command's.
    """
    with store.lock(lock_owner(), job=job):
        target_id = target.target_id
        run = Run(store.start_run(target_id, command, now_utc()), target_id)
        try:
            yield run
        except (ProfilesyncError, RunInterrupted) as exc:
            run.exit_code = exc.exit_code
            raise
        except KeyboardInterrupt:
            run.exit_code = 130
            raise
        finally:
            with stop.deferred():  # a signal arriving now must not cut the run's record short
                counts, failed = tally(run)
                if run.exit_code == ExitCode.OK and failed:
                    run.exit_code = ExitCode.PARTIAL
                if run.interrupted:
                    log.warning("%s: interrupted, %s", target_id, describe_counts(counts))
                run.counts = counts
                store.finish_run(run.run_id, now_utc(), counts, run.exit_code)
