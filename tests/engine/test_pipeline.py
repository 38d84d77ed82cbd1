"""The pipelined sync's writes (engine.pipeline.EarlyWrites): they start while decisions still come, after the
rights check; results in plan order; a refused rights check, a fatal error and a stop end as an unpipelined sync
ends."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from profilesync.engine.executor import Execution
from profilesync.engine.model import Action, Outcome, Photo, Plan, PlannedAction, Reason, RemoteUser, Result
from profilesync.engine.pipeline import EarlyWrites
from profilesync.errors import FatalRemoteError, RemoteError, RunInterrupted
from profilesync.interrupt import Stop
from profilesync.store.memory import MemoryStore

from .test_executor_breaker import FakeTarget

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


class RightsTarget(FakeTarget):
    """A fake target that logs its rights check and its uploads, in order."""

    def __init__(self, outcome: Callable[[int], RemoteError | None], rights: Exception | None = None) -> None:
        super().__init__(outcome)
        self.log: list[str] = []
        self.rights = rights

    def before_writes(self) -> None:
        self.log.append("rights")
        if self.rights is not None:
            raise self.rights


def _action(i: int, action: Action = Action.UPLOAD, reason: Reason = Reason.NEW) -> PlannedAction:
    user = RemoteUser(str(i), f"S{i}", f"User {i}", None)
    message = "several photos" if action is Action.ERROR else None
    return PlannedAction(f"S{i}", user, action, reason, Photo.at(f"S{i}", Path(f"/p/S{i}.jpg"), "sha"), message=message)


def _ctx(target: RightsTarget, stop: Stop | None = None, reported: list[Result] | None = None) -> Execution:
    store = MemoryStore()

    def on_result(result: Result) -> None:
        target.log.append(f"{result.outcome.value} {result.planned.key}")
        if reported is not None:
            reported.append(result)

    return Execution(
        target=target,
        store=store,
        read_image=lambda photo: (b"jpeg", "sha"),
        run_id=store.start_run(target.target_id, "avatars sync", NOW),
        workers=2,
        clock=lambda: NOW,
        on_result=on_result,
        stop=stop or Stop(),
    )


def _kept(decisions: list[PlannedAction]) -> Plan:
    """The plan a sync keeps from those decisions: everything but the skips, in order."""
    return Plan("fake:1", tuple(a for a in decisions if a.action is not Action.SKIP))


def test_writes_start_while_decisions_still_come_and_results_keep_plan_order() -> None:
    """The first upload runs before the next decision is made; results come back one per kept action, in plan
    order, skips left to the plan's count."""
    uploaded = threading.Event()

    def outcome(index: int) -> None:
        uploaded.set()
        return None

    target = RightsTarget(outcome)
    decisions = [_action(0, Action.SKIP, Reason.NO_PHOTO), _action(1), _action(2, Action.SKIP, Reason.NO_PHOTO)]
    decisions += [_action(i) for i in range(3, 20)]
    with EarlyWrites(_ctx(target)) as early:
        early.decided(decisions[0])
        early.decided(decisions[1])
        assert uploaded.wait(5), "the first upload did not start before the next decision"
        for planned in decisions[2:]:
            early.decided(planned)
        plan = _kept(decisions)
        early.finish(plan)
    assert early.started
    results = early.results()
    assert [r.planned for r in results] == list(plan.actions)
    assert all(r.outcome is Outcome.UPLOADED for r in results)


def test_rights_check_comes_first_and_earlier_errors_wait_for_it() -> None:
    """A plan-time error decided before the first upload is reported only after the rights check, which runs
    once, before any upload; an error the plan adds once complete is applied by finish()."""
    target = RightsTarget(lambda index: None)
    decisions = [_action(0, Action.ERROR, Reason.AMBIGUOUS_PHOTO), _action(1), _action(2)]
    late = _action(9, Action.ERROR, Reason.INVALID_PHOTO)
    with EarlyWrites(_ctx(target)) as early:
        early.decided(decisions[0])
        assert target.log == []  # held: nothing is applied before the rights check
        for planned in decisions[1:]:
            early.decided(planned)
        early.finish(Plan("fake:1", (*decisions, late)))
    assert target.log[:2] == ["rights", "failed S0"]
    assert target.log.count("rights") == 1
    assert [r.planned.key for r in early.results()] == ["S0", "S1", "S2", "S9"]


