"""Injected latency and faults: random errors and drops, scripted failures, outages."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from profilesync_sandbox import Sandbox

from .conftest import MakeSandbox
from .helpers import api, student


def test_latency_is_added_to_every_request(make_sandbox: MakeSandbox) -> None:
    """latency_ms delays answers on the Canvas host and on the upload host."""
    sb = make_sandbox(latency_ms=150)
    started = time.monotonic()
    api(sb).get(f"{sb.base_url}/api/v1/users/self")
    requests.post(f"{sb.upload_base_url}/files")
    assert time.monotonic() - started >= 0.3


def test_a_write_takes_effect_only_once_its_latency_has_passed(make_sandbox: MakeSandbox) -> None:
    """A PUT changes nothing while its latency runs (a GET's answer, by contrast, is computed meanwhile)."""
    sb = make_sandbox(latency_ms=400)
    user = student(sb)
    with ThreadPoolExecutor(max_workers=1) as pool:
        put = pool.submit(api(sb).put, f"{sb.base_url}/api/v1/users/{user.id}", data={"user[name]": "Renamed"})
        time.sleep(0.1)
        assert sb.state.user(user.id).name != "Renamed"
        assert put.result(timeout=20).status_code == 200
    assert sb.state.user(user.id).name == "Renamed"


def test_a_held_read_still_takes_its_latency_once_released(make_sandbox: MakeSandbox) -> None:
    """A GET held past its latency is answered no sooner than the latency after its release."""
    sb = make_sandbox(latency_ms=200)
    hold = sb.faults.hold(None, "/api/v1/users/self")
    with ThreadPoolExecutor(max_workers=1) as pool:
        held = pool.submit(api(sb).get, f"{sb.base_url}/api/v1/users/self", timeout=20)
        time.sleep(0.3)
        released = time.monotonic()
        hold.release()
        assert held.result(timeout=20).status_code == 200
    assert time.monotonic() - released >= 0.2


def test_error_rate_answers_5xx_with_a_canvas_body(make_sandbox: MakeSandbox) -> None:
    """error_rate=1: every request is a 500/502/503 carrying Canvas's error JSON."""
    sb = make_sandbox(error_rate=1.0)
    responses = [api(sb).get(f"{sb.base_url}/api/v1/users/self") for _ in range(5)]
    assert all(r.status_code in (500, 502, 503) for r in responses)
    assert responses[0].json()["errors"][0]["message"] == "An error occurred."


def test_error_rate_is_a_share(make_sandbox: MakeSandbox) -> None:
    """error_rate=0.3 fails roughly a third of requests, reproducibly for a fault_seed."""
    sb = make_sandbox(error_rate=0.3, fault_seed=7, throttle=False)
    admin = api(sb)
    failed = sum(admin.get(f"{sb.base_url}/api/v1/users/self").status_code >= 500 for _ in range(100))
    assert 15 <= failed <= 45


def test_drop_rate_closes_connections_without_an_answer(make_sandbox: MakeSandbox) -> None:
    """drop_rate=1: the client sees a connection error, and the log marks the request dropped."""
    sb = make_sandbox(drop_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        api(sb).get(f"{sb.base_url}/api/v1/users/self")
    assert sb.state.requests()[0].dropped and sb.state.requests()[0].status == 0


def test_outage_answers_503_then_recovers(sb: Sandbox, admin: requests.Session) -> None:
    """faults.outage(s): every request on both hosts answers 503 for that long."""
    sb.faults.outage(0.3)
    assert admin.get(f"{sb.base_url}/api/v1/users/self").status_code == 503
    assert requests.post(f"{sb.upload_base_url}/files").status_code == 503
    time.sleep(0.35)
    assert admin.get(f"{sb.base_url}/api/v1/users/self").status_code == 200


def test_fail_next_matches_method_and_path(sb: Sandbox, admin: requests.Session) -> None:
    """fail_next hits only matching requests, count times, with the given status and body."""
    sb.faults.fail_next("GET", r"/avatars$", 502, count=2, body={"errors": "bad gateway"})
    user = student(sb)
    assert admin.get(f"{sb.base_url}/api/v1/users/self").status_code == 200
    first = admin.get(f"{sb.base_url}/api/v1/users/{user.id}/avatars")
    second = admin.get(f"{sb.base_url}/api/v1/users/{user.id}/avatars")
    third = admin.get(f"{sb.base_url}/api/v1/users/{user.id}/avatars")
    assert (first.status_code, second.status_code, third.status_code) == (502, 502, 200)
    assert first.json() == {"errors": "bad gateway"}


def test_drop_next_before_changes_nothing(sb: Sandbox, admin: requests.Session) -> None:
    """A drop before the handler: the request never took effect."""
    user = student(sb)
    sb.faults.drop_next("PUT", r"^/api/v1/users/\d+$")
    with pytest.raises(requests.ConnectionError):
        admin.put(f"{sb.base_url}/api/v1/users/{user.id}", data={"user[avatar][url]": "https://x.instructure.com/a"})
    assert sb.state.user(user.id).avatar_url is None


def test_drop_next_after_applies_the_change_but_loses_the_answer(sb: Sandbox, admin: requests.Session) -> None:
    """A drop after the handler: the change happened, the client never heard."""
    user = student(sb)
    sb.faults.drop_next("PUT", r"^/api/v1/users/\d+$", after=True)
    url = "https://x.instructure.com/a.png"
    with pytest.raises(requests.ConnectionError):
        admin.put(f"{sb.base_url}/api/v1/users/{user.id}", data={"user[avatar][url]": url})
    assert sb.state.user(user.id).avatar_url == url


def test_faults_can_target_the_upload_host_only(sb: Sandbox, admin: requests.Session) -> None:
    """host="upload" leaves the Canvas host alone."""
    sb.faults.fail_next(None, ".*", 500, host="upload")
    assert admin.get(f"{sb.base_url}/api/v1/users/self").status_code == 200
    assert requests.post(f"{sb.upload_base_url}/files").status_code == 500


def test_hold_stalls_matching_requests_until_released(sb: Sandbox, admin: requests.Session) -> None:
    """faults.hold: a matching request waits, unanswered and unlogged, until the hold is released; the others
    are answered meanwhile."""
    uploads = sb.faults.hold(None, "", host="upload")
    with ThreadPoolExecutor(max_workers=1) as pool:
        held = pool.submit(requests.post, f"{sb.upload_base_url}/files", timeout=20)
        assert admin.get(f"{sb.base_url}/api/v1/users/self").status_code == 200
        time.sleep(0.2)
        assert not held.done() and sb.state.requests("upload") == []
        uploads.release()
        held.result(timeout=20)
    assert len(sb.state.requests("upload")) == 1


def test_hold_with_skip_lets_the_first_matches_through(sb: Sandbox, admin: requests.Session) -> None:
    """faults.hold(skip=1): the first matching request is answered, the second waits until the release."""
    me = f"{sb.base_url}/api/v1/users/self"
    held_reads = sb.faults.hold("GET", r"/users/self$", skip=1)
    assert admin.get(me).status_code == 200
    with ThreadPoolExecutor(max_workers=1) as pool:
        second = pool.submit(admin.get, me, timeout=20)
        time.sleep(0.2)
        assert not second.done()
        held_reads.release()
        assert second.result(timeout=20).status_code == 200


def test_request_log_and_counts(sb: Sandbox, admin: requests.Session) -> None:
    """The log records host, path, status, Authorization presence and as_user_id; counts are per route."""
    user = student(sb)
    admin.get(f"{sb.base_url}/api/v1/users/self", params={"as_user_id": user.id})
    admin.get(f"{sb.base_url}/api/v1/users/{user.id}")
    record = sb.state.requests("canvas")[0]
    assert (record.method, record.path, record.status, record.had_authorization) == (
        "GET",
        "/api/v1/users/self",
        200,
        True,
    )
    assert record.as_user_id == str(user.id)
    assert sb.state.counts()["GET /api/v1/users/:id"] == 2
    sb.state.reset_counts()
    assert sb.state.requests() == []


@pytest.fixture
def victim() -> Iterator[subprocess.Popen[bytes]]:
    """A process for kill failpoints to kill (a sleeping Python), ended by pid if it survived."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process
    if process.poll() is None:
        process.kill()
    process.wait()


def test_kill_on_before_kills_the_client_and_never_handles_the_request(
    sb: Sandbox, admin: requests.Session, victim: subprocess.Popen[bytes]
) -> None:
    """kill_on(when="before") on the 2nd matching PUT: SIGKILL, no answer, and that PUT changed nothing."""
    user = student(sb)
    point = sb.faults.kill_on("PUT", r"^/api/v1/users/\d+$", victim.pid, when="before", nth=2)
    first = "https://x.instructure.com/first.png"
    assert admin.put(f"{sb.base_url}/api/v1/users/{user.id}", data={"user[avatar][url]": first}).status_code == 200
    assert not point.fired.is_set()
    with pytest.raises(requests.ConnectionError):
        admin.put(f"{sb.base_url}/api/v1/users/{user.id}", data={"user[avatar][url]": "https://x.instructure.com/b"})
    assert point.fired.is_set() and victim.wait(timeout=10) == -signal.SIGKILL
    assert sb.state.user(user.id).avatar_url == first


def test_kill_on_after_applies_the_change_then_kills(
    sb: Sandbox, admin: requests.Session, victim: subprocess.Popen[bytes]
) -> None:
    """kill_on(when="after"): the request took effect, the client is killed before any answer is written."""
    user = student(sb)
    sb.faults.kill_on("PUT", r"^/api/v1/users/\d+$", victim.pid, when="after")
    url = "https://x.instructure.com/a.png"
    with pytest.raises(requests.ConnectionError):
        admin.put(f"{sb.base_url}/api/v1/users/{user.id}", data={"user[avatar][url]": url})
    assert victim.wait(timeout=10) == -signal.SIGKILL
    assert sb.state.user(user.id).avatar_url == url
    assert admin.get(f"{sb.base_url}/api/v1/users/self").status_code == 200  # a failpoint fires once


def test_kill_on_matches_the_host(sb: Sandbox, admin: requests.Session, victim: subprocess.Popen[bytes]) -> None:
    """host="upload" ignores the Canvas host's requests."""
    sb.faults.kill_on("POST", r"^/files$", victim.pid, host="upload")
    assert admin.post(f"{sb.base_url}/files").status_code == 404
    assert victim.poll() is None
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{sb.upload_base_url}/files")
    assert victim.wait(timeout=10) == -signal.SIGKILL
