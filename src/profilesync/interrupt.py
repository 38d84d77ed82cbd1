"""Ctrl-C and SIGTERM: no new user starts, the users in flight finish (for a few seconds at most), exit 130 / 143.

Python delivers signals to the main thread only. While the main thread plans (listing users, scanning photos) a
signal raises :class:`~profilesync.errors.RunInterrupted` there at once: nothing has been changed yet. While an
executor's workers are busy (:meth:`Stop.deferred`), the handler only sets the stop flag: the executor starts no
new user, cancels the queued ones and waits up to ``GRACE_S`` for the ones in flight, so that the run's record
and the lock's release happen only once nothing of the run is still working. A second signal exits at once
(``os._exit``): nothing is recorded, and the lock is taken over by the next run because this pid is gone.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Collection, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from types import FrameType

from profilesync.errors import RunInterrupted

#: how long users already in flight may take to finish once a stop is requested
GRACE_S = 10.0
_POLL_S = 0.1
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stop:
    """The stop request of one command: set by SIGINT/SIGTERM once :func:`handling_signals` is active."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.signum: int | None = None
        self._deferring = 0

    def requested(self) -> bool:
        return self._event.is_set()

    def request(self, signum: int) -> None:
        """Ask the run to stop, as signal ``signum`` would."""
        self.signum = signum
        self._event.set()

    def interrupted(self, *, abandoned: bool = False) -> RunInterrupted:
        return RunInterrupted(self.signum if self.signum is not None else signal.SIGINT, abandoned=abandoned)

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """While workers run: a signal only sets the flag, the executor winds down and raises."""
        self._deferring += 1
        try:
            yield
        finally:
            self._deferring -= 1

    def handle(self, signum: int, _frame: FrameType | None) -> None:
        """The signal handler (main thread). Writes with os.write: logging's locks are not signal-safe."""
        name = signal.Signals(signum).name
        if self.requested():
            os.write(2, f"{name} again: exiting at once; the next run repairs what was in flight\n".encode())
            os._exit(128 + signum)
        self.request(signum)
        notice = f"{name}: stopping; no new user starts, the ones in flight finish (Ctrl-C again: quit at once)\n"
        os.write(2, notice.encode())
        if not self._deferring:
            raise RunInterrupted(signum)


@contextmanager
def handling_signals() -> Iterator[Stop]:
    """Route SIGINT and SIGTERM to a fresh :class:`Stop` for the duration of one command."""
    stop = Stop()
    if threading.current_thread() is not threading.main_thread():  # signal.signal works in the main thread only
        yield stop
        return
    previous = {s: signal.signal(s, stop.handle) for s in SIGNALS}
    try:
        yield stop
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def drain(
    pool: ThreadPoolExecutor, futures: Collection[Future[None]], stop: Stop, grace_s: float | None = None
) -> bool:
    """Wait for every task and shut the pool down; on a stop request, tasks not yet started are cancelled and the
    running ones get ``grace_s`` (default ``GRACE_S``) to finish. True when no task is still running."""
    pending = set(futures)
    while pending and not stop.requested():
        _, pending = wait(pending, timeout=_POLL_S)
    if not pending:
        pool.shutdown()
        return True
    pool.shutdown(wait=False, cancel_futures=True)
    # A future cancelled by the shutdown stays CANCELLED (not "notified"), which wait() never counts as done.
    started = {f for f in pending if not f.cancelled()}
    _, still_running = wait(started, timeout=GRACE_S if grace_s is None else grace_s)
    return not still_running
