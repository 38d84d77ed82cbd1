"""Injected failures: random (``error_rate``, ``drop_rate``) and scripted by tests (``sb.faults``).

Scripted rules match a method (``"*"`` or None for any) and a regex searched in the raw request path (no
query string), optionally on one host (``"canvas"`` or ``"upload"``), and fire ``count`` times:

    sb.faults.fail_next("POST", r"/files$", 502, host="upload")
    sb.faults.drop_next("PUT", r"^/api/v1/users/\\d+$", after=True)   # the PUT happens, the answer is lost
    sb.faults.outage(2.0)                                              # every request answers 503 for 2 s

A failed request never reaches the handler, so it changes nothing. A dropped request is closed without an
answer, before the handler runs, or after it (``after=True``; the change happened but the client never hears).
"""

from __future__ import annotations

import random
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from profilesync.sandbox.config import SandboxConfig

RANDOM_ERROR_STATUSES = (500, 502, 503)


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

    def matches(self, kind: str, host: str, method: str, path: str, after: bool) -> bool:
        return (
            self.kind == kind
            and self.remaining > 0
            and self.after == after
            and (self.host is None or self.host == host)
            and (self.method in (None, "*") or self.method == method)
            and self.pattern.search(path) is not None
        )


class Faults:
    """Runtime fault controls shared by both hosts of one sandbox."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._rng = random.Random(config.fault_seed)
        self._outage_until = 0.0
        self._rules: list[_Rule] = []

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
    ) -> None:
        """The next ``count`` matching requests answer ``status`` (default body: Canvas's error JSON)."""
        with self._lock:
            self._rules.append(_Rule("fail", method, re.compile(path_regex), count, host, status, body))

    def drop_next(
        self, method: str | None, path_regex: str, count: int = 1, *, after: bool = False, host: str | None = None
    ) -> None:
        """Close the next ``count`` matching connections without an answer."""
        with self._lock:
            self._rules.append(_Rule("drop", method, re.compile(path_regex), count, host, after=after))

    def clear(self) -> None:
        """Forget every scripted rule and end an outage."""
        with self._lock:
            self._rules.clear()
            self._outage_until = 0.0

    # -- used by the servers

    def in_outage(self) -> bool:
        with self._lock:
            return time.monotonic() < self._outage_until

    def take(self, kind: str, host: str, method: str, path: str, *, after: bool = False) -> _Rule | None:
        """Consume one firing of the first matching scripted rule."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(kind, host, method, path, after):
                    rule.remaining -= 1
                    return rule
            return None

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
