"""The HTTP plumbing: status mapping, retries, throttling, the rate gate, the token's origin, pagination."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests
import responses
from responses import matchers

from profilesync.errors import (
    FatalRemoteError,
    NotFoundError,
    PermissionDeniedError,
    RemoteError,
    TransientError,
)
from profilesync.http import USER_AGENT, Api, Retry, redact_url
from profilesync.targets.canvas.client import CANVAS

from .conftest import BASE, FAST_RETRY, TOKEN

USERS = f"{BASE}/api/v1/users/1001"
LISTING = f"{BASE}/api/v1/accounts/self/users"
THROTTLED_403: dict[str, Any] = {
    "status": 403,
    "body": "403 Forbidden (Rate Limit Exceeded)\n",
    "content_type": "text/plain",
}
UNAUTHORIZED = {"status": "unauthorized", "errors": [{"message": "user not authorized to perform that action"}]}


def page_link(page: int, per_page: int, rel: str, host: str = BASE) -> str:
    return f'<{host}/api/v1/accounts/self/users?include%5B%5D=avatar_url&page={page}&per_page={per_page}>; rel="{rel}"'


def links(page: int, per_page: int, *, next_page: bool = True, host: str = BASE) -> dict[str, str]:
    parts = [page_link(page, per_page, "current")]
    if next_page:
        parts.append(page_link(page + 1, per_page, "next", host))
    parts.append(page_link(1, per_page, "first"))
    return {"Link": ",".join(parts)}


def rows(start: int, count: int) -> list[dict[str, Any]]:
    return [{"id": i} for i in range(start, start + count)]


def add_page(rsps: responses.RequestsMock, page: int, per_page: int, body: list[Any], **link_kw: Any) -> None:
    """Register page N as the URL its predecessor's next link names (page 1: the first request's query)."""
    if page == 1:
        query = matchers.query_param_matcher({"include[]": "avatar_url", "per_page": "100"})
        rsps.add(responses.GET, LISTING, json=body, headers=links(1, per_page, **link_kw), match=[query])
    else:
        url = f"{LISTING}?include%5B%5D=avatar_url&page={page}&per_page={per_page}"
        rsps.add(responses.GET, url, json=body, headers=links(page, per_page, **link_kw))


def listed(api: Api) -> list[list[dict[str, Any]]]:
    return list(api.paginate("/api/v1/accounts/self/users", what="listing", params=[("include[]", "avatar_url")]))


# -- status to exception ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        "Invalid access token.",
        "Revoked access token.",
        "Expired access token.",
        "Insufficient scopes on access token.",
    ],
)
def test_bad_token_401_is_fatal_and_never_shows_the_token(rsps: responses.RequestsMock, api: Api, message: str) -> None:
    """A 401 naming an invalid, revoked, expired or under-scoped token stops the run, without the token."""
    body = {"errors": [{"message": message, "expired_at": "2026-01-01T00:00:00Z"}]}
    rsps.add(responses.GET, USERS, status=401, json=body, headers={"WWW-Authenticate": 'Bearer realm="canvas-lms"'})
    with pytest.raises(FatalRemoteError) as caught:
        api.json("GET", "/api/v1/users/1001", what="reading")
    assert message in caught.value.message
    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(caught.value.args)


@pytest.mark.parametrize("status", [401, 403])
def test_unauthorized_json_is_permission_denied(rsps: responses.RequestsMock, api: Api, status: int) -> None:
    """401 and 403 with a JSON "unauthorized" body fail one object, not the run."""
    rsps.add(responses.GET, USERS, status=status, json=UNAUTHORIZED)
    with pytest.raises(PermissionDeniedError) as caught:
        api.json("GET", "/api/v1/users/1001", what="reading")
    assert caught.value.status == status
    assert "user not authorized" in caught.value.message


def test_unauthenticated_401_is_permission_denied(rsps: responses.RequestsMock, api: Api) -> None:
    """The 401 "user authorization required" body is not mistaken for a bad token."""
    body = {"status": "unauthenticated", "errors": [{"message": "user authorization required"}]}
    rsps.add(responses.GET, USERS, status=401, json=body)
    with pytest.raises(PermissionDeniedError):
        api.json("GET", "/api/v1/users/1001", what="reading")


def test_404_is_not_found(rsps: responses.RequestsMock, api: Api) -> None:
    """A 404 becomes NotFoundError with the status kept."""
    rsps.add(responses.GET, USERS, status=404, json={"errors": [{"message": "The specified resource does not exist."}]})
    with pytest.raises(NotFoundError) as caught:
        api.json("GET", "/api/v1/users/1001", what="reading")
    assert caught.value.status == 404


@pytest.mark.parametrize(
    ("body", "human"),
    [
        (
            {"errors": [{"field": "search_term", "code": "invalid", "message": "3 or more characters is required"}]},
            "3 or more characters is required",
        ),
        ({"errors": "Invalid as_user_id"}, "Invalid as_user_id"),
        ({"message": "file size exceeds quota"}, "file size exceeds quota"),
        (
            {
                "errors": {
                    "pseudonym": {
                        "unique_id": [
                            {"attribute": "unique_id", "type": "taken", "message": "ID already in use for this account"}
                        ]
                    }
                }
            },
            "pseudonym.unique_id: ID already in use for this account",
        ),
        (
            {
                "errors": {
                    "observer_id": [
                        {
                            "attribute": "observer_id",
                            "type": "Cannot observe yourself",
                            "message": "Cannot observe yourself",
                        }
                    ]
                }
            },
            "observer_id: Cannot observe yourself",
        ),
    ],
    ids=["errors-list", "errors-string", "top-level-message", "nested-pseudonym", "model-validation"],
)
def test_400_body_shapes_become_the_human_message(
    rsps: responses.RequestsMock, api: Api, body: dict[str, Any], human: str
) -> None:
    """Every Canvas 400 error-body shape yields a RemoteError carrying its human message."""
    rsps.add(responses.POST, USERS, status=400, json=body)
    with pytest.raises(RemoteError) as caught:
        api.json("POST", "/api/v1/users/1001", what="updating")
    assert type(caught.value) is RemoteError
    assert caught.value.status == 400
    assert human in caught.value.message


def test_400_with_empty_body_names_the_status(rsps: responses.RequestsMock, api: Api) -> None:
    """A 400 with no body (a second create_success) still gives a readable RemoteError."""
    rsps.add(responses.POST, USERS, status=400, body="")
    with pytest.raises(RemoteError, match="HTTP 400"):
        api.json("POST", "/api/v1/users/1001", what="confirming")


@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_5xx_on_safe_methods_is_retried_until_success(rsps: responses.RequestsMock, api: Api, method: str) -> None:
    """GET and PUT answered 5xx are retried, and a later success is returned."""
    error = {"errors": [{"message": "An error occurred.", "error_code": "internal_server_error"}]}
    rsps.add(method, USERS, status=500, json=error)
    rsps.add(method, USERS, status=503, body="busy")
    rsps.add(method, USERS, json={"id": 1001})
    assert api.json(method, "/api/v1/users/1001", what="x") == {"id": 1001}
    assert len(rsps.calls) == 3


def test_persistent_5xx_becomes_transient_error(rsps: responses.RequestsMock, api: Api) -> None:
    """A GET still failing after every retry raises TransientError; attempts+1 requests were made."""
    rsps.add(responses.GET, USERS, status=502, body="bad gateway")
    with pytest.raises(TransientError) as caught:
        api.json("GET", "/api/v1/users/1001", what="reading")
    assert caught.value.status == 502
    assert len(rsps.calls) == FAST_RETRY.attempts + 1


def test_post_5xx_is_not_retried(rsps: responses.RequestsMock, api: Api) -> None:
    """A POST answered 5xx is sent once only: it may have run on the server."""
    rsps.add(responses.POST, USERS, status=500, json={})
    with pytest.raises(TransientError):
        api.json("POST", "/api/v1/users/1001", what="creating")
    assert len(rsps.calls) == 1


def test_post_5xx_is_retried_when_declared_harmless(rsps: responses.RequestsMock, api: Api) -> None:
    """retry_unsafe makes a POST retried on 5xx like a GET."""
    rsps.add(responses.POST, USERS, status=500, json={})
    rsps.add(responses.POST, USERS, json={"id": 1})
    assert api.json("POST", "/api/v1/users/1001", what="preflight", retry_unsafe=True) == {"id": 1}
    assert len(rsps.calls) == 2


def test_retry_backoff_doubles_through_the_injected_sleep(rsps: responses.RequestsMock) -> None:
    """Each retry waits base_delay_s doubled per attempt (±20 %), through the sleep the Api was given."""
    waits: list[float] = []
    api = Api(
        BASE, lambda: f"Bearer {TOKEN}", dialect=CANVAS, retry=Retry(attempts=3, base_delay_s=0.5), sleep=waits.append
    )
    for status in (500, 502, 503):
        rsps.add(responses.GET, USERS, status=status, body="busy")
    rsps.add(responses.GET, USERS, json={"id": 1001})
    assert api.json("GET", "/api/v1/users/1001", what="reading") == {"id": 1001}
    assert len(waits) == 3
    for wait, base in zip(waits, (0.5, 1.0, 2.0), strict=True):
        assert base * 0.8 <= wait <= base * 1.2


@pytest.mark.parametrize("failure", [requests.ConnectionError("reset"), requests.ReadTimeout("slow")])
def test_connection_failure_on_get_is_retried(
    rsps: responses.RequestsMock, api: Api, sleeps: list[float], failure: Exception
) -> None:
    """A dropped connection or a timeout on a GET is retried after a backoff."""
    rsps.add(responses.GET, USERS, body=failure)
    rsps.add(responses.GET, USERS, json={"id": 1001})
    assert api.json("GET", "/api/v1/users/1001", what="reading") == {"id": 1001}
    assert len(rsps.calls) == 2
    assert sleeps == [0.0]


def test_connection_failure_on_post_is_not_retried(rsps: responses.RequestsMock, api: Api) -> None:
    """A POST whose connection dropped is not sent again; TransientError says the host was unreachable."""
    rsps.add(responses.POST, USERS, body=requests.ConnectionError("reset"))
    with pytest.raises(TransientError, match="cannot reach Canvas"):
        api.request("POST", "/api/v1/users/1001", what="creating")
    assert len(rsps.calls) == 1


def test_connection_failure_on_harmless_post_is_retried(rsps: responses.RequestsMock, api: Api) -> None:
    """retry_unsafe also covers dropped connections."""
    rsps.add(responses.POST, USERS, body=requests.ConnectionError("reset"))
    rsps.add(responses.POST, USERS, json={"id": 1})
    assert api.request("POST", "/api/v1/users/1001", what="x", retry_unsafe=True).status_code == 200


def test_unreachable_host_gives_transient_error_with_advice(rsps: responses.RequestsMock, api: Api) -> None:
    """A host that never answers fails after every retry with advice naming the base URL."""
    rsps.add(responses.GET, USERS, body=requests.ConnectionError("refused"))
    with pytest.raises(TransientError) as caught:
        api.request("GET", "/api/v1/users/1001", what="reading")
    assert BASE in str(caught.value.advice)
    assert len(rsps.calls) == FAST_RETRY.attempts + 1


# -- throttling -----------------------------------------------------------------------------------------


def test_throttled_403_is_retried_until_success(rsps: responses.RequestsMock, api: Api, sleeps: list[float]) -> None:
    """The text/plain "Rate Limit Exceeded" 403 is retried after a pause, and the request then succeeds."""
    for _ in range(3):
        rsps.add(responses.GET, USERS, headers={"X-Rate-Limit-Remaining": "-12.5"}, **THROTTLED_403)
    rsps.add(responses.GET, USERS, json={"id": 1001}, headers={"X-Rate-Limit-Remaining": "590.0"})
    assert api.json("GET", "/api/v1/users/1001", what="reading") == {"id": 1001}
    assert api.gate.throttled == 3
    assert len(sleeps) == 3 and all(p > 0 for p in sleeps)


def test_429_is_retried_until_success(rsps: responses.RequestsMock, api: Api) -> None:
    """Hosted Canvas's 429 is throttling too: retried, never an error."""
    rsps.add(responses.PUT, USERS, status=429, body="Rate Limit Exceeded")
    rsps.add(responses.PUT, USERS, json={"id": 1001})
    assert api.json("PUT", "/api/v1/users/1001", what="setting") == {"id": 1001}
    assert api.gate.throttled == 1


