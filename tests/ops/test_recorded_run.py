"""The recorded-run shell both jobs run in: one lock, one run record, and its exit code however the work ends."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from profilesync.engine.ports import HistoryStore
from profilesync.errors import FatalRemoteError, LockedError, RunInterrupted
from profilesync.interrupt import Stop
from profilesync.runs import Run, Tally, recorded_run
from profilesync.store import MemoryStore

JOB = "test-job"


class Target:
    """A target whose naming is counted (naming a real one may ask the vendor)."""

    def __init__(self) -> None:
        self.named = 0

    @property
    def target_id(self) -> str:
        self.named += 1
        return "canvas:root:test"


@pytest.fixture
def store() -> Iterator[HistoryStore]:
    history = MemoryStore()
    yield history
    history.close()


def test_a_run_that_ends_well_is_recorded_with_its_counts(store: HistoryStore) -> None:
    """Counts and exit 0 go into the run record; the run is named after the target."""
    with recorded_run(
        store, Target(), job=JOB, command="test sync", stop=Stop(), tally=lambda _run: Tally({"done": 2}, False)
    ) as run:
        pass
    [record] = store.runs()
    assert (record.target_id, record.command, dict(record.counts), record.exit_code) == (
        "canvas:root:test",
        "test sync",
        {"done": 2},
        0,
    )
    assert (run.run_id, run.exit_code, dict(run.counts)) == (record.run_id, 0, {"done": 2})


def test_failures_in_a_run_that_ended_make_it_partial(store: HistoryStore) -> None:
    """A tally with failures turns an otherwise good end into exit 1, recorded and returned."""
    with recorded_run(
        store, Target(), job=JOB, command="test sync", stop=Stop(), tally=lambda _run: Tally({"failed": 1}, True)
    ) as run:
        pass
    assert run.exit_code == 1 and store.runs()[0].exit_code == 1


def test_an_error_is_recorded_with_its_exit_code_and_propagates(store: HistoryStore) -> None:
    """A fatal remote error inside the run is recorded as exit 3 (not partial), and re-raised."""
    seen: list[Run] = []

    def tally(run: Run) -> Tally:
        seen.append(Run(run.run_id, run.target_id, run.exit_code))
        return Tally({"failed": 1}, True)

    with (
        pytest.raises(FatalRemoteError),
        recorded_run(store, Target(), job=JOB, command="test sync", stop=Stop(), tally=tally),
    ):
        raise FatalRemoteError("bad token")
    assert [r.exit_code for r in seen] == [3]
    assert store.runs()[0].exit_code == 3


def test_an_interrupted_run_is_recorded_with_the_signals_code(store: HistoryStore) -> None:
    """SIGTERM mid-run: the tally sees an interrupted run, the record says 143, the interrupt propagates."""
    seen: list[bool] = []

    def tally(run: Run) -> Tally:
        seen.append(run.interrupted)
        return Tally({"done": 1}, False)

    with (
        pytest.raises(RunInterrupted),
        recorded_run(store, Target(), job=JOB, command="test sync", stop=Stop(), tally=tally),
    ):
        raise RunInterrupted(signal.SIGTERM)
    assert seen == [True]
    [record] = store.runs()
    assert (record.exit_code, dict(record.counts)) == (143, {"done": 1})


def test_a_held_lock_refuses_the_run_before_the_target_is_named(store: HistoryStore) -> None:
    """While one run of the job holds the lock, another stops with LockedError without naming its target."""
    second = Target()
    with (
        recorded_run(store, Target(), job=JOB, command="test sync", stop=Stop(), tally=lambda _run: Tally({}, False)),
        pytest.raises(LockedError),
        recorded_run(store, second, job=JOB, command="test sync", stop=Stop(), tally=lambda _run: Tally({}, False)),
    ):
        pass
    assert second.named == 0
    assert len(store.runs()) == 1
