"""The route table both emulators match requests against."""

from __future__ import annotations

from urllib.parse import unquote

from profilesync_sandbox.routing import Route, Routes

ROUTES = [Route("GET", "/api/v1/users/:id", "show"), Route("GET", "/pp/:name", "picture", needs_user=False)]


def test_first_matching_route_gives_its_key_arguments_and_handler() -> None:
    """A match names the route by method and pattern and hands over the path arguments."""
    found = Routes(ROUTES).match("GET", "/api/v1/users/sis_user_id:a%2Fb")
    assert found is not None
    assert (found.key, found.args, found.handler, found.needs_user) == (
        "GET /api/v1/users/:id",
        {"id": "sis_user_id:a%2Fb"},
        "show",
        True,
    )
    assert Routes(ROUTES).match("PUT", "/api/v1/users/1") is None
    assert Routes(ROUTES).match("GET", "/api/v1/users/1/profile") is None


def test_host_options_decode_arguments_run_head_as_get_and_allow_a_trailing_slash() -> None:
    """Canvas decodes arguments and answers HEAD with GET routes; Guru accepts a trailing slash."""
    canvas = Routes(ROUTES, head_as_get=True, decode=unquote)
    head = canvas.match("HEAD", "/api/v1/users/a%2Fb")
    assert head is not None and head.key == "GET /api/v1/users/:id" and head.args == {"id": "a/b"}
    assert canvas.match("GET", "/pp/me.png/") is None
    slash = Routes(ROUTES, trailing_slash=True).match("GET", "/pp/me.png/")
    assert slash is not None and slash.args == {"name": "me.png"} and not slash.needs_user
    assert Routes(ROUTES, trailing_slash=True).match("HEAD", "/pp/me.png") is None
