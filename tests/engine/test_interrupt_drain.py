"""The drain the executors share: on a stop request queued tasks never start, started ones get the grace period."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from profilesync.interrupt import Stop, drain


def test_stop_cancels_queued_tasks_and_waits_only_for_the_running_one() -> None:
    """One worker, one running task and 50 queued: after a stop request drain returns once the running task ends
    (well inside the grace period), and no queued task ever starts."""
    release, running = threading.Event(), threading.Event()
    started: list[int] = []

    def task(n: int) -> None:
        started.append(n)
        running.set()
        release.wait(5)

    pool = ThreadPoolExecutor(max_workers=1)
    futures = [pool.submit(task, n) for n in range(51)]
    stop = Stop()
    running.wait(5)
    stop.request(2)
    threading.Timer(0.2, release.set).start()
    began = time.monotonic()
    assert drain(pool, futures, stop, grace_s=5.0) is True
    assert time.monotonic() - began < 2.0  # cancelled futures are not waited for
    time.sleep(0.1)
    assert started == [0]


def test_a_task_outliving_the_grace_period_is_reported() -> None:
    """A running task that does not end within the grace period makes drain return False (abandoned)."""
    release = threading.Event()
    pool = ThreadPoolExecutor(max_workers=1)
    futures = [pool.submit(release.wait, 5)]
    stop = Stop()
    stop.request(15)
    assert drain(pool, futures, stop, grace_s=0.2) is False
    assert stop.interrupted(abandoned=True).exit_code == 143
    release.set()


def test_without_a_stop_every_task_runs() -> None:
    """No stop request: drain waits for all tasks."""
    done: list[int] = []
    pool = ThreadPoolExecutor(max_workers=4)
    futures = [pool.submit(done.append, n) for n in range(100)]
    assert drain(pool, futures, Stop()) is True
    assert sorted(done) == list(range(100))
