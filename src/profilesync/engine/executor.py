"""Applies a plan: several users in flight, failures isolated per user, only verified outcomes recorded.

The users run on the engine's :class:`~profilesync.engine.pool.Pool`: a ``FatalRemoteError`` (bad token, avatars
disabled…) starts no new user, lets the ones in flight finish and stops the run. So does the circuit breaker
(:mod:`profilesync.engine.breaker`) when the first users to finish all fail the same non-transient way and none
succeeds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from profilesync.engine.breaker import Breaker
from profilesync.engine.model import Action, Outcome, Photo, Plan, PlannedAction, Reason, Result, RunEvent, Uploaded
from profilesync.engine.pool import Pool
from profilesync.engine.ports import AvatarPending, AvatarTarget, HistoryStore
from profilesync.errors import FatalRemoteError, NotFoundError, PermissionDeniedError, QuotaError, RemoteError
from profilesync.interrupt import Stop

log = logging.getLogger(__name__)


class InvalidImage(Exception):
    """Raised by the image reader when a photo cannot be normalised (it carries the reason)."""


#: reads a photo and returns (upload-ready JPEG bytes, SHA-256 of the source bytes actually read)
ImageReader = Callable[[Photo], tuple[bytes, str]]

#: the run stops once this many users failed the same non-transient way before any user succeeded
BREAKER_THRESHOLD = 10
# Failure kinds that speak about the remote side. Transient ones (an outage: the next run repairs it), bad photos
# (one file's problem) and Canvas's refusals of one user (limited_access, masquerade_refused: a school's first
# users may all be refused students or higher-ranked staff) never trip this breaker; the target keeps its own
# Breaker for refusals only its answers can prove wrong (refusals.REFUSALS_BEFORE_FATAL, guru.REFUSALS_BEFORE_FATAL).
BREAKER_THRESHOLDS = {
    kind: BREAKER_THRESHOLD
    for kind in (PermissionDeniedError.kind, NotFoundError.kind, QuotaError.kind, RemoteError.kind)
}


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
    breaker_thresholds: Mapping[str, int] = field(default_factory=lambda: BREAKER_THRESHOLDS)  # kind → users
    stop: Stop = field(default_factory=Stop)  # SIGINT/SIGTERM: no new user starts


def _observe(breaker: Breaker[Result], result: Result) -> FatalRemoteError | None:
    """Count one finished pending user; the error that stops the run when the breaker trips."""
    if result.outcome is not Outcome.FAILED:
        breaker.proven()  # one success proves the token and the account can do the job
        return None
    trip = breaker.refused(result.reason or "", None, result)
    if trip is None:
        return None
    return FatalRemoteError(
        f"stopped: the first {trip.threshold} users all failed the same way ({trip.kind}) and none succeeded, "
        f"e.g. {trip.first.planned.key}: {trip.first.message}",
        advice="the cause is the token's permissions or the account's settings, not the users: fix it and "
        "run again (nothing unverified was recorded as synced)",
    )


def execute(plan: Plan, ctx: Execution) -> list[Result]:
    """Run every pending action of the plan; return one result per planned action, in plan order.

    On a stop request (``ctx.stop``) no new user starts and RunInterrupted is raised once the users in flight
    finished, or once the grace period ended with some still busy (``abandoned``); every finished user has been
    recorded and reported through ``ctx.on_result`` by then.
    """
    applying = Applying(ctx)
    with applying.started() as apply:
        for planned in plan.actions:
            apply(planned)
    return applying.results()


class Applying:
    """The executor for actions handed in one at a time, in plan order, while the pool already works: a plan
    still being decided (:mod:`profilesync.engine.pipeline`) or a whole one (:func:`execute`).

    ``with applying.started() as apply:`` takes each action (``apply(planned)``): uploads and reassigns are
    queued for the workers, the others settled at once. On leaving, the stop, fatal and breaker rules of
    :class:`~profilesync.engine.pool.Pool` apply; a caller that stops deciding (on a stop request) raises
    :class:`~profilesync.engine.pool.Stopped` inside the ``with``.
    """

    def __init__(self, ctx: Execution) -> None:
        self._ctx = ctx
        self._results: dict[int, Result] = {}
        self._given = 0
        self._breaker: Breaker[Result] = Breaker(ctx.breaker_thresholds)
        self._pool: Pool[tuple[int, PlannedAction], Result] = Pool(
            work=lambda item: _apply(item[1], ctx),
            failed=self._unexpected,
            finished=self._finished,
            workers=ctx.workers,
            stop=ctx.stop,
            thread_name="sync",
        )

    @property
    def given(self) -> int:
        """How many actions were handed in."""
        return self._given

    @contextmanager
    def started(self) -> Iterator[Callable[[PlannedAction], None]]:
        with self._pool.feeding(complete=lambda: len(self._results) == self._given) as feed:

            def apply(planned: PlannedAction) -> None:
                index = self._given
                self._given += 1
                if planned.action in (Action.UPLOAD, Action.REASSIGN):
                    feed((index, planned))
                else:  # skips and plan-time errors are settled here, in plan order, meanwhile
                    self._results[index] = _not_pending(planned, self._ctx)
                    self._ctx.on_result(self._results[index])

            yield apply

    def results(self) -> list[Result]:
        """One result per action handed in, in that order."""
        return [self._results[i] for i in sorted(self._results)]

    def _unexpected(self, item: tuple[int, PlannedAction], exc: Exception) -> Result:
        planned = item[1]
        log.exception("unexpected error for %s", planned.key)
        return _failed(planned, self._ctx, "error", f"unexpected error: {type(exc).__name__}: {exc}")

    def _finished(self, item: tuple[int, PlannedAction], result: Result) -> None:
        self._results[item[0]] = result
        tripped = _observe(self._breaker, result)
        if tripped is not None:
            self._pool.halt(tripped)
        self._ctx.on_result(result)


def _not_pending(planned: PlannedAction, ctx: Execution) -> Result:
    """Skips and plan-time errors: nothing to do remotely; errors still count as failures."""
    if planned.action is Action.ERROR:
        return _failed(planned, ctx, planned.reason.value, planned.message or planned.reason.value)
    return Result(planned, skip_outcome(planned.reason), reason=planned.reason.value)


def skip_outcome(reason: Reason) -> Outcome:
    """How a skip ends: unchanged when the target already shows the photo, skipped otherwise."""
    return Outcome.UNCHANGED if reason is Reason.UNCHANGED else Outcome.SKIPPED


def skipped_outcomes(plan: Plan) -> dict[str, int]:
    """Outcome → users, for the skips the plan only counted (``Plan.skipped``): they end as they were planned."""
    counts: dict[str, int] = {}
    for reason, users in plan.skipped.items():
        outcome = skip_outcome(reason).value
        counts[outcome] = counts.get(outcome, 0) + users
    return counts


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
