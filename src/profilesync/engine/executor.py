"""Applies a plan: several users in flight, failures isolated per user, only verified outcomes recorded.

A ``FatalRemoteError`` (bad token, avatars disabled…) makes every later request pointless: no new user
starts, the ones in flight finish, and the error is raised to stop the run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from profilesync.engine.model import Action, Outcome, Photo, Plan, PlannedAction, Reason, Result, Uploaded
from profilesync.errors import FatalRemoteError, RemoteError
from profilesync.store.base import HistoryStore, RunEvent
from profilesync.targets.base import AvatarTarget

log = logging.getLogger(__name__)


class InvalidImage(Exception):
    """Raised by the image reader when a photo cannot be normalised (it carries the reason)."""


#: reads a photo and returns (upload-ready JPEG bytes, SHA-256 of the source bytes actually read)
ImageReader = Callable[[Photo], tuple[bytes, str]]


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


def execute(plan: Plan, ctx: Execution) -> list[Result]:
    """Run every pending action of the plan; return one result per planned action, in plan order."""
    stop = threading.Event()
    fatal: list[FatalRemoteError] = []
    results: dict[int, Result] = {}

    def run(index: int, planned: PlannedAction) -> None:
        if stop.is_set():
            return
        try:
            result = _apply(planned, ctx)
        except FatalRemoteError as exc:
            stop.set()
            fatal.append(exc)
            return
        except Exception as exc:  # a bug must fail one user, not the night's run
            log.exception("unexpected error for %s", planned.key)
            result = _failed(planned, ctx, "error", f"unexpected error: {type(exc).__name__}: {exc}")
        results[index] = result
        ctx.on_result(result)

    with ThreadPoolExecutor(max_workers=max(1, ctx.workers), thread_name_prefix="sync") as pool:
        for index, planned in enumerate(plan.actions):
            if planned.action in (Action.UPLOAD, Action.REASSIGN):
                pool.submit(run, index, planned)
            else:
                results[index] = _not_pending(planned, ctx)
                ctx.on_result(results[index])
    if fatal:
        raise fatal[0]
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
        uploaded = ctx.target.upload_avatar(user, image)
        return _succeeded(planned, ctx, uploaded, sha256, Outcome.UPLOADED)
    except FatalRemoteError:
        raise
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