def test_throttling_never_uses_up_the_retry_budget(rsps: responses.RequestsMock, api: Api) -> None:
    """Far more throttled answers than retry attempts still end in success, even for a POST."""
    for _ in range(FAST_RETRY.attempts * 5):
        rsps.add(responses.POST, USERS, **THROTTLED_403)
    rsps.add(responses.POST, USERS, json={"id": 7})
    assert api.json("POST", "/api/v1/users/1001", what="creating") == {"id": 7}
    assert api.gate.throttled == FAST_RETRY.attempts * 5


def test_403_json_unauthorized_is_not_throttling(rsps: responses.RequestsMock, api: Api) -> None:
    """A 403 with a JSON permission body fails at once and is not counted as throttling."""
    rsps.add(responses.GET, USERS, status=403, json=UNAUTHORIZED)
    with pytest.raises(PermissionDeniedError):
        api.json("GET", "/api/v1/users/1001", what="reading")
    assert api.gate.throttled == 0
    assert len(rsps.calls) == 1


def test_throttling_for_too_long_gives_transient_error(rsps: responses.RequestsMock, sleeps: list[float]) -> None:
    """Past max_throttle_wait_s of continuous throttling the request gives up with TransientError."""
    api = Api(BASE, lambda: f"Bearer {TOKEN}", dialect=CANVAS, retry=Retry(base_delay_s=0, max_throttle_wait_s=-1.0))
    rsps.add(responses.GET, USERS, **THROTTLED_403)
    with pytest.raises(TransientError, match="throttling"):
        api.request("GET", "/api/v1/users/1001", what="reading")


