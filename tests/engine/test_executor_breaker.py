"""The executor's circuit breaker: the first users all failing one non-transient way, none succeeding, stops a run."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from profilesync.engine.executor import Execution, execute
from profilesync.engine.model import (
    Action,
    Outcome,
    Photo,
    Plan,
    PlannedAction,
    Reason,
    RemoteUser,
    Result,
    SyncRecord,
    Uploaded,
)
from profilesync.errors import (
    FatalRemoteError,
    LimitedAccessError,
    MasqueradeRefusedError,
    PermissionDeniedError,
    RemoteError,
    TransientError,
)
from profilesync.store.memory import MemoryStore

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
USERS = 60


class FakeTarget:
    """Fails or succeeds per user as ``outcome(index)`` says (None: success); counts the users tried."""

    target_id = "fake:1"

    def __init__(self, outcome: Callable[[int], RemoteError | None]) -> None:
        self.outcome = outcome
        self.calls = 0

    def list_users(self) -> Iterator[RemoteUser]:
        return iter(())

    def find_user(self, key: str) -> RemoteUser | None:
        return None

    def upload_avatar(self, user: RemoteUser, image: bytes, previous: SyncRecord | None = None) -> Uploaded:
        self.calls += 1
        error = self.outcome(int(user.user_id))
        if error is not None:
            raise error
        return Uploaded("1", "u", "https://x/images/thumbnails/1/u", "attachment:1/u")

    def own_avatars(self, users: list[RemoteUser]) -> set[str]:
        return set()

    def reassign_avatar(self, user: RemoteUser, record: SyncRecord) -> Uploaded | None:
        return None


def execute_with(target: FakeTarget) -> list[Result]:
    """Every user an upload, one worker so outcomes arrive in plan order."""
    actions = tuple(
        PlannedAction(
            f"S{i}",
            RemoteUser(str(i), f"S{i}", f"User {i}", None),
            Action.UPLOAD,
            Reason.NEW,
            Photo.at(f"S{i}", Path(f"/p/S{i}.jpg"), "sha"),
        )
        for i in range(USERS)
    )
    store = MemoryStore()
    ctx = Execution(
        target=target,
        store=store,
        read_image=lambda photo: (b"jpeg", "sha"),
        run_id=store.start_run(target.target_id, "avatars sync", NOW),
        workers=1,
        clock=lambda: NOW,
    )
    return execute(Plan(target.target_id, actions), ctx)


def test_same_permission_failure_for_the_first_ten_stops_the_run() -> None:
    """Ten users refused alike, none succeeding: FatalRemoteError quoting the first failure; no 11th user tried."""
    target = FakeTarget(lambda i: PermissionDeniedError("not permitted", advice="grant the role"))
    expected = r"first 10 users .*\(permission\).*S0: not permitted \(grant the role\)"
    with pytest.raises(FatalRemoteError, match=expected):
        execute_with(target)
    assert target.calls == 10


def test_a_success_first_disarms_the_breaker() -> None:
    """One user succeeding proves the token works: later failures, however many, stay per-user."""
    results = execute_with(FakeTarget(lambda i: None if i == 0 else PermissionDeniedError("not permitted")))
    assert [r.outcome for r in results].count(Outcome.FAILED) == USERS - 1


def test_transient_failures_never_trip_the_breaker() -> None:
    """An outage fails users as transient (the next run repairs them): the run is not stopped."""
    results = execute_with(FakeTarget(lambda i: TransientError("server error 503")))
    assert len(results) == USERS and {r.reason for r in results} == {"transient"}


def test_one_kind_must_reach_ten() -> None:
    """Alternating kinds: the breaker trips when one of them reaches ten, not before."""
    target = FakeTarget(lambda i: PermissionDeniedError("no") if i % 2 == 0 else RemoteError("odd"))
    with pytest.raises(FatalRemoteError, match=r"\(permission\)"):
        execute_with(target)
    assert target.calls == 19


@pytest.mark.parametrize("error", [LimitedAccessError("student refused"), MasqueradeRefusedError("refused")])
def test_refusals_of_one_user_never_trip_the_breaker(error: RemoteError) -> None:
    """Every user refused for limited access or as one refused masquerade: all fail alone, the run is not stopped."""
    results = execute_with(FakeTarget(lambda i: error))
    assert len(results) == USERS and {r.reason for r in results} == {error.kind}


def test_refused_users_do_not_hide_a_systemic_failure() -> None:
    """Limited-access students between them, ten staff refused alike still trip the breaker (permission)."""
    target = FakeTarget(lambda i: LimitedAccessError("student") if i % 3 else PermissionDeniedError("no role"))
    with pytest.raises(FatalRemoteError, match=r"\(permission\)"):
        execute_with(target)
    assert target.calls == 28
