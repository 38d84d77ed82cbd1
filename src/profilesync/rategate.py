"""The adaptive rate gate: requests in flight kept within what the server's leaky bucket takes.

Canvas meters every token with a leaky bucket (docs/canvas.md §4): each request in flight reserves
``up_front_cost`` (50) units and the request is refused once the bucket reaches the high-water mark.
``RateGate`` therefore limits requests in flight from the ``X-Rate-Limit-Remaining`` the server reports,
instead of guessing a fixed worker count, and pauses every thread together when the server says "throttled".

Hand-written on purpose: the bucket's level comes back in every answer, and no retry or rate-limit library
steers by a level the server reports (they count requests per window on the client side).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class RateGate:
    """Keeps requests in flight within what the server's leaky bucket takes, steering by its own answers.

    Canvas (docs/canvas.md §4) reserves ``up_front_cost`` (50) per request in flight and refuses a request once
    the bucket reaches the high-water mark; every answer reports ``X-Rate-Limit-Remaining`` = hwm − count,
    where count holds the reservations of the requests the server is running plus the costs not yet leaked.
    After each answer:

    - remaining above two reservations (plus a margin for the costs the others in flight will add; none when
      alone, so a throttle-bound run keeps up to hwm − 2 reservations of spent cost in the bucket, the most that
      still lets a second request in): grow, by one request per round of answers (congestion-avoidance style,
      so a burst of answers cannot overshoot by many at once);
    - remaining below two reservations: one fewer in flight;
    - alone in flight and remaining below one reservation: the bucket itself is full of spent cost, so wait
      the time it needs to leak room for the next request (``outflow``: Canvas's default 10/s) instead of
      being refused.

    A throttled answer halves the requests in flight and caps them just below the number in flight when the
    refused request was sent (remaining cannot show that ceiling exactly: it does not count our requests
    still on the wire); the cap is probed upward again now and then, in case spent cost caused the refusal.
    Only a throttle with nothing else in flight pauses everyone, backing off while it repeats. A server that
    reports no remaining (Guru) gets the same growth on success and the same decrease on a 429.

    Requests sent inside :meth:`ahead` take the next free place before any other waiting request: a listing
    that writes already run beside (the pipelined sync) is that sync's critical path, one request at a time.

    ``clock`` and ``sleep`` are injectable so tests can run the gate in fake time; without ``sleep`` a pause
    is waited on the gate's condition, like a full gate. ``jitter`` spreads the pauses of separate runs.
    """

    PROBE_EVERY = 200  # answers at the cap before trying one more in flight

    def __init__(
        self,
        max_in_flight: int,
        up_front_cost: float = 50.0,
        outflow: float = 10.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
        jitter: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self.max_in_flight = max(1, max_in_flight)
        self.up_front_cost = up_front_cost
        self.outflow = outflow
        self.margin = up_front_cost / 10  # a little headroom for the costs of requests in flight
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter
        self._allowed = min(self.max_in_flight, 4)  # until answers say how much room there is
        self._ceiling = self.max_in_flight
        self._growth = 0.0
        self._at_ceiling = 0
        self._in_flight = 0
        self._paused_until = 0.0
        self._throttle_streak = 0
        self._cond = threading.Condition()
        self._local = threading.local()  # .ahead: this thread's requests go first
        self._ahead_waiting = 0
        self.throttled = 0  # how many throttled answers we got (reported by the benchmark)

    @contextmanager
    def ahead(self) -> Iterator[None]:
        """The calling thread's requests go before the others waiting for room (not before a pause)."""
        self._local.ahead = True
        try:
            yield
        finally:
            self._local.ahead = False

    def __enter__(self) -> int:
        """Wait for room; returns how many requests are in flight with this one (for ``throttle``)."""
        ahead = getattr(self._local, "ahead", False)
        with self._cond:
            self._ahead_waiting += ahead
            try:
                while True:
                    wait = self._paused_until - self._clock()
                    if wait > 0:
                        self._wait_out(wait)
                    elif self._in_flight >= self._allowed or (self._ahead_waiting and not ahead):
                        self._cond.wait(1.0)
                    else:
                        self._in_flight += 1
                        return self._in_flight
            finally:
                if ahead:
                    self._ahead_waiting -= 1
                    self._cond.notify_all()  # the others wait for it no longer

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._in_flight -= 1
            self._cond.notify_all()

    def _wait_out(self, seconds: float) -> None:
        """Wait out a pause, holding the condition on entry and on return."""
        if self._sleep is None:
            self._cond.wait(seconds)
            return
        self._cond.release()  # the others must still be able to leave the gate and report answers
        try:
            self._sleep(seconds)
        finally:
            self._cond.acquire()

    def observe(self, remaining: float | None) -> None:
        """Adapt to a successful answer. Must be called while its request still counts as in flight."""
        with self._cond:
            self._throttle_streak = 0
            reservation = self.up_front_cost
            # Headroom for the costs the others in flight will add before our next requests arrive; alone in
            # flight there are none, so the bucket may hold up to two reservations' room short of full.
            margin = self.margin if self._in_flight > 1 else 0.0
            if remaining is None or remaining > 2 * reservation + margin:
                self._grow()
            elif remaining < 2 * reservation:
                self._allowed = max(1, self._allowed - 1)
                if self._in_flight <= 1 and remaining < reservation + self.margin:
                    self._pause((reservation + self.margin - remaining) / self.outflow)
            self._cond.notify_all()

    def _grow(self) -> None:
        if self._allowed >= self._ceiling:
            self._at_ceiling += 1
            if self._at_ceiling >= self.PROBE_EVERY and self._ceiling < self.max_in_flight:
                self._ceiling += 1
                self._at_ceiling = 0
            return
        self._growth += 1 / self._allowed
        if self._growth >= 1:
            self._growth = 0.0
            self._allowed += 1

    def throttle(self, remaining: float | None, sent_with: int = 1) -> float:
        """Record a throttled answer to a request sent with ``sent_with`` in flight; returns how long to wait."""
        with self._cond:
            self.throttled += 1
            left = self._paused_until - self._clock()
            if left > 0:
                return left  # an answer to a request sent before the pause began: the same episode
            self._allowed = max(1, min(self._allowed, self._in_flight) // 2)
            self._cond.notify_all()
            if sent_with > 1:
                # Our concurrency did it: fewer in flight is the cure, not a pause.
                self._ceiling = max(1, min(self._ceiling, sent_with - 1))
                self._at_ceiling = 0
                return 0.0
            self._throttle_streak += 1
            deficit = self.up_front_cost + self.margin - (remaining or 0.0)
            base = max(0.1, deficit / self.outflow)
            pause = min(30.0, base * 1.5 ** (self._throttle_streak - 1)) * self._jitter(1.0, 1.2)
            self._pause(pause)
            return pause

    def _pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, self._clock() + seconds)
        self._cond.notify_all()

    @property
    def in_flight_limit(self) -> int:
        return self._allowed
