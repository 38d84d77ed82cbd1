"""Canvas failing, lying with dropped answers, throttling and going down mid-run: nobody is lost or duplicated.

Every test runs the real CLI against the sandbox over loopback, then compares three things: the sync report,
the sandbox's own truth (avatars, files in "profile pictures") and the history (``avatars history``).
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from profilesync.http import Retry

from .conftest import MakeWorld
from .helpers import assert_all_synced, assert_history_is_true, assert_no_duplicates, expected_keys

USERS = 150


@pytest.mark.parametrize("upload_mode", ["instfs", "local"])
@pytest.mark.parametrize("drop_after", [False, True], ids=["dropped-before", "dropped-after"])
def test_ten_percent_of_requests_failing_fail_nobody(make: MakeWorld, upload_mode: str, drop_after: bool) -> None:
    """10% of requests on both hosts answer 5xx or lose the connection: every user still ends synced, once."""
    world = make(
        users=USERS,
        upload_mode=upload_mode,
        error_rate=0.05,
        drop_rate=0.05,
        drop_after=drop_after,
        fault_seed=7,
        thumbnail_lag_s=0.05,
    )
    result = world.json("avatars", "sync")
    keys = expected_keys(world)
    assert result["failures"] == [] and result["counts"]["uploaded"] == len(keys)
    seen = Counter(
        (r.host, "dropped" if r.dropped else "5xx" if r.status >= 500 else "ok") for r in world.sandbox.state.requests()
    )
    for host in ("canvas", "upload"):  # the faults really hit both hosts
        assert seen[(host, "dropped")] and seen[(host, "5xx")], seen
    assert_all_synced(world, keys)
    assert_no_duplicates(world)


@pytest.mark.parametrize("status", [403, 429])
def test_tight_throttle_fails_nobody(make: MakeWorld, status: int) -> None:
    """A throttle that refuses a naive burst (and our first request) never fails a user, in 403 or 429 style."""
    # Room for five requests in flight (hwm 300, 50 reserved by each), where our client would take 11. Just
    # before the run a neighbour sharing the token fills the bucket (5 × 55) with a costly endpoint; with
    # Canvas's own leak of 10/s the run's first request is refused too, and the run starts throttle-bound.
    world = make(
        users=60,
        hwm=300.0,
        request_cost={"default": 0.2, "GET /api/v1/users/:user_id/profile": 55.0},
        throttle_status=status,
        latency_ms=5,
    )
    sb = world.sandbox
    headers = {"Authorization": f"Bearer {sb.admin_token}"}
    with ThreadPoolExecutor(16) as pool:  # the naive client: 16 at once
        burst = list(
            pool.map(lambda _: requests.get(f"{sb.base_url}/api/v1/users/self/profile", headers=headers), range(16))
        )
    refused = [r for r in burst if r.status_code == status]
    assert len(refused) >= 8, [r.status_code for r in burst]
    assert all("Rate Limit Exceeded" in r.text for r in refused)
    sb.state.reset_counts()

    result = world.json("avatars", "sync")
    keys = expected_keys(world)
    assert result["failures"] == [] and result["counts"]["uploaded"] == len(keys)
    throttled = [r for r in sb.state.requests("canvas") if r.status == status]
    assert throttled, "the run was never throttled: the test proves nothing"
    assert_all_synced(world, keys)


def test_outage_mid_run_is_repaired_by_the_next_run(make: MakeWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    """Canvas down mid-run: the run fails only the users it could not finish (exit 1); the next one finishes them."""
    # Scaled down 5x on both sides: a 5 s outage against retries that give up after ~3 s (0.1+0.2+…+1.6 s)
    # is what a 25 s outage is against the real ~15 s of backoff. Requests in flight must give up.
    monkeypatch.setattr(Retry, "delay", lambda self, attempt: 0.1 * 2**attempt)
    world = make(users=USERS, latency_ms=5, thumbnail_lag_s=0.05)
    keys = expected_keys(world)
    sb = world.sandbox
    started = threading.Event()
    stop_watching = threading.Event()

    def start_outage_when_a_third_is_done() -> None:
        while not stop_watching.wait(0.01):
            if len(sb.state.files()) >= len(keys) // 3:
                sb.faults.outage(5.0)
                started.set()
                return

    watcher = threading.Thread(target=start_outage_when_a_third_is_done, daemon=True)
    watcher.start()
    try:
        first = world.json("avatars", "sync", expect=1)
    finally:
        stop_watching.set()
        watcher.join()
    assert started.is_set()
    failed = {f["key"] for f in first["failures"]}
    assert failed and {f["reason"] for f in first["failures"]} == {"transient"}
    assert first["counts"]["uploaded"] + len(failed) == len(keys)
    assert_history_is_true(world)
    assert_no_duplicates(world)

    second = world.json("avatars", "sync")
    assert second["counts"]["uploaded"] == len(failed) and second["failures"] == []
    assert_all_synced(world, keys)
