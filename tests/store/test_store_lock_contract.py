"""The run-lock contract: one holder per job and database, jobs independent, stale locks taken over; every
implementation passes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from profilesync.engine.ports import HistoryStore
from profilesync.errors import ExitCode, LockedError, RunInterrupted
from profilesync.store import LockSettings
from profilesync.store.lock import AVATARS_CANVAS, AVATARS_GURU, OBSERVERS, avatars_job

if TYPE_CHECKING:
    from conftest import Backend

JOB = AVATARS_CANVAS
RunThreads = Callable[[int, Callable[[int], None]], None]

# What a second cron run does: open the same database, try the lock, exit 5 if it is held.
CHILD = """
import sys
from profilesync.errors import LockedError
from profilesync.store import open_store
store = open_store(sys.argv[1])
try:
    with store.lock("child", job="avatars canvas"):
        print("acquired")
except LockedError as exc:
    print(exc)
    sys.exit(exc.exit_code)
"""

# A run that takes the lock and then hangs, to be killed with SIGKILL.
HANG = """
import sys, time
from profilesync.store import open_store
with open_store(sys.argv[1]).lock("hung run", job="avatars canvas"):
    print("holding", flush=True)
    time.sleep(600)
"""


def dead_pid() -> int:
    """The pid of a process of this host that has already exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


Held = Callable[..., AbstractContextManager[None]]


@pytest.fixture
def held(backend: Backend) -> Iterator[Held]:
    """Enters a store's lock and leaves it entered, as a run still going (or killed) would; exits at teardown.

    The context manager must stay referenced: dropping it would run its cleanup and release the lock.
    """
    entered: list[AbstractContextManager[None]] = []

    def enter(store: HistoryStore, owner: str = "first", job: str = JOB) -> AbstractContextManager[None]:
        lock = store.lock(owner, job=job)
        lock.__enter__()
        entered.append(lock)
        return lock

    yield enter
    for lock in reversed(entered):
        lock.__exit__(None, None, None)


