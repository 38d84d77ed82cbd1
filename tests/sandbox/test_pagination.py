"""GET /api/v1/accounts/:id/users: Folio's unknown-total pagination and the listing's parameters
(docs/canvas.md §3, §6)."""

from __future__ import annotations

import requests

from profilesync_sandbox import Sandbox

from .conftest import MakeSandbox
from .helpers import api


def listing(sb: Sandbox, **params: object) -> requests.Response:
    return api(sb).get(f"{sb.base_url}/api/v1/accounts/self/users", params=params)  # type: ignore[arg-type]


def rels(response: requests.Response) -> set[str]:
    return set(response.links)


def test_full_last_page_still_has_next(make_sandbox: MakeSandbox) -> None:
    """When the total is an exact multiple of per_page, the last full page still has next and no last."""
    sb = make_sandbox(users=20)
    page = listing(sb, per_page=10, page=2)
    assert len(page.json()) == 10
    assert rels(page) == {"current", "next", "prev", "first"}


def test_empty_page_past_the_end_has_next(make_sandbox: MakeSandbox) -> None:
    """An empty page beyond page 1 answers 200 [] and again links to a next page."""
    sb = make_sandbox(users=20)
    page = listing(sb, per_page=10, page=3)
    assert page.status_code == 200 and page.json() == []
    assert "next" in page.links and "last" not in page.links
    assert page.links["next"]["url"].endswith("page=4&per_page=10")


def test_short_page_has_last_and_no_next(make_sandbox: MakeSandbox) -> None:
    """A short page knows the total: last is present, next is not."""
    sb = make_sandbox(users=25)
    page = listing(sb, per_page=10, page=3)
    assert len(page.json()) == 5
    assert rels(page) == {"current", "prev", "first", "last"}
    assert page.links["last"]["url"].endswith("page=3&per_page=10")


def test_empty_first_page_has_last_and_no_next(make_sandbox: MakeSandbox) -> None:
    """With no users at all, page 1 is short: last=1 and no next."""
    sb = make_sandbox(users=0)
    page = listing(sb)
    assert page.json() == [] and rels(page) == {"current", "first", "last"}


def test_per_page_above_100_is_clamped(make_sandbox: MakeSandbox) -> None:
    """per_page=500 silently becomes 100, and the links say 100."""
    sb = make_sandbox(users=150)
    page = listing(sb, per_page=500)
    assert len(page.json()) == 100
    assert page.links["next"]["url"].endswith("page=2&per_page=100")


def test_non_numeric_per_page_becomes_one(sb: Sandbox) -> None:
    """per_page=abc is to_i 0, clamped to 1."""
    page = listing(sb, per_page="abc")
    assert len(page.json()) == 1 and page.links["next"]["url"].endswith("per_page=1")


def test_default_per_page_is_ten(sb: Sandbox) -> None:
    """Without per_page, ten users come back."""
    assert len(listing(sb).json()) == 10


def test_page_zero_is_not_found(sb: Sandbox) -> None:
    """page=0 is Folio::InvalidPage, a 404."""
    assert listing(sb, page=0).status_code == 404


def test_link_header_exact_format(make_sandbox: MakeSandbox) -> None:
    """Absolute URLs, rel order current,next,prev,first,last, no space after commas, sorted keys, page last."""
    sb = make_sandbox(users=25)
    url = f"{sb.base_url}/api/v1/accounts/self/users?search_term=example&include[]=email&include[]=avatar_url"
    response = api(sb).get(url + f"&per_page=2&page=2&access_token={sb.admin_token}")
    base = f"{sb.base_url}/api/v1/accounts/self/users?include%5B%5D=email&include%5B%5D=avatar_url&search_term=example&"
    expected = ",".join(
        [
            f'<{base}page=2&per_page=2>; rel="current"',
            f'<{base}page=3&per_page=2>; rel="next"',
            f'<{base}page=1&per_page=2>; rel="prev"',
            f'<{base}page=1&per_page=2>; rel="first"',
        ]
    )
    assert response.headers["Link"] == expected


