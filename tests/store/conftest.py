"""Backends for the history-store contract suite: in-memory, SQLite file, and PostgreSQL when available.

PostgreSQL runs when PROFILESYNC_TEST_POSTGRES_URL is set (``eval "$(bash scripts/ci-postgres.sh)"``);
each test gets a fresh schema there. Without it the PostgreSQL variants are skipped, except under CI=true,
where they fail: CI must exercise them.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from profilesync.engine.ports import HistoryStore
from profilesync.store import LockSettings, MemoryDatabase, MemoryStore, SqlStore
from support.postgres import postgres_url_or_skip


@dataclass
class Backend:
    """One database under test; ``open()`` gives another store on it, as another process would."""

    kind: str  # "memory", "sqlite" or "postgresql"
    url: str | None  # the SQLAlchemy URL (with password) every store here opens; None for memory
    memory: MemoryDatabase | None = None
    opened: list[HistoryStore] = field(default_factory=list)

    def open(self, lock_settings: LockSettings | None = None, keep_runs: timedelta | None = None) -> HistoryStore:
        store: HistoryStore
        if self.memory is not None:
            store = MemoryStore(self.memory, lock_settings=lock_settings, keep_runs=keep_runs)
        else:
            assert self.url is not None
            store = SqlStore(self.url, lock_settings=lock_settings, keep_runs=keep_runs)
        self.opened.append(store)
        return store

    def close_all(self) -> None:
        for store in self.opened:
            store.close()


@contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    """A URL whose connections live in a fresh schema of the test database, dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def make_backend(kind: str, tmp_path: Path) -> Iterator[Backend]:
    """A fresh, empty database of one kind."""
    with ExitStack() as stack:
        if kind == "memory":
            backend = Backend(kind, None, memory=MemoryDatabase())
        elif kind == "sqlite":
            backend = Backend(kind, f"sqlite:///{tmp_path / 'history.sqlite3'}")
        else:
            backend = Backend(kind, stack.enter_context(postgres_schema(postgres_url_or_skip())))
        stack.callback(backend.close_all)  # runs first: open connections would block DROP SCHEMA
        yield backend


POSTGRES = pytest.param("postgresql", marks=pytest.mark.postgres)


@pytest.fixture(params=["memory", "sqlite", POSTGRES])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Every store implementation, each on a fresh database."""
    with make_backend(request.param, tmp_path) as b:
        yield b


@pytest.fixture(params=["sqlite", POSTGRES])
def sql_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """The SQL implementation on each database it is tested on."""
    with make_backend(request.param, tmp_path) as b:
        yield b


@pytest.fixture
def store(backend: Backend) -> HistoryStore:
    """A store on a fresh database of each kind."""
    return backend.open()


def _run_threads(count: int, work: Callable[[int], None]) -> None:
    """Run ``work(0..count-1)`` on as many threads and re-raise the first error any of them hit."""
    errors: list[BaseException] = []

    def guarded(n: int) -> None:
        try:
            work(n)
        except BaseException as exc:  # handed to the test thread below
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    if errors:
        raise errors[0]


@pytest.fixture
def run_threads() -> Callable[[int, Callable[[int], None]], None]:
    """Runs a function on several threads at once, surfacing their errors."""
    return _run_threads