class TestRunLock:
    def test_second_acquire_while_held_raises(self, backend: Backend) -> None:
        """While one store holds the lock, another store of the same database gets LockedError."""
        first, second = backend.open(), backend.open()
        refused = pytest.raises(LockedError)
        with first.lock("avatars sync", job=JOB), refused as raised, second.lock("avatars sync", job=JOB):
            pass
        assert raised.value.exit_code == ExitCode.LOCKED

    def test_each_job_has_its_own_lock(self, backend: Backend) -> None:
        """Canvas avatars, Guru avatars and observers hold their locks at once; a second run of any one is
        refused, naming that job."""
        stores = [backend.open() for _ in range(3)]
        jobs = (AVATARS_CANVAS, AVATARS_GURU, OBSERVERS)
        with stores[0].lock("a", job=jobs[0]), stores[1].lock("b", job=jobs[1]), stores[2].lock("c", job=jobs[2]):
            for job in jobs:
                with pytest.raises(LockedError, match=repr(job)), backend.open().lock("again", job=job):
                    pass
        for job in jobs:  # all released
            with backend.open().lock("next", job=job):
                pass

    def test_job_names_of_the_avatar_targets(self) -> None:
        """``avatars sync --target T`` locks the job named after T, so the two targets never share a lock."""
        assert (avatars_job("canvas"), avatars_job("guru")) == (AVATARS_CANVAS, AVATARS_GURU)

    def test_locked_error_names_the_holder(self, backend: Backend) -> None:
        """The refusal names the holder's host, pid and start time, and gives advice."""
        first, second = backend.open(), backend.open()
        with first.lock("avatars sync", job=JOB), pytest.raises(LockedError) as raised, second.lock("x", job=JOB):
            pass
        message = str(raised.value)
        assert socket.gethostname() in message and f"pid {os.getpid()}" in message
        assert "since 20" in message and "'avatars sync'" in message and raised.value.advice

    def test_same_store_cannot_nest(self, store: HistoryStore) -> None:
        """Even the holding store cannot take the same job's lock twice."""
        with store.lock("outer", job=JOB), pytest.raises(LockedError), store.lock("inner", job=JOB):
            pass

    def test_interrupted_run_with_busy_workers_keeps_its_lock(self, backend: Backend) -> None:
        """A run interrupted while workers could not be waited for leaves its row (the pid's exit frees it);
        one interrupted after everything finished releases it."""
        first = backend.open()
        with pytest.raises(RunInterrupted), first.lock("abandoning", job=JOB):
            raise RunInterrupted(2, abandoned=True)
        with pytest.raises(LockedError, match="'abandoning'"), backend.open().lock("next", job=JOB):
            pass
        second = backend.open()
        with pytest.raises(RunInterrupted), second.lock("finished", job=OBSERVERS):
            raise RunInterrupted(15)
        with backend.open().lock("next", job=OBSERVERS):
            pass

    def test_released_after_block(self, backend: Backend) -> None:
        """Leaving the with-block frees the lock for the next run."""
        first, second = backend.open(), backend.open()
        with first.lock("one", job=JOB):
            pass
        with second.lock("two", job=JOB):
            pass

    def test_released_after_exception(self, backend: Backend) -> None:
        """An exception inside the with-block still frees the lock."""
        first, second = backend.open(), backend.open()
        with pytest.raises(RuntimeError), first.lock("one", job=JOB):
            raise RuntimeError("run crashed")
        with second.lock("two", job=JOB):
            pass

    def test_expired_lease_taken_over(self, backend: Backend, held: Held) -> None:
        """A lock whose lease has run out is taken over (a holder on another host that vanished)."""
        ghost = backend.open(LockSettings(lease=timedelta(seconds=-1), hostname="gone.example"))
        held(ghost)
        with backend.open().lock("next night", job=JOB):
            pass

    @pytest.mark.skipif(sys.platform == "win32", reason="pids are not probed on Windows; the lease frees the lock")
    def test_dead_pid_on_this_host_taken_over_at_once(self, backend: Backend, held: Held) -> None:
        """A lock held by a pid of this host that no longer exists is taken over before its lease ends."""
        killed = backend.open(LockSettings(pid=dead_pid()))
        held(killed)
        with backend.open().lock("next run", job=JOB):
            pass

    def test_dead_pid_on_other_host_waits_for_lease(self, backend: Backend, held: Held) -> None:
        """A pid of another host cannot be checked here, so its unexpired lock stands."""
        remote = backend.open(LockSettings(pid=dead_pid(), hostname="other-host.example"))
        held(remote)
        with pytest.raises(LockedError, match=r"other-host\.example"), backend.open().lock("x", job=JOB):
            pass

    def test_stale_holder_exit_keeps_new_holders_lock(self, backend: Backend, held: Held) -> None:
        """When a taken-over holder finally exits, it does not free its successor's lock."""
        stale = backend.open(LockSettings(lease=timedelta(seconds=-1)))
        stale_lock = held(stale)
        successor = backend.open()
        with successor.lock("successor", job=JOB):
            stale_lock.__exit__(None, None, None)
            with pytest.raises(LockedError, match="'successor'"), backend.open().lock("third", job=JOB):
                pass

    def test_heartbeat_keeps_lease_alive(self, backend: Backend) -> None:
        """A holder's heartbeat renews a short lease, so the lock stays held past it."""
        settings = LockSettings(lease=timedelta(seconds=1), heartbeat=timedelta(seconds=0.1))
        with backend.open(settings).lock("long run", job=JOB):
            time.sleep(1.6)
            with pytest.raises(LockedError), backend.open().lock("x", job=JOB):
                pass

    def test_threaded_race_has_one_winner(self, backend: Backend, held: Held, run_threads: RunThreads) -> None:
        """Eight stores racing for a free lock: exactly one wins, seven get LockedError."""
        stores = [backend.open() for _ in range(8)]
        start, attempted = threading.Barrier(8), threading.Barrier(8)
        winners: list[int] = []
        refused: list[int] = []

        def contend(n: int) -> None:
            start.wait()
            try:
                lock = held(stores[n], f"racer {n}")
            except LockedError:
                refused.append(n)
                attempted.wait()
                return
            winners.append(n)
            attempted.wait()  # hold until everyone has tried
            lock.__exit__(None, None, None)

        run_threads(8, contend)
        assert (len(winners), len(refused)) == (1, 7)

    def test_threaded_race_over_stale_lock_has_one_winner(
        self, backend: Backend, held: Held, run_threads: RunThreads
    ) -> None:
        """Eight stores racing to take over one expired lock: exactly one wins."""
        held(backend.open(LockSettings(lease=timedelta(seconds=-1), hostname="gone.example")))
        stores = [backend.open() for _ in range(8)]
        start, attempted = threading.Barrier(8), threading.Barrier(8)
        winners: list[int] = []

        def contend(n: int) -> None:
            start.wait()
            try:
                lock = held(stores[n], f"racer {n}")
            except LockedError:
                attempted.wait()
                return
            winners.append(n)
            attempted.wait()
            lock.__exit__(None, None, None)

        run_threads(8, contend)
        assert len(winners) == 1

    def test_second_process_is_refused(self, sql_backend: Backend) -> None:
        """Another process opening the same database exits 5 while the lock is held, and runs after."""
        backend = sql_backend  # the in-memory store lives in one process
        assert backend.url is not None
        with backend.open().lock("cron run", job=JOB):
            blocked = subprocess.run(
                [sys.executable, "-c", CHILD, backend.url], capture_output=True, text=True, timeout=120
            )
        after = subprocess.run([sys.executable, "-c", CHILD, backend.url], capture_output=True, text=True, timeout=120)
        assert (blocked.returncode, after.returncode) == (5, 0), blocked.stderr + after.stderr
        assert f"pid {os.getpid()}" in blocked.stdout and "acquired" in after.stdout

    @pytest.mark.skipif(sys.platform == "win32", reason="no SIGKILL; pids are not probed on Windows")
    def test_lock_of_killed_process_taken_over_at_once(self, sql_backend: Backend) -> None:
        """After a run is killed with SIGKILL while holding the lock, the next run on this host proceeds."""
        backend = sql_backend  # the in-memory store lives in one process
        assert backend.url is not None
        with subprocess.Popen([sys.executable, "-c", HANG, backend.url], stdout=subprocess.PIPE, text=True) as hung:
            try:
                assert hung.stdout is not None and hung.stdout.readline().strip() == "holding"
            finally:
                hung.kill()  # SIGKILL: no cleanup runs, the lock row stays behind
        with backend.open().lock("next run", job=JOB):
            pass
