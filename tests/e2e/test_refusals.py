"""Canvas refusing some users, end to end: limited access for students, and a few users Canvas won't act as."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from profilesync_sandbox import SandboxConfig
from profilesync_sandbox.canvas.records import ALL_PERMISSIONS
from support.world import World, make_world

STAFF = ("T001", "T002", "T003", "T004")
REFUSED = ("A901", "A902", "A903")


@pytest.fixture(params=[False, True], ids=["401", "403"])
def limited_school(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """Sixty students and four teachers, 'Limited access for students' on (401, or 403 with the newer errors)."""
    config = SandboxConfig(
        users=60, unenrolled_rate=0.0, limited_access_for_students=True, api_auth_error_updates=request.param
    )
    for world in make_world(tmp_path, monkeypatch, config):
        for n, key in enumerate(STAFF):
            world.sandbox.state.add_user(f"Teacher Number{n}", sis_user_id=key, enrollments=("teacher",))
            world.write_photo(key)
        yield world


def test_limited_access_fails_each_student_and_syncs_staff(limited_school: World) -> None:
    """Staff are synced; every student with a photo fails alone as limited_access naming the setting; exit 1."""
    world = limited_school
    result = world.cli("avatars", "sync", "--format", "json", expect=1)
    report = json.loads(result.stdout)
    students = {p.stem for p in world.photos.iterdir()} - set(STAFF)
    assert report["counts"]["uploaded"] == len(STAFF)
    assert {f["key"] for f in report["failures"]} == students
    assert {f["reason"] for f in report["failures"]} == {"limited_access"}
    assert all("Limited access for students" in f["message"] for f in report["failures"])
    assert "act as" not in (result.stdout + result.stderr).lower()
    for key in STAFF:
        assert "/images/thumbnails/" in str(world.user(key).avatar_url)
    assert not any(world.sandbox.state.files(world.user(key).id) for key in students)


def test_limited_access_failures_are_in_the_history(limited_school: World) -> None:
    """The table report and the history show each student's reason; nothing unverified is recorded as synced."""
    world = limited_school
    result = world.cli("avatars", "sync", expect=1)
    assert "limited_access" in result.stdout
    records = {r["key"]: r for r in world.json("avatars", "history")["records"]}
    student = next(p.stem for p in world.photos.iterdir() if p.stem not in STAFF)
    assert records[student]["synced_at"] is None and "Limited access" in records[student]["last_error"]
    assert all(records[key]["synced_at"] for key in STAFF)


@pytest.fixture
def outranked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """150 students; first in the listing (by name and by id), three staff admins who outrank the sync token."""
    for world in make_world(tmp_path, monkeypatch, SandboxConfig(users=150)):
        state = world.sandbox.state
        for n, key in enumerate(REFUSED):
            user_id = state.add_user(
                f"Aaron Aardvark{n}",
                sis_user_id=key,
                user_id=901 + n,
                sortable_name=f"Aardvark{n}, Aaron",
                enrollments=(),
            )
            with state.lock:
                state.user_records[user_id].admin_permissions = ALL_PERMISSIONS
            world.write_photo(key)
        world.extra_env["CANVAS_API_TOKEN"] = state.add_admin(ALL_PERMISSIONS - {"manage_sis"})
        yield world


def test_three_refused_users_first_do_not_stop_the_run(outranked: World) -> None:
    """Three users Canvas won't act as, planned first: each reported masquerade_refused, the rest synced, exit 1."""
    world = outranked
    plan = world.json("avatars", "plan")
    assert [a["key"] for a in plan["actions"] if a["action"] == "upload"][:3] == list(REFUSED)
    report = world.json("avatars", "sync", expect=1)
    others = {p.stem for p in world.photos.iterdir()} - set(REFUSED)
    assert report["counts"]["uploaded"] == len(others) and report["counts"]["failed"] == 3
    assert {f["key"]: f["reason"] for f in report["failures"]} == dict.fromkeys(REFUSED, "masquerade_refused")
    for failure in report["failures"]:
        assert "Invalid as_user_id" in failure["message"] and "rights the token's role lacks" in failure["message"]


def test_user_without_a_login_here_fails_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Matched by email, a user whose only login is in a consortium account is refused alone; the others sync."""
    config = SandboxConfig(scenario={"accounts": [{"id": 2, "name": "Partner District"}], "generate": 30})
    for world in make_world(tmp_path, monkeypatch, config):
        state = world.sandbox.state
        visitor = state.add_user("Vera Visitor", login_id="vera@partner.edu", root_account_ids=(2, 1))
        world.extra_env["PROFILESYNC_MATCH"] = "email"
        emails = [u.email for u in state.users()[2:8] if u.email] + [state.user(visitor).email]
        for email in emails:
            world.write_photo(str(email))
        report = world.json("avatars", "sync", expect=1)
        assert report["counts"]["uploaded"] == len(emails) - 1
        assert [(f["key"], f["reason"]) for f in report["failures"]] == [("vera@partner.edu", "masquerade_refused")]
        assert "no login in this root account" in report["failures"][0]["message"]
