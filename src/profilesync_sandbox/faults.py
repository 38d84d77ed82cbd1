"""Injected failures: random (``error_rate``, ``drop_rate``) and scripted by tests (``sb.faults``).

Scripted rules match a method (``"*"`` or None for any) and a regex searched in the raw request path (no
query string), optionally on one host (``"canvas"``, ``"upload"`` or ``"guru"``), and fire ``count`` times:

    sb.faults.fail_next("POST", r"/files$", 502, host="upload")
    sb.faults.drop_next("PUT", r"^/api/v1/users/\\d+$", after=True)   # the PUT happens, the answer is lost
    sb.faults.outage(2.0)                                              # every request answers 503 for 2 s
    sb.faults.kill_on("PUT", r"^/api/v1/users/\\d+$", proc.pid, when="after", nth=40)  # kill -9 the client
    uploads = sb.faults.hold(None, r"", host="upload")                 # uploads wait until uploads.release()

A failed request never reaches the handler, so it changes nothing. A dropped request is closed without an
answer, before the handler runs, or after it (``after=True``; the change happened but the client never hears).
A kill failpoint sends SIGKILL to a client process (a subprocess running the real CLI) when the ``nth``
matching request arrives (``when="before"``: it is then never handled) or once it took effect
(``when="after"``: before the answer is written); it waits for the process to die, then drops the connection,
so the client cannot act on any answer — crash-recovery tests need no hook in the client's code.
A hold stalls matching requests as they arrive until the test releases it: a client's run that cannot finish
for as long as the test checks something else, whatever the machine's load.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from profilesync_sandbox.config import EmulatorConfig

RANDOM_ERROR_STATUSES = (500, 502, 503)
KILL_WAIT_S = 10.0  # how long a kill failpoint waits for the killed client to be gone
HOLD_MAX_S = 45.0  # a hold never released (a failed test) lets go then: before a 60 s client timeout


@dataclass
class _Rule:
    kind: str  # "fail" or "drop"
    method: str | None
    pattern: re.Pattern[str]
    remaining: int
    host: str | None
    status: int = 500
    body: Any = None
    after: bool = False
    skip: int = 0  # matching requests let through before the rule starts firing

    def matches(self, kind: str, host: str, method: str, path: str, after: bool) -> bool:
        return (
            self.kind == kind
            and self.remaining > 0
            and self.after == after
            and (self.host is None or self.host == host)
            and (self.method in (None, "*") or self.method == method)
            and self.pattern.search(path) is not None
        )


@dataclass
class KillPoint:
    """A failpoint that kills a client process on the ``nth`` matching request; ``fired`` is set once it did."""

    method: str | None
    pattern: re.Pattern[str]
    pid: int
    when: Literal["before", "after"]
    nth: int
    host: str | None
    sig: int
    seen: int = 0
    fired: threading.Event = field(default_factory=threading.Event)

    def matches(self, host: str, method: str, path: str, when: str) -> bool:
        return (
            not self.fired.is_set()
            and self.when == when
            and (self.host is None or self.host == host)
            and (self.method in (None, "*") or self.method == method)
            and self.pattern.search(path) is not None
        )


@dataclass
class Hold:
    """Requests matching it wait as they arrive until :meth:`release` (or ``HOLD_MAX_S``)."""

    method: str | None
    pattern: re.Pattern[str]
    host: str | None
    released: threading.Event = field(default_factory=threading.Event)
    skip: int = 0  # matching requests let through before the hold starts stalling them

    def matches(self, host: str, method: str, path: str) -> bool:
        return (
            not self.released.is_set()
            and (self.host is None or self.host == host)
            and (self.method in (None, "*") or self.method == method)
            and self.pattern.search(path) is not None
        )

    def release(self) -> None:
        """Let the held requests go on, and hold no more."""
        self.released.set()


def _gone(pid: int) -> bool:
    """Whether a process has exited (a zombie waiting for its parent to reap it counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    with contextlib.suppress(OSError), open(f"/proc/{pid}/stat", "rb") as stat:
        # "pid (comm) S ...": the state letter follows the last ')' (comm may contain anything)
        return stat.read().rsplit(b")", 1)[1].split()[0] in (b"Z", b"X")
    return False


class Faults:
    """Runtime fault controls shared by every host of one emulator."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._rng = random.Random(config.fault_seed)
        self._outage_until = 0.0
        self._rules: list[_Rule] = []
        self._kills: list[KillPoint] = []
        self._holds: list[Hold] = []

    # -- controls for tests

    def outage(self, seconds: float) -> None:
        """Every request on both hosts answers 503 for ``seconds`` (a load-balancer page, not JSON)."""
        with self._lock:
            self._outage_until = time.monotonic() + seconds

    def end_outage(self) -> None:
        with self._lock:
            self._outage_until = 0.0

    def fail_next(
        self,
        method: str | None,
        path_regex: str,
        status: int,
        count: int = 1,
        body: bytes | str | dict[str, Any] | list[Any] | None = None,
        *,
        host: str | None = None,
        skip: int = 0,
    ) -> None:
        """The next ``count`` matching requests answer ``status`` (default body: Canvas's error JSON), after
        ``skip`` matching requests were let through (the second of two requests to the same path, say)."""
        with self._lock:
            self._rules.append(_Rule("fail", method, re.compile(path_regex), count, host, status, body, skip=skip))

    def drop_next(
        self, method: str | None, path_regex: str, count: int = 1, *, after: bool = False, host: str | None = None
    ) -> None:
        """Close the next ``count`` matching connections without an answer."""
        with self._lock:
            self._rules.append(_Rule("drop", method, re.compile(path_regex), count, host, after=after))

    def kill_on(
        self,
        method: str | None,
        path_regex: str,
        pid: int,
        *,
        when: Literal["before", "after"] = "before",
        nth: int = 1,
        host: str | None = None,
        sig: int = signal.SIGKILL,
    ) -> KillPoint:
        """Kill process ``pid`` (``kill -9`` by default) on the ``nth`` matching request, ``before`` it is
        handled or ``after`` it took effect; either way the client never gets an answer."""
        if when not in ("before", "after"):
            raise ValueError("when must be 'before' or 'after'")
        if nth < 1:
            raise ValueError("nth counts from 1")
        point = KillPoint(method, re.compile(path_regex), pid, when, nth, host, sig)
        with self._lock:
            self._kills.append(point)
        return point

    def hold(self, method: str | None, path_regex: str, *, host: str | None = None, skip: int = 0) -> Hold:
        """Stall every matching request, after ``skip`` of them were let through, until the returned hold is
        released."""
        hold = Hold(method, re.compile(path_regex), host, skip=skip)
        with self._lock:
            self._holds.append(hold)
        return hold

    def clear(self) -> None:
        """Forget every scripted rule, kill failpoint and hold (releasing it), and end an outage."""
        with self._lock:
            self._rules.clear()
            self._kills.clear()
            for hold in self._holds:
                hold.release()
            self._holds.clear()
            self._outage_until = 0.0

    # -- used by the servers

    def wait_if_held(self, host: str, method: str, path: str) -> bool:
        """Wait while a hold matching this request is not released; whether one matched."""
        with self._lock:
            holds = [h for h in self._holds if h.matches(host, method, path)]
            passing = [h for h in holds if h.skip > 0]
            for hold in passing:
                hold.skip -= 1
            holds = [h for h in holds if h not in passing]
        for hold in holds:
            hold.released.wait(HOLD_MAX_S)
        return bool(holds)

    def in_outage(self) -> bool:
        with self._lock:
            return time.monotonic() < self._outage_until

    def take(self, kind: str, host: str, method: str, path: str, *, after: bool = False) -> _Rule | None:
        """Consume one firing of the first matching scripted rule."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(kind, host, method, path, after):
                    if rule.skip > 0:
                        rule.skip -= 1
                        return None
                    rule.remaining -= 1
                    return rule
            return None

    def kill_if_due(self, host: str, method: str, path: str, *, when: str) -> bool:
        """Fire a due kill failpoint: signal its process and wait until it is gone. True when one fired."""
        due: KillPoint | None = None
        with self._lock:
            for point in self._kills:
                if point.matches(host, method, path, when):
                    point.seen += 1
                    if point.seen == point.nth:
                        point.fired.set()
                        due = point
                        break
        if due is None:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(due.pid, due.sig)
        # Hold the answer until the client is dead, so it cannot read a dropped connection and carry on.
        deadline = time.monotonic() + KILL_WAIT_S
        while not _gone(due.pid) and time.monotonic() < deadline:
            time.sleep(0.005)
        return True

    def random_error(self) -> int | None:
        if self.config.error_rate <= 0:
            return None
        with self._lock:
            if self._rng.random() < self.config.error_rate:
                return self._rng.choice(RANDOM_ERROR_STATUSES)
        return None

    def random_drop(self) -> bool:
        if self.config.drop_rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < self.config.drop_rate
