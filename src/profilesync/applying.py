"""``avatars sync`` from plan to results: the safety valve, the rights check and the executor, in that order —
or, when the valve cannot trip (:func:`profilesync.valve.cannot_trip`), with the writes started while the listing
still runs (:mod:`profilesync.engine.pipeline`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from profilesync import valve
from profilesync.engine.executor import Execution, execute, skipped_outcomes
from profilesync.engine.model import Action, Plan, PlannedAction, Result
from profilesync.engine.pipeline import EarlyWrites

#: given whether the history holds a successful sync: the callback for each decision as the planner makes it,
#: or None (no early writes)
DecideEarly = Callable[[bool], Callable[[PlannedAction], None] | None]


def plan_and_apply(
    ctx: Execution,
    plan_with: Callable[[DecideEarly], Plan],
    *,
    user: str | None,
    max_uploads: int | None,
    force: bool,
    on_plan: Callable[[Plan], None] | None,
    on_counted: Callable[[Mapping[str, int]], None],
) -> list[Result]:
    """Plan (``plan_with``, which hands the planner's decisions to its argument's callback) and apply the plan:
    one result per action, in plan order. ``on_counted`` is given the skips the plan only counted, once it is
    complete; ``on_plan`` the plan, before the writes or, pipelined, once the listing ended."""

    def write_early(synced_before: bool) -> Callable[[PlannedAction], None] | None:
        # --user reads that user's record only, which says nothing of the target's history.
        pipelined = user is None and valve.cannot_trip(synced_before=synced_before, max_uploads=max_uploads)
        return early.decided if pipelined else None

    with EarlyWrites(ctx) as early:
        plan = plan_with(write_early)
        on_counted(skipped_outcomes(plan))
        if early.started:  # the valve could not trip, and the rights check came before the first write
            early.finish(plan)
            if on_plan is not None:
                on_plan(plan)
    if early.started:
        return early.results()
    target = ctx.target
    valve.check(plan, lambda: ctx.store.records(target.target_id), max_uploads=max_uploads, force=force)
    if any(a.action in (Action.UPLOAD, Action.REASSIGN) for a in plan.actions):
        early.check_rights()  # a token that cannot write stops here, not after failing users
    if on_plan is not None:
        on_plan(plan)
    return execute(plan, ctx)
