"""Guru avatars end to end, as a new user runs them: `avatars plan|sync --target guru` against the Guru sandbox."""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest
from PIL import Image

from profilesync_sandbox.guru import INACTIVE, GuruSandboxConfig
from profilesync_sandbox.samples import make_portrait

from .world import MEMBERS, PAGE_SIZE, GuruWorld, make_guru_world

PAGES = math.ceil(MEMBERS / PAGE_SIZE)


def synced(world: GuruWorld) -> None:
    """A first sync that sets every expected picture."""
    result = world.avatars("sync")
    assert result["counts"]["uploaded"] == len(world.expected_uploads()) and result["counts"]["failed"] == 0


def test_plan_lists_uploads_for_active_members_and_changes_nothing(world: GuruWorld) -> None:
    """`avatars plan --target guru`: upload/new per active member with a photo, matched by email in any case."""
    (world.photos / "nobody@elsewhere.test.jpg").write_bytes(make_portrait("nobody"))
    plan = world.avatars("plan")
    assert plan["target"] == f"guru:{world.guru.base_url}"
    uploads = {a["key"] for a in plan["actions"] if a["action"] == "upload"}
    assert uploads == world.expected_uploads() and len(uploads) > 20
    assert {a["reason"] for a in plan["actions"] if a["action"] == "upload"} == {"new"}
    assert plan["unmatched_photos"] == [{"photo": "nobody@elsewhere.test.jpg", "key": "nobody@elsewhere.test"}]
    assert set(world.guru.state.counts()) == {"GET /api/v1/members"}
    assert world.guru.state.counts()["GET /api/v1/members"] == PAGES


def test_inactive_members_are_skipped(world: GuruWorld) -> None:
    """Members whose user.status is not ACTIVE are skip/inactive, photo or not, and never written."""
    inactive = {m.email.casefold() for m in world.members() if not m.active}
    assert inactive, "the sandbox should have inactive members"
    plan = world.avatars("plan")
    assert {a["key"] for a in plan["actions"] if a["reason"] == "inactive"} == inactive
    synced(world)
    for member in world.members():
        if not member.active:
            assert world.guru.state.person(member.user_id) == world.persons_before[member.user_id]


def test_sync_sets_each_picture_with_three_requests_and_loses_no_field(world: GuruWorld) -> None:
    """`avatars sync`: every expected member shows a clean JPEG; POST + GET + PUT each; no profile field lost."""
    world.guru.state.reset_counts()
    synced(world)
    n = len(world.expected_uploads())
    assert world.writes() == {"POST /app/picture": n, "GET /api/v1/people/:id": n, "PUT /api/v1/people/:id": n}
    assert world.guru.state.counts()["GET /api/v1/members"] == PAGES
    for key in world.expected_uploads():
        url = world.member(key).profile_pic_url
        data = world.guru.state.picture(url or "")
        assert data is not None, key
        image = Image.open(io.BytesIO(data))
        assert image.format == "JPEG" and image.width == image.height <= 256 and not image.getexif()
    world.assert_no_field_lost()


def test_second_sync_makes_only_the_listing_requests(world: GuruWorld) -> None:
    """Nothing changed: the second sync uploads nothing and reads only the listing pages."""
    synced(world)
    world.guru.state.reset_counts()
    result = world.avatars("sync")
    assert result["counts"]["uploaded"] == 0 and result["counts"]["reassigned"] == 0
    assert result["counts"]["unchanged"] == len(world.expected_uploads())
    assert world.guru.state.counts() == {"GET /api/v1/members": PAGES}


def test_changed_photo_is_uploaded_alone(world: GuruWorld) -> None:
    """Changing one photo (its file named in upper case) leads to exactly one upload, reason changed."""
    synced(world)
    key = sorted(world.expected_uploads())[0]
    old_url = world.member(key).profile_pic_url
    world.write_photo(key, variant=1)
    plan = world.avatars("plan")
    assert [(a["key"], a["reason"]) for a in plan["actions"] if a["action"] != "skip"] == [(key, "changed")]
    world.guru.state.reset_counts()
    result = world.avatars("sync")
    assert result["counts"]["uploaded"] == 1
    assert world.writes() == {"POST /app/picture": 1, "GET /api/v1/people/:id": 1, "PUT /api/v1/people/:id": 1}
    assert world.member(key).profile_pic_url not in (None, old_url)
    world.assert_no_field_lost()


