"""The circuit breaker behind every "N refusals of one kind, and nothing proven, stop the run" rule.

When the same refusal keeps coming and nothing has shown that the token can do the job, the cause is the token
or the account, not the users: failing the other thousands one by one would only hammer the server. Each rule is
a threshold per failure kind, declared by whoever knows what that kind means:

- the executor, for the kinds every target reports (:data:`profilesync.engine.executor.BREAKER_THRESHOLDS`),
  counted over finished users, proven by a user that succeeds;
- a target, for refusals only it can tell apart and prove wrong (Canvas's masquerade refusals, Guru's refused
  profile updates), counted over its answers, proven by an answer that shows the permission works.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Trip(Generic[T]):
    """Why the breaker stops the run: ``threshold`` refusals of ``kind``, the first of them ``first``."""

    kind: str
    threshold: int
    first: T


class Breaker(Generic[T]):
    """Thread-safe. Counts refusals per kind until something proves the permission works (:meth:`proven`); a kind
    with no threshold (or 0) is never counted. Once a kind reached its threshold every later refusal of it trips
    too: each one is the same proof."""

    def __init__(self, thresholds: Mapping[str, int]) -> None:
        self._thresholds = {kind: n for kind, n in thresholds.items() if n > 0}
        self._proven = False
        self._subjects: dict[str, set[Hashable]] = {}
        self._anonymous: Counter[str] = Counter()
        self._first: dict[str, T] = {}
        self._lock = threading.Lock()

    def proven(self) -> None:
        """Something worked that these refusals would forbid: no refusal stops the run from now on."""
        with self._lock:
            self._proven = True

    def refused(self, kind: str, subject: Hashable | None, detail: T) -> Trip[T] | None:
        """Count one refusal of ``subject`` (the same subject again is no more evidence; None: every refusal
        counts). The trip that stops the run, when this refusal reaches the kind's threshold unproven."""
        threshold = self._thresholds.get(kind)
        if threshold is None:
            return None
        with self._lock:
            if self._proven:
                return None
            if subject is None:
                self._anonymous[kind] += 1
            else:
                self._subjects.setdefault(kind, set()).add(subject)
            count = self._anonymous[kind] + len(self._subjects.get(kind, ()))
            first = self._first.setdefault(kind, detail)
        return Trip(kind, threshold, first) if count >= threshold else None
