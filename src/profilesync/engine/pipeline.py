"""The pipelined sync: writes that start while the listing still runs.

A sync lists every user, checks the safety valve, then writes. When the valve cannot trip whatever the listing
still brings (:func:`profilesync.valve.cannot_trip`: a first sync, no ``--max-uploads``), waiting for the whole
listing buys nothing, so each upload is queued as soon as the planner decides it and runs beside the listing.

What stays as it was: the rights check (``AvatarTarget.before_writes``) runs before the first write, and the
decisions made before it are held until then; a token that cannot write is reported once the plan is complete,
as before, with nothing applied. Results come back in plan order. After a fatal error or the breaker trip, no new
user starts and the rest of the plan is still decided (skips counted, plan-time errors reported), then the error
is raised, as before. What cannot stay as it was: Ctrl-C, or a listing that fails, after the first write stops the
listing at once, lets the users in flight finish, and the run records what they did.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from types import TracebackType

from profilesync.engine.executor import Applying, Execution
from profilesync.engine.model import Action, Plan, PlannedAction, Result
from profilesync.engine.pool import Stopped
from profilesync.errors import ProfilesyncError

WRITES = (Action.UPLOAD, Action.REASSIGN)


class EarlyWrites:
    """The planner's ``on_decided`` for a sync that may write early; a context manager around the planning, so
    that whatever ends it (the plan, an error, a stop) waits for the users in flight.

    ``started`` says whether any write was queued while the plan was being decided: if not, the sync goes on as
    an unpipelined one (valve, rights check, :func:`~profilesync.engine.executor.execute`).
    """

    def __init__(self, ctx: Execution) -> None:
        self._ctx = ctx
        self._applying = Applying(ctx)
        self._stack = ExitStack()
        self._apply: Callable[[PlannedAction], None] | None = None
        self._held: list[PlannedAction] = []
        self._refused: ProfilesyncError | None = None

    def __enter__(self) -> EarlyWrites:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> bool:
        # Leaving the pool's feeding: an error while planning halts it and propagates once the users in flight
        # finished; a clean end raises the pool's fatal error or RunInterrupted, if any.
        return bool(self._stack.__exit__(kind, error, trace))

    @property
    def started(self) -> bool:
        return self._apply is not None

    def decided(self, planned: PlannedAction) -> None:
        """One decision of the planner (skips included: each is a chance to notice Ctrl-C)."""
        if self._apply is not None:
            if self._ctx.stop.requested():
                raise Stopped  # list no further; the users in flight finish, then RunInterrupted
            # After a fatal error or the breaker, decisions are still taken in (as an unpipelined sync takes
            # the rest of its plan): no new user starts, plan-time errors are reported, the skips counted.
            if planned.action is not Action.SKIP:
                self._apply(planned)
            return
        if planned.action is Action.SKIP or self._refused is not None:
            return
        self._held.append(planned)
        if planned.action not in WRITES:
            return
        try:
            self._ctx.target.before_writes()
        except ProfilesyncError as exc:
            # A token that cannot write: nothing is applied, and the error is raised where an unpipelined
            # sync raises it, once its plan is complete (check_rights): the same exit code and run record.
            self._refused = exc
            self._held = []
            return
        self._apply = self._stack.enter_context(self._applying.started())
        held, self._held = self._held, []
        for action in held:
            self._apply(action)

    def check_rights(self) -> None:
        """An unpipelined sync's rights check before its first write: the failure met while the plan was
        being decided, if any, else ``before_writes``."""
        if self._refused is not None:
            raise self._refused
        self._ctx.target.before_writes()

    def finish(self, plan: Plan) -> None:
        """Apply what the plan holds beyond its decisions (the errors it adds once complete); the results are
        in once the ``with`` is left."""
        assert self._apply is not None
        # A sync's plan keeps exactly the decisions that are not skips, in order: those were applied already.
        for action in plan.actions[self._applying.given :]:
            self._apply(action)

    def results(self) -> list[Result]:
        """One result per action of the plan, in plan order."""
        return self._applying.results()
