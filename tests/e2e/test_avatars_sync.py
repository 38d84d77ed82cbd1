"""The main job end to end: plan, sync, the no-op second sync, changes, policies, one user, staleness."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from profilesync import app
from profilesync_sandbox import SandboxConfig
from profilesync_sandbox.samples import make_portrait
from support.world import USERS, World, decode, make_world


def expected_keys(world: World) -> set[str]:
    return {p.stem for p in world.photos.iterdir()} & {u.sis_user_id for u in world.students() if u.sis_user_id}


def test_plan_lists_exactly_the_expected_uploads(world: World) -> None:
    """`avatars plan` lists one upload/new per user with a photo, and changes nothing."""
    (world.photos / "NOBODY-1.jpg").write_bytes(make_portrait("NOBODY-1"))
    plan = world.json("avatars", "plan")
    uploads = {a["key"] for a in plan["actions"] if a["action"] == "upload"}
    assert uploads == expected_keys(world)
    assert {a["reason"] for a in plan["actions"] if a["action"] == "upload"} == {"new"}
    assert plan["unmatched_photos"] == [{"photo": "NOBODY-1.jpg", "key": "NOBODY-1"}]
    assert not world.sandbox.state.files()
    assert not world.sandbox.state.counts("canvas").get("POST /api/v1/users/:user_id/files")


@pytest.fixture(params=["instfs", "local"])
def any_upload_world(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    config = SandboxConfig(users=120, upload_mode=request.param, thumbnail_lag_s=0.3, request_cost=0.05)
    yield from make_world(tmp_path, monkeypatch, config)


def test_sync_sets_every_avatar_to_a_clean_square_jpeg(any_upload_world: World) -> None:
    """`avatars sync` sets each avatar to its photo: square, ≤ 256 px, JPEG, no metadata, one file per user."""
    world = any_upload_world
    result = world.json("avatars", "sync")
    keys = expected_keys(world)
    assert result["counts"]["uploaded"] == len(keys) and result["counts"]["failed"] == 0
    for key in keys:
        user = world.user(key)
        files = world.sandbox.state.files(user.id)
        assert len(files) == 1, f"{key} has {len(files)} files"
        assert user.avatar_url and f"/images/thumbnails/{files[0].id}/{files[0].uuid}" in user.avatar_url
        image = decode(files[0].bytes)
        assert image.format == "JPEG" and image.width == image.height <= 256
        assert not image.getexif() and "icc_profile" not in image.info and "exif" not in image.info


def test_second_sync_makes_only_the_listing_requests(world: World) -> None:
    """A second sync with nothing changed uploads nothing and costs ≤ ceil(users/100)+2 requests."""
    world.cli("avatars", "sync")
    world.sandbox.state.reset_counts()
    result = world.json("avatars", "sync")
    assert result["counts"]["uploaded"] == 0 and result["counts"]["reassigned"] == 0
    assert result["counts"]["unchanged"] == len(expected_keys(world))
    users = len(world.sandbox.state.users())
    assert world.api_requests() <= math.ceil(users / 100) + 2
    assert world.upload_requests() == 0


def test_changed_photo_is_uploaded_alone(world: World) -> None:
    """Changing one photo leads to exactly one upload, for reason changed, beside (not over) the file shown."""
    world.cli("avatars", "sync")
    key = sorted(expected_keys(world))[7]
    world.write_photo(key, variant=1)
    plan = world.json("avatars", "plan")
    assert [(a["key"], a["reason"]) for a in plan["actions"] if a["action"] != "skip"] == [(key, "changed")]
    world.sandbox.state.reset_counts()
    result = world.json("avatars", "sync")
    assert result["counts"]["uploaded"] == 1
    assert world.upload_requests() == 1
    files = world.sandbox.state.files(world.user(key).id)
    assert sorted(f.display_name for f in files) == ["profilesync-avatar-b.jpg", "profilesync-avatar.jpg"]
    assert f"/images/thumbnails/{files[-1].id}/" in (world.user(key).avatar_url or "")


def test_replaced_avatar_is_reassigned_without_upload_under_enforce(world: World) -> None:
    """A user who picked their own avatar gets ours back by reassignment, with no upload."""
    world.cli("avatars", "sync")
    key = sorted(expected_keys(world))[3]
    user = world.user(key)
    ours = user.avatar_url
    world.sandbox.state.user_sets_own_avatar(user.id, make_portrait("cat", variant=9))
    plan = world.json("avatars", "plan")
    assert [(a["key"], a["action"], a["reason"]) for a in plan["actions"] if a["action"] != "skip"] == [
        (key, "reassign", "avatar_changed")
    ]
    world.sandbox.state.reset_counts()
    result = world.json("avatars", "sync")
    assert result["counts"]["reassigned"] == 1 and result["counts"]["uploaded"] == 0
    assert world.upload_requests() == 0
    assert world.user(key).avatar_url == ours


def test_replaced_avatar_is_left_alone_under_respect(world: World) -> None:
    """Under PROFILESYNC_POLICY=respect the user's own avatar stays."""
    world.cli("avatars", "sync")
    key = sorted(expected_keys(world))[3]
    user = world.user(key)
    world.sandbox.state.user_sets_own_avatar(user.id, make_portrait("cat", variant=9))
    theirs = world.user(key).avatar_url
    world.extra_env["PROFILESYNC_POLICY"] = "respect"
    plan = world.json("avatars", "plan")
    assert [a["reason"] for a in plan["actions"] if a["key"] == key] == ["user_choice"]
    result = world.json("avatars", "sync")
    assert result["counts"]["reassigned"] == 0 and result["counts"]["uploaded"] == 0
    assert world.user(key).avatar_url == theirs