def test_users_are_ordered_by_sortable_name_then_id(make_sandbox: MakeSandbox) -> None:
    """The listing is sorted by sortable_name (case-insensitively), ties broken by id."""
    sb = make_sandbox(users=60)
    rows = listing(sb, per_page=100).json()
    keys = [(u["sortable_name"].casefold(), u["id"]) for u in rows]
    assert keys == sorted(keys)


def test_admins_are_not_listed(sb: Sandbox) -> None:
    """The two sandbox admins do not appear among the account's users."""
    ids = {u["id"] for u in listing(sb, per_page=100).json()}
    assert 1 not in ids and 2 not in ids and len(ids) == 30


def test_include_without_brackets_is_a_500(sb: Sandbox) -> None:
    """include=avatar_url (no []) is a String in Rails; `String & Array` raises, so Canvas answers 500."""
    response = listing(sb, include="avatar_url")
    assert response.status_code == 500
    assert response.json()["errors"][0]["error_code"] == "internal_server_error"
    assert isinstance(response.json()["error_report_id"], int)


def test_unknown_includes_are_ignored(sb: Sandbox) -> None:
    """Only avatar_url, email, last_login, time_zone and uuid are honoured."""
    row = listing(sb, **{"include[]": ["enrollments", "email"]}).json()[0]
    assert "email" in row and "enrollments" not in row and "avatar_url" not in row


def test_search_term_shorter_than_three_is_400(sb: Sandbox) -> None:
    """search_term needs 3 or more characters."""
    response = listing(sb, search_term="ab")
    assert response.status_code == 400
    assert response.json() == {
        "errors": [{"field": "search_term", "code": "invalid", "message": "3 or more characters is required"}]
    }


def test_search_term_is_a_fuzzy_substring(make_sandbox: MakeSandbox) -> None:
    """Searching an SIS id also finds longer ids containing it (why the observers seed filtered results)."""
    sb = make_sandbox(users=30)
    found = {u["sis_user_id"] for u in listing(sb, search_term="00001", per_page=100).json()}
    assert {"S000001", "S000010", "S000011"} <= found


def test_search_matches_login_and_email_case_insensitively(sb: Sandbox) -> None:
    """An admin's search also covers login ids, in any case."""
    user = next(u for u in sb.state.users() if u.sis_user_id)
    assert user.login_id
    found = listing(sb, search_term=user.login_id.upper()).json()
    assert [u["id"] for u in found] == [user.id]


def test_enrollment_type_filter_and_invalid_value(make_sandbox: MakeSandbox) -> None:
    """enrollment_type=student keeps enrolled students; an unknown type is a 400."""
    sb = make_sandbox(users=40, unenrolled_rate=0.5)
    enrolled = {u.id for u in sb.state.users() if ("student", "active") in u.enrollments}
    found = {u["id"] for u in listing(sb, enrollment_type="student", per_page=100).json()}
    assert found == enrolled and 0 < len(found) < 40
    assert listing(sb, enrollment_type="wizard").status_code == 400


def test_sort_id_uses_bookmarks(make_sandbox: MakeSandbox) -> None:
    """sort=id pages with bookmark: values and has next only while rows remain."""
    sb = make_sandbox(users=25)
    session, ids = api(sb), []
    url: str | None = f"{sb.base_url}/api/v1/accounts/self/users?sort=id&per_page=10"
    while url:
        response = session.get(url)
        ids += [u["id"] for u in response.json()]
        url = response.links.get("next", {}).get("url")
        assert url is None or "page=bookmark:" in url
    assert ids == sorted(ids) and len(ids) == 25


def test_twenty_thousand_users_list_completely(make_sandbox: MakeSandbox) -> None:
    """A 20,000-user sandbox serves every user at per_page=100, stopping on the short (here empty) page."""
    sb = make_sandbox(users=20000, throttle=False)
    session, seen, page = api(sb), 0, 1
    while True:
        rows = session.get(
            f"{sb.base_url}/api/v1/accounts/self/users",
            params={"per_page": "100", "page": str(page), "include[]": "avatar_url"},
        ).json()
        seen += len(rows)
        if len(rows) < 100:
            break
        page += 1
    assert seen == 20000 and page == 201
