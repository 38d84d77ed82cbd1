"""Canvas's request throttle: one leaky bucket per token with an up-front reservation (docs/canvas.md §4).

Each request first reserves ``up_front_cost`` (50); if the bucket is then at or above ``hwm`` (600) the
request is refused without running. Otherwise it runs, and afterwards the reservation is refunded and the
real cost charged. Because the reservation is held while the request is in flight (including the injected
latency), a dozen parallel requests on a fresh bucket are enough to get throttled (docs/canvas.md §4.1).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable

from profilesync_sandbox.canvas.config import SandboxConfig
from profilesync_sandbox.server import Throttling
from profilesync_sandbox.wire import Request, Response, text_response


def ruby_float(value: float) -> str:
    """Ruby's ``Float#to_s``: always a '.', ``1.0e-05`` rather than Python's ``1e-05`` (docs/canvas.md §4.2)."""
    text = repr(float(value))
    if "e" in text:
        mantissa, exponent = text.split("e")
        if "." not in mantissa:
            mantissa += ".0"
        sign = exponent[0] if exponent[0] in "+-" else "+"
        digits = exponent.lstrip("+-").rjust(2, "0")
        return f"{mantissa}e{sign}{digits}"
    return text if "." in text or "inf" in text or "nan" in text else text + ".0"


class Throttle:
    """The buckets of one Canvas host, keyed by a hash of the token (``token:<sha>``)."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key → (count, last touched)

    @staticmethod
    def key_for(token: str) -> str:
        return "token:" + hashlib.sha256(token.encode()).hexdigest()

    def _increment(self, key: str, delta: float) -> float:
        """The leak-then-add step of ``increment_bucket.lua``, atomically."""
        now = time.monotonic()
        with self._lock:
            count, last = self._buckets.get(key, (0.0, now))
            if count > 0:
                count -= self.config.outflow * (now - last)
            count = max(min(count + delta, self.config.maximum), 0.0)
            self._buckets[key] = (count, now)
            return count

    def reserve(self, key: str) -> bool:
        """Reserve the up-front cost; False when the request must be refused (the caller then settles 0)."""
        count = self._increment(key, self.config.up_front_cost)
        return not (self.config.throttle and count >= self.config.hwm)

    def settle(self, key: str, cost: float) -> float:
        """Refund the reservation, charge ``cost``; the ``X-Rate-Limit-Remaining`` value (may be negative)."""
        count = self._increment(key, cost - self.config.up_front_cost)
        return round(self.config.hwm - count, 6)

    def remaining(self, key: str) -> float:
        return round(self.config.hwm - self._increment(key, 0.0), 6)


def refused(status: int, remaining: float) -> Response:
    """``RequestThrottle#rate_limit_exceeded`` (docs/canvas.md §4.3): text/plain, a remaining but no X-Request-Cost (429
    on newer hosted Canvas)."""
    if status == 429:
        response = text_response(429, "429 Too Many Requests (Rate Limit Exceeded)\n")
    else:
        response = text_response(403, "403 Forbidden (Rate Limit Exceeded)\n")
    response.headers.append(("X-Rate-Limit-Remaining", ruby_float(remaining)))
    return response


def rate_headers(cost: float, remaining: float) -> list[tuple[str, str]]:
    """What every answer of a throttled request carries."""
    return [("X-Request-Cost", ruby_float(cost)), ("X-Rate-Limit-Remaining", ruby_float(remaining))]


def throttling(
    bucket: Throttle,
    token: Callable[[Request], str | None],
    cost: Callable[[str | None], float],
    refusal: Callable[[float], Response],
) -> Throttling:
    """The pipeline's throttle step for one Canvas host: a bucket per (hashed) token, untokened requests free."""

    def key(request: Request) -> str | None:
        found = token(request)
        return Throttle.key_for(found) if found else None

    return Throttling(bucket, key, cost, refusal, rate_headers)