def test_one_user_sync_touches_only_that_user(world: World) -> None:
    """`--user KEY` looks the user up directly and uploads for nobody else."""
    key = sorted(expected_keys(world))[11]
    result = world.json("avatars", "sync", "--user", key)
    assert result["counts"]["uploaded"] == 1
    assert [f.user_id for f in world.sandbox.state.files()] == [world.user(key).id]
    assert not world.sandbox.state.counts("canvas").get("GET /api/v1/accounts/:account_id/users")


def test_one_user_plan_reads_that_users_history(world: World) -> None:
    """After a sync, `avatars plan --user KEY` finds the user's record (unchanged), and sees a new photo of
    theirs as changed: the one-user plan reads that user's history, not nobody's."""
    keys = sorted(expected_keys(world))
    world.cli("avatars", "sync")
    plan = world.json("avatars", "plan", "--user", keys[4])
    assert [(a["key"], a["action"], a["reason"]) for a in plan["actions"]] == [(keys[4], "skip", "unchanged")]
    world.write_photo(keys[5], variant=1)
    plan = world.json("avatars", "plan", "--user", keys[5])
    assert [(a["key"], a["action"], a["reason"]) for a in plan["actions"]] == [(keys[5], "upload", "changed")]


def test_one_user_without_a_photo_is_no_photo_not_an_empty_folder(world: World) -> None:
    """`--user` scans only that user's photos, yet the safety valve still sees the other photos: a user whose
    photo is missing is skipped (no_photo), and only that user's file is fingerprinted."""
    keys = sorted(expected_keys(world))
    (world.photos / f"{keys[3]}.jpg").unlink()
    result = world.json("avatars", "sync", "--user", keys[3])
    assert result["counts"]["uploaded"] == 0 and result["exit_code"] == 0
    plan = world.json("avatars", "plan", "--user", keys[3])
    assert [(a["key"], a["reason"]) for a in plan["actions"]] == [(keys[3], "no_photo")]
    world.json("avatars", "sync", "--user", keys[4])
    with closing(sqlite3.connect(world.database_url.removeprefix("sqlite:///"))) as db:
        cached = db.execute("SELECT path FROM photo_fingerprints").fetchall()
    assert [Path(p).name for (p,) in cached] == [f"{keys[4]}.jpg"]


def test_unknown_user_is_reported_not_found(world: World) -> None:
    """`--user` naming nobody fails that user with not_found (exit 1)."""
    result = world.json("avatars", "sync", "--user", "NO-SUCH-ID", expect=1)
    assert result["failures"] == [
        {"key": "NO-SUCH-ID", "reason": "not_found", "message": "no user with sis_user_id 'NO-SUCH-ID' on the target"}
    ]


def test_old_history_is_uploaded_again_as_stale(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A history older than the max age re-uploads the unchanged photo (reason stale)."""
    world.cli("avatars", "sync")
    later = datetime.now(UTC) + timedelta(days=31)
    monkeypatch.setattr(app, "now_utc", lambda: later)
    plan = world.json("avatars", "plan")
    assert {a["reason"] for a in plan["actions"] if a["action"] == "upload"} == {"stale"}
    result = world.json("avatars", "sync")
    assert result["counts"]["uploaded"] == len(expected_keys(world))
    for key in expected_keys(world):
        assert len(world.sandbox.state.files(world.user(key).id)) == 2  # the two alternating names


def test_dry_run_changes_nothing(world: World) -> None:
    """`sync --dry-run` prints the plan; Canvas and the history stay untouched."""
    plan = world.json("avatars", "sync", "--dry-run")
    assert plan["counts"]["upload"] == len(expected_keys(world))
    assert not world.sandbox.state.files()
    assert world.json("avatars", "history") == {"records": []}


def test_history_lists_synced_users_newest_first(world: World) -> None:
    """`avatars history` shows what was synced, with the photo's hash, newest first."""
    world.cli("avatars", "sync")
    key = sorted(expected_keys(world))[0]
    world.write_photo(key, variant=2)
    world.cli("avatars", "sync")
    records = world.json("avatars", "history")["records"]
    assert len(records) == len(expected_keys(world))
    assert records[0]["key"] == key
    one = world.json("avatars", "history", "--user", key)["records"]
    assert [r["key"] for r in one] == [key] and len(one[0]["photo_sha256"]) == 64


def test_demo_runs_end_to_end() -> None:
    """`profilesync demo` ends with the summary line: first sync set N, the second none."""
    from click.testing import CliRunner

    from profilesync.cli import cli

    result = CliRunner().invoke(cli, ["demo", "--users", "60", "--latency-ms", "0"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("demo: the first sync set ") and "the second set none" in last
    assert USERS  # the module constant is shared with the harness


def test_changed_users_cost_three_api_requests_each(world: World) -> None:
    """Each changed user costs 3 Canvas requests (preflight, avatar options, PUT) plus one upload; the run adds
    only its two account questions (the root account, the token's rights there)."""
    world.cli("avatars", "sync")
    changed = sorted(expected_keys(world))[:10]
    for key in changed:
        world.write_photo(key, variant=3)
    world.sandbox.state.reset_counts()
    world.json("avatars", "sync")
    counts = world.sandbox.state.counts("canvas")
    listing = counts["GET /api/v1/accounts/:account_id/users"]
    assert listing <= math.ceil(len(world.sandbox.state.users()) / 100) + 1
    once = counts["GET /api/v1/accounts/:account_id"] + counts["GET /api/v1/accounts/:account_id/permissions"]
    assert once == 2
    assert world.api_requests() - listing - once == 3 * len(changed)
    assert world.upload_requests() == len(changed)
