"""GET /api/v1/accounts/:id/users?sort=id: bookmark pagination (BookmarkedCollection, UserSearch::Bookmarker)."""

from __future__ import annotations

import base64

import requests

from profilesync_sandbox import Sandbox

from .conftest import MakeSandbox
from .helpers import api

FIRST_ID = 1001  # generated users get ids from 1001


def token(user_id: int) -> str:
    """JSONToken.encode(user.id.to_s), computed here independently of the sandbox's code."""
    return base64.urlsafe_b64encode(f'"{user_id}"'.encode()).decode().rstrip("=")


def listing(sb: Sandbox, **params: object) -> requests.Response:
    return api(sb).get(f"{sb.base_url}/api/v1/accounts/self/users", params={"sort": "id", **params})  # type: ignore[arg-type]


def test_first_page_link_header_exact_format(make_sandbox: MakeSandbox) -> None:
    """First page: current and first are page=first, next is page=bookmark:<base64 of the last id as a JSON string>."""
    sb = make_sandbox(users=25)
    url = f"{sb.base_url}/api/v1/accounts/self/users?sort=id&include[]=avatar_url&per_page=10"
    response = api(sb).get(url)
    base = f"{sb.base_url}/api/v1/accounts/self/users?include%5B%5D=avatar_url&sort=id&"
    assert token(1010) == "IjEwMTAi"
    assert response.headers["Link"] == ",".join(
        [
            f'<{base}page=first&per_page=10>; rel="current"',
            f'<{base}page=bookmark:IjEwMTAi&per_page=10>; rel="next"',
            f'<{base}page=first&per_page=10>; rel="first"',
        ]
    )
    assert [u["id"] for u in response.json()] == list(range(FIRST_ID, FIRST_ID + 10))


def test_final_short_page_has_last_pointing_at_itself_and_no_next_or_prev(make_sandbox: MakeSandbox) -> None:
    """The final page links current, first and last (= current); never prev, and no next."""
    sb = make_sandbox(users=25)
    page = listing(sb, per_page=10, page=f"bookmark:{token(1020)}")
    assert [u["id"] for u in page.json()] == list(range(1021, 1026))
    assert set(page.links) == {"current", "first", "last"}
    assert page.links["last"]["url"] == page.links["current"]["url"]
    assert f"page=bookmark:{token(1020)}&per_page=10" in page.links["current"]["url"]


def test_exactly_full_last_page_has_no_next(make_sandbox: MakeSandbox) -> None:
    """Unlike numbered pages, a last page that is exactly full has no next link (WrapProxy counts what remains)."""
    sb = make_sandbox(users=20)
    page = listing(sb, per_page=10, page=f"bookmark:{token(1010)}")
    assert len(page.json()) == 10
    assert set(page.links) == {"current", "first", "last"}


def test_middle_page_has_next_and_no_last(make_sandbox: MakeSandbox) -> None:
    """A page with rows after it links next (the bookmark of its own last row) and no last."""
    sb = make_sandbox(users=25)
    page = listing(sb, per_page=10, page=f"bookmark:{token(1010)}")
    assert set(page.links) == {"current", "next", "first"}
    assert f"page=bookmark:{token(1020)}&" in page.links["next"]["url"]


def test_order_desc_pages_down_the_ids(make_sandbox: MakeSandbox) -> None:
    """order=desc: highest id first, and the next page holds the ids below the bookmark."""
    sb = make_sandbox(users=25)
    first = listing(sb, per_page=10, order="desc")
    assert [u["id"] for u in first.json()] == list(range(1025, 1015, -1))
    second = api(sb).get(first.links["next"]["url"])
    assert [u["id"] for u in second.json()] == list(range(1015, 1005, -1))


def test_undecodable_or_invalid_bookmark_is_the_first_page_again(make_sandbox: MakeSandbox) -> None:
    """A bookmark that does not decode, or is not a digit string, silently restarts at the first page."""
    sb = make_sandbox(users=25)
    not_digits = base64.urlsafe_b64encode(b'"abc"').decode().rstrip("=")
    for bad in ("bookmark:%%%", "bookmark:" + not_digits, "bookmark:" + base64.b64encode(b"[1010]").decode(), "1"):
        page = listing(sb, per_page=10, page=bad)
        assert page.status_code == 200, bad
        assert page.json()[0]["id"] == FIRST_ID, bad
        assert "page=first&" in page.links["current"]["url"], bad


def test_numbered_page_above_one_is_not_found(make_sandbox: MakeSandbox) -> None:
    """page=2 with sort=id raises BookmarkedCollection::InvalidPage: 404 with Canvas's not-found body."""
    sb = make_sandbox(users=25)
    response = listing(sb, per_page=10, page=2)
    assert response.status_code == 404
    assert response.json()["errors"][0]["message"] == "The specified resource does not exist."


def test_following_next_reads_every_user_once_in_as_many_requests_as_pages(make_sandbox: MakeSandbox) -> None:
    """260 users at per_page=100 take exactly 3 requests by following next; every id once, ascending."""
    sb = make_sandbox(users=260, throttle=False)
    session, ids, requests_made = api(sb), [], 0
    url: str | None = f"{sb.base_url}/api/v1/accounts/self/users?sort=id&per_page=100&include[]=avatar_url"
    while url:
        response = session.get(url)
        requests_made += 1
        ids += [u["id"] for u in response.json()]
        url = response.links.get("next", {}).get("url")
    assert requests_made == 3
    assert ids == list(range(FIRST_ID, FIRST_ID + 260))


def test_search_term_is_bookmarked_too(make_sandbox: MakeSandbox) -> None:
    """api_index wraps search results in the same bookmarks: sort=id with search_term pages by id."""
    sb = make_sandbox(users=25)
    page = listing(sb, per_page=5, search_term="example")
    assert [u["id"] for u in page.json()] == list(range(FIRST_ID, FIRST_ID + 5))
    assert "page=bookmark:" in page.links["next"]["url"] and "search_term=example" in page.links["next"]["url"]
