"""The ports: what the engine needs from the outside, owned here so adapters import the engine, never the reverse.

``AvatarTarget`` is implemented by each vendor's adapter (``profilesync.targets``), ``HistoryStore`` by the
SQLAlchemy store and its in-memory twin (``profilesync.store``). The engine, the planner and the jobs type
against these Protocols only, so importing the engine pulls in no SQL, HTTP or vendor code.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from profilesync.engine.model import (
    Fingerprint,
    ObserverLink,
    RemoteUser,
    RunEvent,
    RunRecord,
    SyncRecord,
    Uploaded,
)
from profilesync.errors import TransientError


class AvatarPending(TransientError):
    """The photo is on the target but cannot be shown yet (Canvas: no thumbnail so far). The user keeps the
    picture they had; ``uploaded`` names the new file so the history can make the next run finish it."""

    kind = "thumbnail_pending"

    def __init__(self, message: str, *, uploaded: Uploaded, advice: str | None = None) -> None:
        super().__init__(message, advice=advice)
        self.uploaded = uploaded


class AvatarTarget(Protocol):
    """A place avatars go. Canvas and Guru implement it; the engine knows nothing else."""

    @property
    def target_id(self) -> str:
        """Names this target instance in the history, e.g. ``canvas:root:<root account uuid>``."""
        ...

    #: images sent (reported beside the API requests, which ``requests_made`` counts)
    uploads_made: int

    @property
    def requests_made(self) -> int:
        """Requests sent to the vendor's API host so far: what the vendor meters."""
        ...

    def list_users(self) -> Iterator[RemoteUser]:
        """Stream every user the sync covers, with their current avatar, in as few requests as possible."""
        ...

    def find_user(self, key: str) -> RemoteUser | None:
        """Look one user up by key directly (``--user``); None when the target has no such user."""
        ...

    def upload_avatar(self, user: RemoteUser, image: bytes, previous: SyncRecord | None = None) -> Uploaded:
        """Upload the normalised JPEG as the user's avatar, assign it and verify it; raise on failure.

        ``previous`` is the history's record of this user (None when there is none): it says which file of
        ours the user shows, so the upload never replaces the picture on display. ``AvatarPending`` when the
        file is uploaded but cannot be shown yet.
        """
        ...

    def own_avatars(self, users: list[RemoteUser]) -> set[str]:
        """The ids of the users whose shown avatar is a file profilesync uploaded, recognised on the target
        itself (for users the history does not know). Costs requests: ask only about users that need it."""
        ...

    def reassign_avatar(self, user: RemoteUser, record: SyncRecord) -> Uploaded | None:
        """Put back the avatar we uploaded earlier; None when that file is gone (the caller uploads again)."""
        ...

    def before_writes(self) -> None:
        """Called once before the first write of a run: raise FatalRemoteError when every write would fail."""
        ...


class HistoryStore(Protocol):
    """Implemented by the SQLAlchemy store and by its in-memory twin; both pass the same contract tests."""

    # -- sync records -------------------------------------------------------------------------------
    def records(self, target_id: str, keys: Collection[str] | None = None) -> dict[str, SyncRecord]:
        """Every record of one target, by key; with ``keys``, only those keys' (a plan for one user)."""
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

    def synced_any(self, target_id: str) -> bool:
        """Whether any user of the target was ever synced successfully (one indexed look, not the records)."""
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
    def fingerprints(self, paths: Collection[str] | None = None) -> dict[str, Fingerprint]:
        """The whole cache, by path; with ``paths``, only those paths' entries (a scan asks a batch at a time)."""
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
