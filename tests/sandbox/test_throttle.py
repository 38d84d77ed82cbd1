"""The request throttle (docs/canvas.md §4): headers, the exact throttled answers, and throttling caused by
concurrency."""

from __future__ import annotations

import threading

import pytest
import requests

from profilesync_sandbox import Sandbox
from profilesync_sandbox.canvas.throttle import ruby_float

from .conftest import MakeSandbox
from .helpers import api


def self_url(sb: Sandbox) -> str:
    return f"{sb.base_url}/api/v1/users/self"


def test_token_responses_carry_cost_and_remaining(sb: Sandbox, admin: requests.Session) -> None:
    """Every token request gets X-Request-Cost and X-Rate-Limit-Remaining, both floats with a '.'."""
    response = admin.get(self_url(sb))
    assert response.headers["X-Request-Cost"] == "0.05"
    remaining = response.headers["X-Rate-Limit-Remaining"]
    assert "." in remaining and 598.0 < float(remaining) < 600.0


def test_invalid_token_responses_carry_the_headers_too(sb: Sandbox) -> None:
    """The throttle runs before authentication, so even a 401 has them."""
    response = api(sb, "1~bogus").get(self_url(sb))
    assert response.status_code == 401 and "X-Rate-Limit-Remaining" in response.headers


def test_tokenless_requests_have_no_rate_headers(sb: Sandbox) -> None:
    """No token, no bucket headers."""
    response = requests.get(self_url(sb))
    assert "X-Request-Cost" not in response.headers and "X-Rate-Limit-Remaining" not in response.headers


def test_per_endpoint_costs(make_sandbox: MakeSandbox) -> None:
    """request_cost may be a mapping by route key, with a default."""
    sb = make_sandbox(request_cost={"GET /api/v1/users/:id": 2.5, "default": 0.25})
    admin = api(sb)
    assert admin.get(self_url(sb)).headers["X-Request-Cost"] == "2.5"
    assert admin.get(f"{sb.base_url}/api/v1/accounts/self").headers["X-Request-Cost"] == "0.25"


def throttled_sandbox(make_sandbox: MakeSandbox, **extra: object) -> Sandbox:
    """hwm 100, reservation 50, cost 60, no leak: the first request passes, the second is refused."""
    return make_sandbox(hwm=100.0, maximum=800.0, up_front_cost=50.0, request_cost=60.0, outflow=0.0, **extra)


def test_throttled_answer_is_403_text_with_no_cost_header(make_sandbox: MakeSandbox) -> None:
    """403, text/plain, "403 Forbidden (Rate Limit Exceeded)\\n", a remaining header, no cost header."""
    sb = throttled_sandbox(make_sandbox)
    admin = api(sb)
    assert admin.get(self_url(sb)).status_code == 200
    response = admin.get(self_url(sb))
    assert response.status_code == 403
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.text == "403 Forbidden (Rate Limit Exceeded)\n"
    assert "X-Request-Cost" not in response.headers
    assert response.headers["X-Rate-Limit-Remaining"] == "40.0"  # positive: the 50 was refunded


def test_throttled_answer_can_be_429(make_sandbox: MakeSandbox) -> None:
    """throttle_status=429 gives newer hosted Canvas's Too Many Requests."""
    sb = throttled_sandbox(make_sandbox, throttle_status=429)
    admin = api(sb)
    admin.get(self_url(sb))
    response = admin.get(self_url(sb))
    assert response.status_code == 429 and "Rate Limit Exceeded" in response.text


def test_buckets_are_per_token(make_sandbox: MakeSandbox) -> None:
    """A throttled token does not affect another token."""
    sb = throttled_sandbox(make_sandbox)
    admin = api(sb)
    admin.get(self_url(sb))
    assert admin.get(self_url(sb)).status_code == 403
    assert api(sb, sb.no_masquerade_token).get(self_url(sb)).status_code == 200


def test_no_throttle_never_refuses_but_still_reports(make_sandbox: MakeSandbox) -> None:
    """throttle=False lets everything through; the headers still count (and may go negative)."""
    sb = throttled_sandbox(make_sandbox, throttle=False)
    admin = api(sb)
    responses = [admin.get(self_url(sb)) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert float(responses[-1].headers["X-Rate-Limit-Remaining"]) < 0


def test_bucket_leaks_over_time(make_sandbox: MakeSandbox) -> None:
    """The count drains at outflow per second, so waiting lets a throttled token in again."""
    sb = make_sandbox(hwm=100.0, up_front_cost=50.0, request_cost=60.0, outflow=200.0)
    admin = api(sb)
    admin.get(self_url(sb))
    threading.Event().wait(0.4)
    assert admin.get(self_url(sb)).status_code == 200


def test_concurrency_alone_triggers_the_throttle(make_sandbox: MakeSandbox) -> None:
    """16 parallel cheap requests on a fresh bucket each hold 50 in flight: some are refused."""
    sb = make_sandbox(latency_ms=400)
    barrier = threading.Barrier(16)
    statuses: list[int] = []
    lock = threading.Lock()

    def one() -> None:
        session = api(sb)
        barrier.wait()
        status = session.get(self_url(sb)).status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=one) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses.count(403) >= 1 and statuses.count(200) >= 11


@pytest.mark.parametrize(
    ("value", "text"),
    [(1.0, "1.0"), (600.0, "600.0"), (0.0312485, "0.0312485"), (-12.5, "-12.5"), (1e-05, "1.0e-05"), (1e16, "1.0e+16")],
)
def test_ruby_float_formatting(value: float, text: str) -> None:
    """Header values follow Ruby's Float#to_s."""
    assert ruby_float(value) == text