def test_remaining_header_steers_the_gate(rsps: responses.RequestsMock, api: Api) -> None:
    """Each answer's X-Rate-Limit-Remaining (a Ruby float string) moves the gate."""
    before = api.gate.in_flight_limit
    for _ in range(before):
        rsps.add(responses.GET, USERS, json={}, headers={"X-Rate-Limit-Remaining": "600.0"})
        api.request("GET", "/api/v1/users/1001", what="x")
    assert api.gate.in_flight_limit == before + 1
    rsps.add(responses.GET, USERS, json={}, headers={"X-Rate-Limit-Remaining": "80.0"})
    api.request("GET", "/api/v1/users/1001", what="x")
    assert api.gate.in_flight_limit == before


def test_unparseable_remaining_header_is_ignored(rsps: responses.RequestsMock, api: Api) -> None:
    """A garbled X-Rate-Limit-Remaining counts as absent: the requests work and the gate keeps growing."""
    before = api.gate.in_flight_limit
    for _ in range(before):
        rsps.add(responses.GET, USERS, json={"id": 1}, headers={"X-Rate-Limit-Remaining": "lots"})
        assert api.json("GET", "/api/v1/users/1001", what="x") == {"id": 1}
    assert api.gate.in_flight_limit == before + 1


# -- not Canvas, JSON quirks ------------------------------------------------------------------------------