def test_member_picture_change_is_put_back_without_upload(world: GuruWorld) -> None:
    """Under enforce, a member who picked their own picture gets ours back: GET + PUT, no picture POST."""
    synced(world)
    key = sorted(world.expected_uploads())[1]
    ours = world.member(key).profile_pic_url
    world.guru.state.member_sets_own_picture(world.member(key).user_id, make_portrait("cat", variant=3))
    plan = world.avatars("plan")
    assert [(a["key"], a["action"], a["reason"]) for a in plan["actions"] if a["action"] != "skip"] == [
        (key, "reassign", "avatar_changed")
    ]
    world.guru.state.reset_counts()
    result = world.avatars("sync")
    assert result["counts"]["reassigned"] == 1 and result["counts"]["uploaded"] == 0
    assert world.writes() == {"POST /app/picture": 0, "GET /api/v1/people/:id": 1, "PUT /api/v1/people/:id": 1}
    assert world.guru.state.counts()["HEAD /pp/:name"] == 1  # is our picture still served?
    assert world.member(key).profile_pic_url == ours


def test_picture_no_longer_served_is_uploaded_again(world: GuruWorld) -> None:
    """When Guru stopped serving our picture, the reassignment becomes a fresh upload."""
    synced(world)
    key = sorted(world.expected_uploads())[2]
    ours = world.member(key).profile_pic_url or ""
    world.guru.state.member_sets_own_picture(world.member(key).user_id, make_portrait("dog"))
    world.guru.state.delete_picture(ours)
    result = world.avatars("sync")
    assert result["counts"]["uploaded"] == 1 and result["counts"]["failed"] == 0
    now = world.member(key).profile_pic_url
    assert now and now != ours and world.guru.state.picture(now) is not None


def test_member_choice_is_respected_under_respect(world: GuruWorld) -> None:
    """PROFILESYNC_POLICY=respect leaves a member's own picture alone."""
    synced(world)
    key = sorted(world.expected_uploads())[3]
    theirs = world.guru.state.member_sets_own_picture(world.member(key).user_id, make_portrait("owl"))
    world.extra_env["PROFILESYNC_POLICY"] = "respect"
    plan = world.avatars("plan")
    assert [a["reason"] for a in plan["actions"] if a["key"] == key] == ["user_choice"]
    world.avatars("sync")
    assert world.member(key).profile_pic_url == theirs


def test_member_made_inactive_after_a_sync_is_left_alone(world: GuruWorld) -> None:
    """A member deactivated later is skip/inactive even though history knows them."""
    synced(world)
    key = sorted(world.expected_uploads())[4]
    world.guru.state.set_status(world.member(key).user_id, INACTIVE)
    world.write_photo(key, variant=2)
    plan = world.avatars("plan")
    assert [(a["action"], a["reason"]) for a in plan["actions"] if a["key"] == key] == [("skip", "inactive")]


def test_one_member_by_email_in_any_case(world: GuruWorld) -> None:
    """`--user EMAIL` (any case) is one GET /api/v1/members/{email} — no listing, no search — and writes only
    that member: four requests in all."""
    key = sorted(world.expected_uploads())[5]
    world.guru.state.reset_counts()
    result = world.avatars("sync", "--user", key.upper())
    assert result["counts"]["uploaded"] == 1
    assert world.guru.state.counts() == {
        "GET /api/v1/members/:email": 1,
        "POST /app/picture": 1,
        "GET /api/v1/people/:id": 1,
        "PUT /api/v1/people/:id": 1,
    }
    lookup = next(r for r in world.guru.state.requests() if r.route == "GET /api/v1/members/:email")
    assert unquote(lookup.path).endswith(f"/api/v1/members/{key.upper()}") and "search" not in lookup.query
    assert world.member(key).profile_pic_url is not None


def test_plan_for_one_member_is_one_request(world: GuruWorld) -> None:
    """`avatars plan --user EMAIL` costs exactly one request: the member GET."""
    key = sorted(world.expected_uploads())[2]
    world.guru.state.reset_counts()
    plan = world.avatars("plan", "--user", key)
    assert [(a["key"], a["action"], a["reason"]) for a in plan["actions"]] == [(key, "upload", "new")]
    assert world.guru.state.counts() == {"GET /api/v1/members/:email": 1}


