"""Applies a plan: several users in flight, failures isolated per user, only verified outcomes recorded.

A ``FatalRemoteError`` (bad token, avatars disabled…) makes every later request pointless: no new user
starts, the ones in flight finish, and the error is raised to stop the run. So does a circuit breaker: when the
first users to finish all fail the same non-transient way and none succeeds, the cause is the token or the
account, not the users, and failing the other thousands one by one would only hammer the server.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from profilesync.engine.model import Action, Outcome, Photo, Plan, PlannedAction, Reason, Result, Uploaded
from profilesync.engine.pool import Pool
from profilesync.errors import FatalRemoteError, NotFoundError, PermissionDeniedError, QuotaError, RemoteError
from profilesync.interrupt import Stop
from profilesync.store.base import HistoryStore, RunEvent
from profilesync.targets.base import AvatarPending, AvatarTarget

log = logging.getLogger(__name__)


class InvalidImage(Exception):
    """Raised by the image reader when a photo cannot be normalised (it carries the reason)."""


#: reads a photo and returns (upload-ready JPEG bytes, SHA-256 of the source bytes actually read)
ImageReader = Callable[[Photo], tuple[bytes, str]]

#: the run stops once this many users failed the same non-transient way before any user succeeded
BREAKER_THRESHOLD = 10
# Failure kinds that speak about the remote side. Transient ones (an outage: the next run repairs it), bad photos
# (one file's problem) and Canvas's refusals of one user (limited_access, masquerade_refused: a school's first
# users may all be refused students or higher-ranked staff) never trip the breaker; the target itself decides when
# refusals prove the token cannot act as anyone.
BREAKER_KINDS = frozenset({PermissionDeniedError.kind, NotFoundError.kind, QuotaError.kind, RemoteError.kind})


@dataclass(frozen=True)
class Execution:
    """Everything the executor needs besides the plan."""

    target: AvatarTarget
    store: HistoryStore
    read_image: ImageReader
    run_id: int
    workers: int
    clock: Callable[[], datetime]
    on_result: Callable[[Result], None] = lambda _result: None
    breaker_threshold: int = BREAKER_THRESHOLD  # 0: never stop for repeated failures
    stop: Stop = field(default_factory=Stop)  # SIGINT/SIGTERM: no new user starts


class _Breaker:
    """Trips when ``threshold`` users failed with one kind from BREAKER_KINDS before any user succeeded."""

    def __init__(self, threshold: int) -> None:
        self._threshold = threshold
        self._armed = threshold > 0
        self._counts: Counter[str] = Counter()
        self._first: dict[str, Result] = {}
        self._lock = threading.Lock()

    def observe(self, result: Result) -> FatalRemoteError | None:
        """Count one finished pending user; the error that stops the run when the breaker trips."""
        with self._lock:
            if not self._armed:
                return None
            if result.outcome is not Outcome.FAILED:
                self._armed = False  # one success proves the token and the account can do the job
                return None
            kind = result.reason or ""
            if kind not in BREAKER_KINDS:
                return None
            self._counts[kind] += 1
            first = self._first.setdefault(kind, result)
            if self._counts[kind] < self._threshold:
                return None
            self._armed = False
        return FatalRemoteError(
            f"stopped: the first {self._threshold} users all failed the same way ({kind}) and none succeeded, "
            f"e.g. {first.planned.key}: {first.message}",
            advice="the cause is the token's permissions or the account's settings, not the users: fix it and "
            "run again (nothing unverified was recorded as synced)",
        )


def execute(plan: Plan, ctx: Execution) -> list[Result]:
    """Run every pending action of the plan; return one result per planned action, in plan order.

    On a stop request (``ctx.stop``) no new user starts and RunInterrupted is raised once the users in flight
    finished, or once the grace period ended with some still busy (``abandoned``); every finished user has been
    recorded and reported through ``ctx.on_result`` by then.
    """
    results: dict[int, Result] = {}
    breaker = _Breaker(ctx.breaker_threshold)

    def unexpected(item: tuple[int, PlannedAction], exc: Exception) -> Result:
        planned = item[1]
        log.exception("unexpected error for %s", planned.key)
        return _failed(planned, ctx, "error", f"unexpected error: {type(exc).__name__}: {exc}")

    def finished(item: tuple[int, PlannedAction], result: Result) -> None:
        results[item[0]] = result
        tripped = breaker.observe(result)
        if tripped is not None:
            pool.halt(tripped)
        ctx.on_result(result)

    def pending() -> Iterator[tuple[int, PlannedAction]]:
        """The users to apply, queued as they come; the others are settled here, in plan order, meanwhile."""
        for index, planned in enumerate(plan.actions):
            if planned.action in (Action.UPLOAD, Action.REASSIGN):
                yield index, planned
            else:
                results[index] = _not_pending(planned, ctx)
                ctx.on_result(results[index])

    pool: Pool[tuple[int, PlannedAction], Result] = Pool(
        work=lambda item: _apply(item[1], ctx),
        failed=unexpected,
        finished=finished,
        workers=ctx.workers,
        stop=ctx.stop,
        thread_name="sync",
    )
    pool.run(pending(), complete=lambda: len(results) == len(plan.actions))
    return [results[i] for i in sorted(results)]


def _not_pending(planned: PlannedAction, ctx: Execution) -> Result:
    """Skips and plan-time errors: nothing to do remotely; errors still count as failures."""
    if planned.action is Action.ERROR:
        return _failed(planned, ctx, planned.reason.value, planned.message or planned.reason.value)
    outcome = Outcome.UNCHANGED if planned.reason is Reason.UNCHANGED else Outcome.SKIPPED
    return Result(planned, outcome, reason=planned.reason.value)


def _apply(planned: PlannedAction, ctx: Execution) -> Result:
    user, photo = planned.user, planned.photo
    assert user is not None and photo is not None and planned.key is not None
    sha256: str | None = None
    try:
        if planned.action is Action.REASSIGN and planned.record is not None:
            uploaded = ctx.target.reassign_avatar(user, planned.record)
            if uploaded is not None:
                return _succeeded(planned, ctx, uploaded, photo.sha256 or "", Outcome.REASSIGNED)
            log.info("%s: our earlier file is gone; uploading again", planned.key)
        try:
            image, sha256 = ctx.read_image(photo)
        except InvalidImage as exc:
            return _failed(planned, ctx, Reason.INVALID_PHOTO.value, str(exc))
        uploaded = ctx.target.upload_avatar(user, image, planned.record)
        return _succeeded(planned, ctx, uploaded, sha256, Outcome.UPLOADED)
    except FatalRemoteError:
        raise
    except AvatarPending as exc:
        # The file is on the target, not yet shown: remember a new upload (with no avatar_ref, "not seen
        # applied") so the next run sets it instead of uploading again; report the user as not done yet.
        if sha256 is not None:
            at = ctx.clock()
            ctx.store.record_success(ctx.target.target_id, planned.key, user.user_id, sha256, exc.uploaded, at)
        return _failed(planned, ctx, exc.kind, str(exc))
    except RemoteError as exc:
        return _failed(planned, ctx, exc.kind, str(exc))


def _succeeded(planned: PlannedAction, ctx: Execution, uploaded: Uploaded, sha256: str, outcome: Outcome) -> Result:
    assert planned.user is not None and planned.key is not None
    at = ctx.clock()
    ctx.store.record_success(ctx.target.target_id, planned.key, planned.user.user_id, sha256, uploaded, at)
    ctx.store.log_event(
        RunEvent(ctx.run_id, planned.key, planned.user.user_id, outcome.value, planned.reason.value, None, at)
    )
    return Result(planned, outcome, reason=planned.reason.value)


def _failed(planned: PlannedAction, ctx: Execution, reason: str, message: str) -> Result:
    at = ctx.clock()
    key = planned.key or "?"
    user_id = planned.user.user_id if planned.user else None
    if planned.key is not None and user_id is not None:
        ctx.store.record_failure(ctx.target.target_id, planned.key, user_id, message, at)
    ctx.store.log_event(RunEvent(ctx.run_id, key, user_id, Outcome.FAILED.value, reason, message, at))
    return Result(planned, Outcome.FAILED, message=message, reason=reason)