def test_html_page_is_fatal_with_advice(rsps: responses.RequestsMock, api: Api) -> None:
    """A 200 HTML page (a login portal, a wrong URL) stops the run with advice to check the address."""
    rsps.add(responses.GET, USERS, body="<!DOCTYPE html><html><body>Log in</body></html>", content_type="text/html")
    with pytest.raises(FatalRemoteError) as caught:
        api.json("GET", "/api/v1/users/1001", what="reading")
    assert "HTML" in caught.value.message
    assert BASE in str(caught.value.advice)


def test_html_page_while_paginating_is_fatal(rsps: responses.RequestsMock, api: Api) -> None:
    """The listing answered with HTML stops the run too."""
    rsps.add(responses.GET, LISTING, body="<html><head></head></html>", content_type="text/html")
    with pytest.raises(FatalRemoteError, match="HTML"):
        listed(api)


def test_redirect_from_the_api_is_fatal(rsps: responses.RequestsMock, api: Api) -> None:
    """An API answer redirecting elsewhere (http→https, a vanity domain) stops the run instead of reading as empty."""
    rsps.add(responses.GET, USERS, status=301, body="", headers={"Location": "https://other.test/api/v1/users/1001"})
    with pytest.raises(FatalRemoteError) as caught:
        api.json("GET", "/api/v1/users/1001", what="reading")
    assert "other.test" in caught.value.message
    assert len(rsps.calls) == 1


