"""The real CLI against the sandbox: the users listing by sort=id bookmarks, and avatar_url decided per user."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from profilesync_sandbox import SandboxConfig
from support.world import World, make_world

LISTING_ROUTE = "GET /api/v1/accounts/:account_id/users"


@pytest.fixture
def partner_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """120 users; the first listed (lowest id) has its first login in a partner account with avatars off."""
    yield from make_world(tmp_path, monkeypatch, SandboxConfig(users=120, foreign_home_users=1))


def listing_queries(world: World) -> list[dict[str, list[str]]]:
    return [parse_qs(r.query) for r in world.sandbox.state.requests("canvas") if r.route == LISTING_ROUTE]


def test_first_user_without_avatar_url_is_synced_and_everyone_else_too(partner_world: World) -> None:
    """The first listed user lacks avatar_url: the run goes on (exit 0), uploads them and every other user."""
    world = partner_world
    first = world.sandbox.state.user(1001)
    assert first.sis_user_id and (world.photos / f"{first.sis_user_id}.jpg").exists()
    plan = world.json("avatars", "plan")
    by_key = {a["key"]: a for a in plan["actions"]}
    assert (by_key[first.sis_user_id]["action"], by_key[first.sis_user_id]["reason"]) == ("upload", "new")
    with_photo = {p.stem for p in world.photos.iterdir()}
    result = world.json("avatars", "sync")
    assert result["counts"]["failed"] == 0
    assert result["counts"]["uploaded"] == len(with_photo)
    for user in world.students():
        if user.sis_user_id in with_photo:
            assert user.avatar_url and "/images/thumbnails/" in user.avatar_url, user.sis_user_id
    history = {r["key"]: r for r in world.json("avatars", "history")["records"]}
    assert "/images/thumbnails/" in history[first.sis_user_id]["avatar_url"]


def test_next_night_the_hidden_user_is_skipped_as_hidden_not_reassigned(partner_world: World) -> None:
    """Second sync: the user Canvas hides the avatar of is skip/avatar_hidden; nothing uploaded or reassigned."""
    world = partner_world
    world.cli("avatars", "sync")
    world.sandbox.state.reset_counts()
    result = world.json("avatars", "sync")
    assert result["counts"]["uploaded"] == 0 and result["counts"]["reassigned"] == 0
    assert result["counts"]["failed"] == 0 and result["counts"]["skipped"] >= 1
    assert world.upload_requests() == 0
    plan = world.json("avatars", "plan")
    key = world.sandbox.state.user(1001).sis_user_id
    (action,) = [a for a in plan["actions"] if a["key"] == key]
    assert (action["action"], action["reason"]) == ("skip", "avatar_hidden")


def test_hidden_user_is_never_a_user_choice_under_respect(partner_world: World) -> None:
    """Under PROFILESYNC_POLICY=respect the hidden user with no history is uploaded, not skipped as user_choice."""
    world = partner_world
    world.extra_env["PROFILESYNC_POLICY"] = "respect"
    plan = world.json("avatars", "plan")
    key = world.sandbox.state.user(1001).sis_user_id
    (action,) = [a for a in plan["actions"] if a["key"] == key]
    assert (action["action"], action["reason"]) == ("upload", "new")


@pytest.fixture
def avatars_off_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    yield from make_world(tmp_path, monkeypatch, SandboxConfig(users=30, avatars_service_enabled=False))


def test_avatars_really_off_still_stops_the_run_with_exit_3(avatars_off_world: World) -> None:
    """Nobody on the first page has avatar_url: exit 3 with the account setting to switch on, and no upload."""
    result = avatars_off_world.cli("avatars", "sync", expect=3)
    assert "avatars are disabled" in result.output and "Enable profile pictures" in result.output
    assert avatars_off_world.upload_requests() == 0


@pytest.fixture
def big_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    yield from make_world(tmp_path, monkeypatch, SandboxConfig(users=260, throttle=False))


def test_listing_of_260_users_follows_bookmarks_one_request_per_page(big_world: World) -> None:
    """260 users: `avatars plan` plans all of them from 3 listing requests (sort=id, bookmark pages 2 and 3)."""
    plan = big_world.json("avatars", "plan")
    assert len(plan["actions"]) == 260
    queries = listing_queries(big_world)
    assert len(queries) == math.ceil(260 / 100)
    assert all(q["sort"] == ["id"] and q["per_page"] == ["100"] for q in queries)
    assert "page" not in queries[0]
    assert all(q["page"][0].startswith("bookmark:") for q in queries[1:])


@pytest.fixture
def exact_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    yield from make_world(tmp_path, monkeypatch, SandboxConfig(users=300, throttle=False))


def test_exact_multiple_of_100_needs_no_trailing_empty_page(exact_world: World) -> None:
    """300 users: 3 listing requests, not the 4 numbered pages need (their full last page links an empty one)."""
    plan = exact_world.json("avatars", "plan")
    assert len(plan["actions"]) == 300
    assert len(listing_queries(exact_world)) == 3


def test_doctor_does_not_call_avatars_off_for_one_hidden_user(partner_world: World) -> None:
    """`doctor` judges the same first page the same way: one user without avatar_url does not fail the check."""
    output = partner_world.cli("doctor", expect=0).stdout
    (avatars,) = [row for row in output.splitlines() if "avatars enabled" in row]
    assert avatars.startswith("[ ok ]"), output
