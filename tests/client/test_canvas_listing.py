"""CanvasTarget's listing against a mocked Canvas: bookmark pages, and avatar_url decided per user."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import responses

from profilesync.engine.model import Uploaded
from profilesync.errors import FatalRemoteError, RemoteError
from profilesync.targets.canvas.target import CanvasTarget

from .test_canvas_target import (
    AVATARS,
    FILE_JSON,
    IMAGE,
    INSTFS,
    LISTING,
    THUMB,
    USER,
    USER_URL,
    add_preflight,
    option,
    options,
    user_json,
)

BOOKMARK_1100 = "bookmark:IjExMDAi"  # JSONToken.encode("1100")


def link(page: str, rel: str) -> str:
    return f'<{LISTING}?include%5B%5D=avatar_url&sort=id&page={page}&per_page=100>; rel="{rel}"'


def users(first: int, count: int) -> list[dict[str, Any]]:
    return [user_json(id=i, sis_user_id=f"S{i}") for i in range(first, first + count)]


def test_bookmark_pages_are_followed_and_a_short_page_ends_the_listing(
    rsps: responses.RequestsMock, target: CanvasTarget
) -> None:
    """Page 1 (full) links next by bookmark; the short page 2 ends the listing: 2 requests for 150 users."""
    rsps.add(
        responses.GET,
        LISTING,
        json=users(1001, 100),
        headers={"Link": ",".join([link("first", "current"), link(BOOKMARK_1100, "next"), link("first", "first")])},
    )
    last = [link(BOOKMARK_1100, "current"), link("first", "first"), link(BOOKMARK_1100, "last")]
    rsps.add(responses.GET, f"{LISTING}?include%5B%5D=avatar_url&sort=id&page={BOOKMARK_1100}&per_page=100",
             json=users(1101, 50), headers={"Link": ",".join(last)})  # fmt: skip
    keys = [u.key for u in target.list_users()]
    assert keys == [f"S{i}" for i in range(1001, 1151)]
    assert len(rsps.calls) == 2
    assert rsps.calls[1].request.url == f"{LISTING}?include%5B%5D=avatar_url&sort=id&page={BOOKMARK_1100}&per_page=100"


def test_exactly_full_last_bookmark_page_costs_no_extra_request(
    rsps: responses.RequestsMock, target: CanvasTarget
) -> None:
    """A full page without a next link (bookmarks know nothing remains) ends the listing in 1 request."""
    rsps.add(
        responses.GET,
        LISTING,
        json=users(1001, 100),
        headers={"Link": ",".join([link("first", "current"), link("first", "first"), link("first", "last")])},
    )
    assert len(list(target.list_users())) == 100
    assert len(rsps.calls) == 1


def test_a_bookmark_link_back_to_a_page_already_read_stops_the_run(
    rsps: responses.RequestsMock, target: CanvasTarget
) -> None:
    """A next link equal to a page already read (a loop) is fatal, not followed forever."""
    url = f"{LISTING}?include%5B%5D=avatar_url&sort=id&page={BOOKMARK_1100}&per_page=100"
    rsps.add(responses.GET, LISTING, json=users(1001, 100), headers={"Link": link(BOOKMARK_1100, "next")})
    rsps.add(responses.GET, url, json=users(1101, 100), headers={"Link": link(BOOKMARK_1100, "next")})
    with pytest.raises(FatalRemoteError, match="already read"):
        list(target.list_users())


def test_first_user_without_avatar_url_is_planned_with_the_avatar_unknown(
    rsps: responses.RequestsMock, target: CanvasTarget
) -> None:
    """One user lacking the avatar_url key (home account has avatars off) is listed, avatar unknown; not fatal."""
    rows = [user_json(id=1001, sis_user_id="S1001", avatar_url=...), user_json(id=1002, sis_user_id="S1002")]
    rsps.add(responses.GET, LISTING, json=rows)
    first, second = target.list_users()
    assert (first.key, first.avatar_known, first.avatar_ref, first.avatar_url) == ("S1001", False, None, None)
    assert second.avatar_known is True


def test_no_user_of_the_first_page_with_avatar_url_is_fatal(rsps: responses.RequestsMock, target: CanvasTarget) -> None:
    """Only when every user of the first page lacks avatar_url are avatars off: the run stops with advice."""
    rsps.add(responses.GET, LISTING, json=[user_json(id=i, avatar_url=...) for i in range(1001, 1004)])
    with pytest.raises(FatalRemoteError, match="avatars are disabled"):
        list(target.list_users())


def test_one_user_without_login_id_is_not_a_missing_permission(rsps: responses.RequestsMock, make_target: Any) -> None:
    """match=login_id: a user with no login here lacks login_id; the others keep the run going."""
    rows = [user_json(id=1001, login_id=...), user_json(id=1002, login_id="b@example.edu")]
    rsps.add(responses.GET, LISTING, json=rows)
    listed = list(make_target("login_id").target.list_users())
    assert [u.key for u in listed] == [None, "b@example.edu"]


def add_upload_then_put(rsps: responses.RequestsMock, put_answer: dict[str, Any]) -> None:
    add_preflight(rsps)
    rsps.add(responses.POST, INSTFS, status=201, json=FILE_JSON)
    rsps.add(responses.GET, AVATARS, json=options(option()))
    rsps.add(responses.PUT, USER_URL, json=put_answer)


def test_hidden_avatar_user_records_the_assigned_option_after_a_200(
    rsps: responses.RequestsMock, target: CanvasTarget
) -> None:
    """For a user whose avatar_url Canvas hides, a 200 PUT without the key records the option's thumbnail URL."""
    add_upload_then_put(rsps, user_json(avatar_url=...))
    uploaded = target.upload_avatar(replace(USER, avatar_known=False), IMAGE)
    assert uploaded == Uploaded(
        file_id="5678",
        file_uuid="Zx9Quuid",
        avatar_url=THUMB,
        avatar_ref="attachment:5678/Zx9Quuid",
        file_name="profilesync-avatar.jpg",  # the name uploaded under, so the next upload takes the other one
    )
    assert len([c for c in rsps.calls if c.request.method == "PUT"]) == 1


def test_visible_avatar_user_still_needs_the_put_to_show_our_file(
    rsps: responses.RequestsMock, target: CanvasTarget
) -> None:
    """A user whose avatar the listing showed gets no such leniency: a PUT answer without it is not success."""
    add_upload_then_put(rsps, user_json(avatar_url=...))
    rsps.add(responses.GET, AVATARS, json=options(option()))
    with pytest.raises(RemoteError, match="did not change"):
        target.upload_avatar(USER, IMAGE)