def test_while1_prefix_is_tolerated(rsps: responses.RequestsMock, api: Api) -> None:
    """Canvas's while(1); CSRF prefix is stripped before parsing."""
    rsps.add(responses.GET, USERS, body='while(1);{"id":1001}', content_type="application/json")
    assert api.json("GET", "/api/v1/users/1001", what="x") == {"id": 1001}


def test_json_with_html_content_type_is_parsed(rsps: responses.RequestsMock, api: Api) -> None:
    """JSON served as text/html (multipart answers) is parsed regardless of the Content-Type."""
    rsps.add(responses.POST, USERS, body='{"upload_url":"https://x"}', content_type="text/html; charset=utf-8")
    assert api.json("POST", "/api/v1/users/1001", what="x") == {"upload_url": "https://x"}


def test_json_with_html_content_type_keeps_utf8(rsps: responses.RequestsMock, api: Api) -> None:
    """Non-ASCII JSON served as text/html without a charset is still read as UTF-8."""
    rsps.add(responses.POST, USERS, body='{"name":"Zoë Ångström"}'.encode(), content_type="text/html")
    assert api.json("POST", "/api/v1/users/1001", what="x") == {"name": "Zoë Ångström"}


# -- the token and its origin ---------------------------------------------------------------------------


def test_token_goes_as_bearer_header_to_the_base_url(rsps: responses.RequestsMock, api: Api) -> None:
    """API requests carry Authorization: Bearer, Accept JSON and the versioned User-Agent, never a token param."""
    rsps.add(responses.GET, USERS, json={})
    api.request("GET", "/api/v1/users/1001", what="x")
    sent = rsps.calls[0].request
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["Accept"] == "application/json"
    assert sent.headers["User-Agent"] == USER_AGENT
    assert "access_token" not in str(sent.url)


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.test/api/v1/users/1",
        "http://canvas.test/api/v1/users/1",
        "https://canvas.test:8443/api/v1/users/1",
        "https://canvas.test.evil.test/api/v1/users/1",
    ],
)
def test_request_refuses_another_origin(rsps: responses.RequestsMock, api: Api, url: str) -> None:
    """Api.request never sends the token to another scheme, host or port."""
    with pytest.raises(ValueError, match="another host") as caught:
        api.request("GET", url, what="x")
    assert TOKEN not in str(caught.value)
    assert len(rsps.calls) == 0


def test_absolute_url_on_the_base_origin_is_allowed(rsps: responses.RequestsMock, api: Api) -> None:
    """A full URL on Canvas's own origin (a Location, a next link) is accepted, default port included."""
    rsps.add(responses.GET, re.compile(r"https://canvas\.test(:443)?/api/v1/users/1001"), json={})
    assert api.request("GET", "https://CANVAS.test:443/api/v1/users/1001", what="x").status_code == 200