def test_refused_rights_apply_nothing_and_are_raised_once_the_plan_is_complete() -> None:
    """A token that cannot write: no upload starts, the decisions go on, and check_rights raises that error."""
    refusal = FatalRemoteError("the token lacks Users - act as")
    target = RightsTarget(lambda index: None, rights=refusal)
    with EarlyWrites(_ctx(target)) as early:
        for i in range(10):
            early.decided(_action(i))
    assert not early.started and target.calls == 0 and target.log == ["rights"]
    with pytest.raises(FatalRemoteError) as raised:
        early.check_rights()
    assert raised.value is refusal and target.log == ["rights"]


def test_fatal_error_lets_the_plan_finish_then_raises_it() -> None:
    """A fatal error on the first upload: decisions are still taken in (errors reported, no new upload), and
    leaving raises that error, as an unpipelined sync's executor does."""
    fatal = FatalRemoteError("avatars are disabled")
    target = RightsTarget(lambda index: fatal if index == 0 else None)
    reported: list[Result] = []
    ctx = _ctx(target, reported=reported)
    with pytest.raises(FatalRemoteError) as raised, EarlyWrites(ctx) as early:
        early.decided(_action(0))
        deadline = time.monotonic() + 5
        while target.calls == 0 and time.monotonic() < deadline:  # the upload that halts the pool
            time.sleep(0.01)
        time.sleep(0.05)
        early.decided(_action(1))
        early.decided(_action(2, Action.ERROR, Reason.AMBIGUOUS_PHOTO))
        early.finish(Plan("fake:1", (_action(0), _action(1), _action(2, Action.ERROR, Reason.AMBIGUOUS_PHOTO))))
    assert raised.value is fatal
    assert target.calls == 1
    assert [(r.planned.key, r.outcome) for r in reported] == [("S2", Outcome.FAILED)]


def test_stop_request_ends_the_decisions_once_the_users_in_flight_finished() -> None:
    """Ctrl-C after writes started: the next decision ends the planning, the finished users are recorded, and
    RunInterrupted is raised."""
    stop = Stop()
    target = RightsTarget(lambda index: None)
    reported: list[Result] = []
    ctx = _ctx(target, stop=stop, reported=reported)
    decided = 0
    with pytest.raises(RunInterrupted) as raised, EarlyWrites(ctx) as early:
        for i in range(100):
            if i == 5:
                stop.request(2)
            early.decided(_action(i))
            decided += 1
    assert raised.value.exit_code == 130 and not raised.value.abandoned
    assert decided == 5
    assert len(ctx.store.records("fake:1")) == target.calls == len(reported) <= 5


def test_planning_error_waits_for_the_users_in_flight() -> None:
    """A listing that fails after writes started: the error propagates only once the upload in flight ended
    (and was recorded), and no queued upload starts."""
    release = threading.Event()
    started = threading.Event()

    def outcome(index: int) -> None:
        started.set()
        release.wait(5)
        return None

    target = RightsTarget(outcome)
    ctx = replace(_ctx(target), workers=1)
    with pytest.raises(FatalRemoteError, match="cannot list"), EarlyWrites(ctx) as early:
        for i in range(5):
            early.decided(_action(i))
        assert started.wait(5)
        threading.Timer(0.2, release.set).start()
        raise FatalRemoteError("cannot list the users")
    assert target.calls == 1
    assert set(ctx.store.records("fake:1")) == {"S0"}
