"""Building the Canvas clients from plain values: the one place a Canvas client gets its connection and scrubber.

The composition root (``app``) validates the settings and calls these; nothing else needs to know how a Canvas
client is put together.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from profilesync.domain import Secret
from profilesync.http import Retry
from profilesync.scrub import Scrubber
from profilesync.targets.canvas.client import connect
from profilesync.targets.canvas.observers import ObserverCanvas
from profilesync.targets.canvas.target import CanvasTarget


def avatar_target(
    base_url: str,
    token: Secret,
    *,
    account_id: str = "self",
    match: str = "sis_user_id",
    max_in_flight: int = 16,
    timeout_s: float = 60.0,
    retry: Retry | None = None,
    sleep: Callable[[float], None] = time.sleep,
    lock_avatars: bool = False,
) -> CanvasTarget:
    """The avatar target on the Canvas at ``base_url``: at most ``max_in_flight`` API requests at once (the rate
    gate decides how many below that), users matched by ``match``, listed from ``account_id``."""
    api = connect(base_url, token, max_in_flight=max_in_flight, timeout_s=timeout_s, retry=retry)
    scrub = Scrubber((token.reveal(),))
    return CanvasTarget(api, scrub, account_id=account_id, match=match, sleep=sleep, lock_avatars=lock_avatars)


def observers_client(
    base_url: str, token: Secret, *, account_id: str = "self", max_in_flight: int = 16, timeout_s: float = 60.0
) -> ObserverCanvas:
    """The observers job's client on the Canvas at ``base_url``, creating parents in ``account_id``."""
    api = connect(base_url, token, max_in_flight=max_in_flight, timeout_s=timeout_s)
    return ObserverCanvas(api, Scrubber((token.reveal(),)), account_id=account_id)