def test_redirects_are_not_followed(rsps: responses.RequestsMock, api: Api) -> None:
    """A 3xx answer is returned as is: the token never follows a Location."""
    rsps.add(responses.GET, USERS, status=302, headers={"Location": "https://elsewhere.test/steal"})
    assert api.request("GET", "/api/v1/users/1001", what="x").status_code == 302
    assert len(rsps.calls) == 1


def test_redact_url_hides_secret_query_values() -> None:
    """Secret-looking query values are masked for logs, others kept."""
    url = "https://x.test/files?token=abc&page=2&access_token=zz&X-Amz-Signature=s"
    assert (
        redact_url(url) == "https://x.test/files?token=<hidden>&page=2&access_token=<hidden>&X-Amz-Signature=<hidden>"
    )


# -- pagination -------------------------------------------------------------------------------------------


def test_pagination_follows_next_links(rsps: responses.RequestsMock, api: Api) -> None:
    """Pages are fetched by following rel=next until a short page; the first asks per_page=100."""
    add_page(rsps, 1, 100, rows(0, 100))
    add_page(rsps, 2, 100, rows(100, 100))
    add_page(rsps, 3, 100, rows(200, 30), next_page=False)
    pages = listed(api)
    assert [len(p) for p in pages] == [100, 100, 30]
    assert rsps.calls[1].request.url == f"{LISTING}?include%5B%5D=avatar_url&page=2&per_page=100"
    assert len(rsps.calls) == 3


def test_pagination_stops_on_an_empty_page_with_a_next_link(rsps: responses.RequestsMock, api: Api) -> None:
    """An empty page past the end still has rel=next; the listing stops there."""
    add_page(rsps, 1, 100, rows(0, 100))
    add_page(rsps, 2, 100, [])
    assert [len(p) for p in listed(api)] == [100]
    assert len(rsps.calls) == 2


def test_pagination_stops_on_a_short_page(rsps: responses.RequestsMock, api: Api) -> None:
    """A page with fewer rows than per_page is the last, even if it carries a next link."""
    add_page(rsps, 1, 100, rows(0, 99))
    assert [len(p) for p in listed(api)] == [99]
    assert len(rsps.calls) == 1


def test_pagination_detects_a_clamped_per_page(rsps: responses.RequestsMock, api: Api) -> None:
    """Asked for 100 but served 50 per page (per the current link), full 50-row pages are followed."""
    add_page(rsps, 1, 50, rows(0, 50))
    add_page(rsps, 2, 50, rows(50, 50))
    add_page(rsps, 3, 50, rows(100, 20))
    assert [len(p) for p in listed(api)] == [50, 50, 20]
    assert len(rsps.calls) == 3


def test_pagination_refuses_a_next_link_to_another_host(rsps: responses.RequestsMock, api: Api) -> None:
    """A next link pointing at another host raises instead of sending the token there."""
    add_page(rsps, 1, 100, rows(0, 100), host="https://evil.test")
    with pytest.raises(FatalRemoteError, match="another host"):
        listed(api)
    assert len(rsps.calls) == 1


def test_pagination_requires_a_list(rsps: responses.RequestsMock, api: Api) -> None:
    """A listing answered with an object is not Canvas as we know it."""
    rsps.add(responses.GET, LISTING, json={"users": []})
    with pytest.raises(FatalRemoteError, match="expected a JSON list"):
        listed(api)


def test_pagination_maps_errors(rsps: responses.RequestsMock, api: Api) -> None:
    """An error status on a page goes through the same mapping as any request."""
    rsps.add(responses.GET, LISTING, status=401, json=UNAUTHORIZED)
    with pytest.raises(PermissionDeniedError):
        listed(api)


def test_pagination_without_links_stops_after_a_full_page(rsps: responses.RequestsMock, api: Api) -> None:
    """A full page with no Link header at all ends the listing."""
    rsps.add(responses.GET, LISTING, json=rows(0, 100))
    assert [len(p) for p in listed(api)] == [100]
    assert len(rsps.calls) == 1