def test_unknown_member_is_not_found(world: GuruWorld) -> None:
    """`--user` naming nobody fails with not_found (exit 1)."""
    result = world.avatars("sync", "--user", "nobody@elsewhere.test", expect=1)
    assert [(f["key"], f["reason"]) for f in result["failures"]] == [("nobody@elsewhere.test", "not_found")]


def test_history_records_the_guru_target_and_picture_url(world: GuruWorld) -> None:
    """`avatars history` works unchanged: records carry guru:<base url> and the picture URL we set."""
    synced(world)
    key = sorted(world.expected_uploads())[6]
    records = world.json("avatars", "history", "--user", key)["records"]
    assert len(records) == 1
    record = records[0]
    assert record["target"] == f"guru:{world.guru.base_url}" and record["key"] == key
    assert record["file_id"] == world.member(key).profile_pic_url
    assert record["user_id"] == world.member(key).user_id


def test_dry_run_changes_nothing(world: GuruWorld) -> None:
    """`sync --dry-run` prints the plan; Guru and the history stay untouched."""
    plan = world.avatars("sync", "--dry-run")
    assert plan["counts"]["upload"] == len(world.expected_uploads())
    assert set(world.guru.state.counts()) == {"GET /api/v1/members"}
    assert world.json("avatars", "history")["records"] == []


def test_wrong_token_stops_the_run_with_exit_3(world: GuruWorld) -> None:
    """Bad credentials are fatal (exit 3) and the token appears nowhere in the output."""
    world.extra_env["GURU_API_TOKEN"] = "wrong-token-0123456789"
    result = world.cli("avatars", "sync", "--target", "guru", expect=3)
    assert "Guru rejected the credentials" in result.output and "GURU_API_TOKEN" in result.output
    assert "wrong-token-0123456789" not in result.output and world.guru.token not in result.output


def test_read_only_collection_token_stops_at_the_first_upload(world: GuruWorld) -> None:
    """A Collection token can plan but not write: the sync stops with exit 3 before any PUT."""
    world.extra_env.update({"GURU_USER": world.guru.collection_id, "GURU_API_TOKEN": world.guru.collection_token})
    world.avatars("plan")
    result = world.cli("avatars", "sync", "--target", "guru", expect=3)
    assert "read-only" in result.output
    assert world.guru.state.counts()["PUT /api/v1/people/:id"] == 0


def test_missing_guru_settings_are_reported_together(world: GuruWorld) -> None:
    """No GURU_USER and no GURU_API_TOKEN: one configuration error naming both (exit 2)."""
    world.extra_env.update({"GURU_USER": "", "GURU_API_TOKEN": ""})
    result = world.cli("avatars", "plan", "--target", "guru", expect=2)
    assert "GURU_USER" in result.output and "GURU_API_TOKEN" in result.output


def test_transient_errors_are_retried_and_fail_nobody(world: GuruWorld) -> None:
    """5xx answers on the picture POST and the PUT are retried; every member still gets their picture."""
    world.guru.faults.fail_next("POST", r"^/app/picture$", 502, host="guru")
    world.guru.faults.fail_next("PUT", r"^/api/v1/people/", 503, count=2, host="guru")
    synced(world)
    world.assert_no_field_lost()


@pytest.fixture
def throttled_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GuruWorld]:
    config = GuruSandboxConfig(members=18, page_size=10, rate_limit_per_s=25.0, inactive_rate=0.0)
    yield from make_guru_world(tmp_path, monkeypatch, config)


def test_rate_limit_fails_nobody(throttled_world: GuruWorld) -> None:
    """Guru's 429s pause and retry: the sync finishes with every picture set and no failure."""
    world = throttled_world
    synced(world)
    assert any(r.status == 429 for r in world.guru.state.requests()), "the rate limit should have been hit"
    world.assert_no_field_lost()


@pytest.fixture
def quiet_put_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GuruWorld]:
    config = GuruSandboxConfig(members=12, page_size=5, put_echoes_person=False, next_rel="next")
    yield from make_guru_world(tmp_path, monkeypatch, config)


def test_put_without_an_echo_is_verified_by_reading_again(quiet_put_world: GuruWorld) -> None:
    """When the PUT answers 204, one re-GET verifies it (and rel="next" pagination works as well)."""
    world = quiet_put_world
    world.guru.state.reset_counts()
    synced(world)
    n = len(world.expected_uploads())
    assert world.writes() == {"POST /app/picture": n, "GET /api/v1/people/:id": 2 * n, "PUT /api/v1/people/:id": n}
    world.assert_no_field_lost()
