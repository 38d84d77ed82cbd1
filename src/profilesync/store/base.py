"""The history store interface: what was synced, the photo fingerprint cache, runs, and the run lock."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from profilesync.engine.model import SyncRecord, Uploaded


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """A cached content hash (and validation verdict) of one photo file, keyed by (path, size, mtime)."""

    path: str
    size: int
    mtime_ns: int
    sha256: str | None
    problem: str | None


@dataclass(frozen=True, slots=True)
class ObserverLink:
    """An observer (parent) → student link that profilesync made and verified (DESIGN.md §7, §8).

    Keyed by target, student key (SIS id) and parent email (lower-cased, as Canvas compares logins); the
    Canvas ids say which two accounts were linked, so a later run can tell "we linked these two and someone
    removed the link" from "a different account now holds that key or email".
    """

    target_id: str
    student_key: str
    parent_email: str
    student_id: str
    parent_id: str
    method: str  # "direct" or "pairing-code"
    linked_at: datetime


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One recorded run of a command."""

    run_id: int
    target_id: str
    command: str
    started_at: datetime
    ended_at: datetime | None
    counts: Mapping[str, int]
    exit_code: int | None


@dataclass(frozen=True, slots=True)
class RunEvent:
    """One user's (or row's) outcome in a run; unchanged users are not logged, to keep the table small."""

    run_id: int
    key: str
    user_id: str | None
    outcome: str
    reason: str | None
    message: str | None
    at: datetime


class HistoryStore(Protocol):
    """Implemented by the SQLAlchemy store and by its in-memory twin; both pass the same contract tests."""

    # -- sync records -------------------------------------------------------------------------------
    def records(self, target_id: str) -> dict[str, SyncRecord]:
        """Every record of one target, by key."""
        ...

    def record_success(
        self, target_id: str, key: str, user_id: str, photo_sha256: str, uploaded: Uploaded, at: datetime
    ) -> None:
        """Remember a verified sync (clears any earlier error)."""
        ...

    def record_failure(self, target_id: str, key: str, user_id: str, error: str, at: datetime) -> None:
        """Remember a failure without touching what was last synced successfully."""
        ...

    def history(self, target_id: str | None = None, key: str | None = None) -> list[SyncRecord]:
        """Records, newest sync first, optionally for one target and/or key."""
        ...

    # -- target names ---------------------------------------------------------------------------------
    def target_ids(self) -> set[str]:
        """Every target name the history holds sync records, observer links or runs under."""
        ...

    def adopt_target(self, old_id: str, new_id: str) -> int:
        """File what was recorded under ``old_id`` (an earlier name of the same target) under ``new_id``, in one
        transaction: sync records, observer links and runs. A key already recorded under ``new_id`` keeps that
        record (the old one is dropped). Returns how many sync records moved."""
        ...

    # -- photo fingerprint cache --------------------------------------------------------------------
    def fingerprints(self) -> dict[str, Fingerprint]:
        """The whole cache, by path."""
        ...

    def save_fingerprints(self, entries: Iterable[Fingerprint]) -> None:
        """Insert or replace cache entries."""
        ...

    # -- observer links -----------------------------------------------------------------------------
    def record_observer_link(self, link: ObserverLink) -> None:
        """Remember a verified link; a link recorded again for the same (target, student key, parent email)
        replaces the earlier record. The email is stored lower-cased."""
        ...

    def observer_links(
        self, target_id: str | None = None, *, student_key: str | None = None, parent_email: str | None = None
    ) -> list[ObserverLink]:
        """Recorded links, newest first, optionally for one target, student key and/or parent email
        (the email matched case-insensitively)."""
        ...

    # -- runs ----------------------------------------------------------------------------------------
    def start_run(self, target_id: str, command: str, at: datetime) -> int:
        """Record a run's start; returns its id."""
        ...

    def log_event(self, event: RunEvent) -> None:
        """Record one user's outcome in a run."""
        ...

    def finish_run(self, run_id: int, at: datetime, counts: Mapping[str, int], exit_code: int) -> None:
        """Record a run's end."""
        ...

    def runs(self, limit: int = 20) -> list[RunRecord]:
        """Recent runs, newest first."""
        ...

    def events(self, run_id: int | None = None, key: str | None = None) -> Iterator[RunEvent]:
        """Run events, newest first, optionally for one run and/or key."""
        ...

    # -- the run locks -------------------------------------------------------------------------------
    def lock(self, owner: str, *, job: str) -> AbstractContextManager[None]:
        """Hold the one-run-at-a-time lock of one job (see :mod:`profilesync.store.lock`) in this database,
        or raise LockedError at once; other jobs' locks are independent."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
