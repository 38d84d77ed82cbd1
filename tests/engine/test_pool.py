"""The isolated worker pool both jobs run on: one item's error is its own, a fatal error ends the run cleanly."""

from __future__ import annotations

import pytest

from profilesync.engine.pool import Pool
from profilesync.errors import FatalRemoteError, RunInterrupted
from profilesync.interrupt import Stop


def pool_for(work: dict[int, Exception | None], done: dict[int, str], stop: Stop | None = None) -> Pool[int, str]:
    """One worker, so items run in order; ``work[i]`` is what item i raises (None: it succeeds)."""

    def run(item: int) -> str:
        error = work[item]
        if error is not None:
            raise error
        return "ok"

    return Pool(
        work=run,
        failed=lambda item, exc: f"failed: {exc}",
        finished=done.__setitem__,
        workers=1,
        stop=stop or Stop(),
        thread_name="test",
    )


def test_an_unexpected_error_is_that_items_failure() -> None:
    """A bug in one item fails that item only; the others finish."""
    done: dict[int, str] = {}
    pool = pool_for({0: None, 1: ValueError("bug"), 2: None}, done)
    pool.run([0, 1, 2], complete=lambda: len(done) == 3)
    assert done == {0: "ok", 1: "failed: bug", 2: "ok"}


def test_a_fatal_error_starts_nothing_new_and_is_raised() -> None:
    """After a fatal error no item starts; the error ends the run."""
    done: dict[int, str] = {}
    pool = pool_for({0: None, 1: FatalRemoteError("bad token"), 2: None}, done)
    with pytest.raises(FatalRemoteError, match="bad token"):
        pool.run([0, 1, 2], complete=lambda: len(done) == 3)
    assert done == {0: "ok"}


def test_a_stop_request_before_the_run_is_an_interruption() -> None:
    """A stop already requested: no item runs, and the run ends as interrupted."""
    done: dict[int, str] = {}
    stop = Stop()
    stop.request(15)
    with pytest.raises(RunInterrupted):
        pool_for({0: None}, done, stop).run([0], complete=lambda: len(done) == 1)
    assert done == {}
