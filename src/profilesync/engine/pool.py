"""Runs a job's independent work items on a thread pool, each one isolated: the stop, fatal and drain rules of
every job, written once.

- One item's error is that item's failure (the job says what its failure looks like): a bug must fail one user or
  one parent, not the night's run.
- A ``FatalRemoteError`` (bad token, avatars disabled…), raised by an item or handed to :meth:`Pool.halt` (the
  circuit breaker), makes every later request pointless: no new item starts, the ones in flight finish, and the
  first such error is raised.
- A stop request (SIGINT/SIGTERM, :class:`~profilesync.interrupt.Stop`): no new item starts, queued ones are
  cancelled, and ``RunInterrupted`` is raised once the items in flight finished, or once the grace period ended
  with some still busy (``abandoned``).

Items come from an iterable (:meth:`Pool.run`) or are handed in one at a time by code that produces them while
the pool already works (:meth:`Pool.feeding`: a sync that writes while its listing still runs).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Generic, TypeVar

from profilesync.errors import FatalRemoteError
from profilesync.interrupt import Stop, drain

T = TypeVar("T")
R = TypeVar("R")


class Stopped(Exception):
    """Raised by the code feeding a pool (:meth:`Pool.feeding`) that stops producing items on a stop request:
    the pool then raises ``RunInterrupted`` (or the fatal error, if one came first)."""


class Pool(Generic[T, R]):
    """One run's workers. An item's ``work`` returns its result (R); ``failed`` turns an unexpected error into
    one; ``finished`` takes every result, in the worker that produced it."""

    def __init__(
        self,
        *,
        work: Callable[[T], R],
        failed: Callable[[T, Exception], R],
        finished: Callable[[T, R], None],
        workers: int,
        stop: Stop,
        thread_name: str,
    ) -> None:
        self._work = work
        self._failed = failed
        self._finished = finished
        self._workers = max(1, workers)
        self._stop = stop
        self._thread_name = thread_name
        self._halted = threading.Event()
        self._fatal: list[FatalRemoteError] = []

    def stopped(self) -> bool:
        """A fatal error or a stop request: start nothing new (long items ask between their steps too)."""
        return self._halted.is_set() or self._stop.requested()

    def halt(self, error: FatalRemoteError) -> None:
        """End the run with ``error``: nothing new starts, the items in flight finish, then it is raised."""
        self._halted.set()
        self._fatal.append(error)

    def run(self, items: Iterable[T], complete: Callable[[], bool]) -> None:
        """Run every item; ``items`` is consumed in the calling thread, as the items are queued.

        Raises the first fatal error, else ``RunInterrupted`` when the pool was stopped with items still
        running, or when ``complete()`` says the results are not all in.
        """
        with self.feeding(complete) as feed:
            for item in items:
                feed(item)

    @contextmanager
    def feeding(self, complete: Callable[[], bool]) -> Iterator[Callable[[T], None]]:
        """:meth:`run` for items handed in one at a time (``feed(item)``) by the code inside the ``with``.

        That code raises :class:`Stopped` when it stops producing on a stop request; on leaving, the pool
        raises as :meth:`run` does. Should that code fail, nothing new starts, the items in flight finish, and its
        error propagates: the run's record must not be written while workers still record users.
        """
        cut = False
        with self._stop.deferred():
            pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix=self._thread_name)
            futures: list[Future[None]] = []
            try:
                yield lambda item: futures.append(pool.submit(self._task, item))
            except Stopped:
                cut = True
            except BaseException:
                self._halted.set()
                drain(pool, futures, self._stop)
                if self._fatal:  # the first cause; what the feeding code met after it is its consequence
                    raise self._fatal[0] from None
                raise
            settled = drain(pool, futures, self._stop)
        if self._fatal:
            raise self._fatal[0]
        if cut or not settled or not complete():
            raise self._stop.interrupted(abandoned=not settled)

    def _task(self, item: T) -> None:
        if self.stopped():
            return
        try:
            result = self._work(item)
        except FatalRemoteError as exc:
            self.halt(exc)
            return
        except Exception as exc:  # a bug must fail one item, not the night's run
            result = self._failed(item, exc)
        self._finished(item, result)
