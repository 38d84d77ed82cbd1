"""The history store: what was synced, the photo fingerprint cache, runs, and the one-run-at-a-time lock.

The adapter behind the engine's ``HistoryStore`` port (:mod:`profilesync.engine.ports`).
``open_store(url)`` is the one way in: ``None`` opens the default SQLite file, ``"memory://"`` the in-memory
twin, anything else is a SQLAlchemy URL (schema migrations are applied on open).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from profilesync.engine.ports import HistoryStore
from profilesync.store.lock import LockSettings
from profilesync.store.memory import MemoryDatabase, MemoryStore
from profilesync.store.migrations import SchemaTooNewError
from profilesync.store.sql import SqlStore

__all__ = [
    "MEMORY_URL",
    "LockSettings",
    "MemoryDatabase",
    "MemoryStore",
    "SchemaTooNewError",
    "SqlStore",
    "default_database_path",
    "open_store",
]

MEMORY_URL = "memory://"  # not a SQLAlchemy URL: the in-memory twin, for tests and throwaway runs


def default_database_path() -> Path:
    """Where the history lives when PROFILESYNC_DATABASE_URL is unset (a per-user data directory)."""
    import platformdirs  # only when no URL is configured, as on a server whose .env names the database

    return Path(platformdirs.user_data_dir("profilesync", appauthor=False)) / "history.sqlite3"


def open_store(
    url: str | None = None, *, lock_settings: LockSettings | None = None, keep_runs_days: int = 0
) -> HistoryStore:
    """Open (creating and migrating as needed) the history store at a SQLAlchemy URL.

    ``keep_runs_days`` > 0: each recorded run, as it finishes, forgets the runs (and their events) started more
    than that many days before; 0 keeps every run. Sync records are the sync state and are never pruned.
    Raises ConfigError for a URL that cannot be opened or a database written by a newer profilesync.
    """
    keep_runs = timedelta(days=keep_runs_days) if keep_runs_days > 0 else None
    if url == MEMORY_URL:
        return MemoryStore(lock_settings=lock_settings, keep_runs=keep_runs)
    if url is None:
        path = default_database_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{path}"
    return SqlStore(url, lock_settings=lock_settings, keep_runs=keep_runs)
