"""The request log every emulated host writes and tests read: one frozen record per request, in arrival order."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestRecord:
    """One request as a host saw it."""

    method: str
    host: str  # "canvas", "upload" or "guru"
    path: str  # raw path, no query
    query: str
    status: int  # 0 when the connection was dropped without an answer
    had_authorization: bool
    as_user_id: str | None
    timestamp: float
    route: str | None  # "GET /api/v1/users/:id" style key; None when no route matched
    dropped: bool = False


class RequestLog:
    """The requests of one emulator (all of its hosts), safe to append to from the server threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []

    def record(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def requests(self, host: str | None = None) -> list[RequestRecord]:
        """The records, oldest first; only one host's when ``host`` is given."""
        with self._lock:
            return [r for r in self._records if host is None or r.host == host]

    def counts(self, host: str | None = None) -> Counter[str]:
        """Requests per route key (``"GET /api/v1/users/:id"``); unmatched paths count under ``"?"``."""
        return Counter(r.route or "?" for r in self.requests(host))

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
