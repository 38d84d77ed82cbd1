"""The executor and a stop request (SIGINT/SIGTERM): no new user starts, finished users are recorded, and a user
that outlives the grace period is reported as abandoned."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from profilesync import interrupt
from profilesync.engine.executor import Execution, execute
from profilesync.engine.model import Action, Photo, Plan, PlannedAction, Reason, RemoteUser, Result
from profilesync.errors import RunInterrupted
from profilesync.interrupt import Stop
from profilesync.store.memory import MemoryStore

from .test_executor_breaker import FakeTarget

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


def _plan(users: int) -> Plan:
    actions = tuple(
        PlannedAction(
            f"S{i}", RemoteUser(str(i), f"S{i}", f"User {i}", None), Action.UPLOAD, Reason.NEW,
            Photo.at(f"S{i}", Path(f"/p/S{i}.jpg"), "sha"),
        )
        for i in range(users)
    )  # fmt: skip
    return Plan("fake:1", actions)


def _run(target: FakeTarget, stop: Stop, users: int, reported: list[Result]) -> tuple[MemoryStore, RunInterrupted]:
    """Execute a plan of ``users`` uploads that must end in RunInterrupted; the store and that exception."""
    store = MemoryStore()
    ctx = Execution(
        target=target,
        store=store,
        read_image=lambda photo: (b"jpeg", "sha"),
        run_id=store.start_run(target.target_id, "avatars sync", NOW),
        workers=2,
        clock=lambda: NOW,
        on_result=reported.append,
        stop=stop,
    )
    with pytest.raises(RunInterrupted) as raised:
        execute(_plan(users), ctx)
    return store, raised.value


def test_stop_after_some_users_records_them_and_starts_no_more() -> None:
    """A stop requested after the 5th upload: the users in flight finish, no other starts, RunInterrupted
    (not abandoned) is raised, and every finished user is in the history and was reported."""
    stop = Stop()

    def outcome(index: int) -> None:
        if index == 4:
            stop.request(2)
        return None

    target = FakeTarget(outcome)
    reported: list[Result] = []
    store, raised = _run(target, stop, 100, reported)
    assert raised.exit_code == 130 and not raised.abandoned
    assert 5 <= target.calls <= 7  # 2 workers: at most the one in flight beside the 5th finishes
    assert len(store.records("fake:1")) == target.calls == len(reported)


def test_user_stuck_beyond_the_grace_period_is_abandoned(monkeypatch: pytest.MonkeyPatch) -> None:
    """A user whose upload hangs past the grace period: RunInterrupted(abandoned=True) comes after the grace
    period, not after the hang; the users that finished are recorded."""
    monkeypatch.setattr(interrupt, "GRACE_S", 0.2)
    stop, hang = Stop(), threading.Event()

    def outcome(index: int) -> None:
        if index == 3:
            stop.request(15)
            hang.wait(10)
        return None

    reported: list[Result] = []
    store, raised = _run(FakeTarget(outcome), stop, 50, reported)
    hang.set()
    assert raised.abandoned and raised.exit_code == 143
    assert 3 <= len(store.records("fake:1")) <= 4
