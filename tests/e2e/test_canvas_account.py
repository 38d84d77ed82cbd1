"""The root account, end to end: sub-account tokens, tokens that may not read users, and the history's identity.

The real CLI against the sandbox over loopback, with a real SQLite history.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.world import MakeWorld, World, world_maker

PREFLIGHT = "POST /api/v1/users/self/files"
USERS = 120


@pytest.fixture
def make(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MakeWorld]:
    """``make(users=120, sub_account_users=60, ...)``: a started sandbox with photos for 5/6 of its students."""
    with world_maker(tmp_path, monkeypatch) as build:
        yield build


def write_csv(world: World, *rows: tuple[str, str]) -> str:
    path = world.photos.parent / "parents.csv"
    lines = ["student_sis_id,parent_email,parent_first_name,parent_last_name"]
    lines += [f"{sis},{email},Pat,Parent" for sis, email in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def db_target_ids(world: World) -> set[str]:
    with sqlite3.connect(world.database_url.removeprefix("sqlite:///")) as conn:
        return {row[0] for row in conn.execute("SELECT DISTINCT target_id FROM sync_records")}


# -- sub-account tokens (issue 11 item 3) ---------------------------------------------------------------------
def test_sub_account_token_stops_sync_early_with_root_admin_advice(make: MakeWorld) -> None:
    """A sub-account admin's token: avatars sync exits 3 within a handful of requests, saying a root-account
    admin role is needed; nothing is uploaded."""
    world = make(users=USERS, sub_account_users=60)
    assert world.sandbox.sub_account_token is not None
    world.extra_env["CANVAS_API_TOKEN"] = world.sandbox.sub_account_token
    world.extra_env["CANVAS_ACCOUNT_ID"] = str(world.sandbox.sub_account_id)
    result = world.cli("avatars", "sync", expect=3)
    assert "root account" in result.stderr and "sub-account admin" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert world.api_requests() <= 5
    assert world.sandbox.state.counts()[PREFLIGHT] == 0 and world.upload_requests() == 0


def test_doctor_says_a_root_account_admin_is_needed(make: MakeWorld) -> None:
    """doctor with a sub-account admin's token fails the root-account checks (exit 3) with the same advice."""
    world = make(users=40, sub_account_users=20)
    assert world.sandbox.sub_account_token is not None
    world.extra_env["CANVAS_API_TOKEN"] = world.sandbox.sub_account_token
    world.extra_env["CANVAS_ACCOUNT_ID"] = str(world.sandbox.sub_account_id)
    checks = {c["name"]: c for c in world.json("doctor", expect=3)["checks"]}
    assert checks["root account"]["status"] == "fail"
    assert "no role in the Canvas root account" in checks["root account"]["detail"]
    assert "sub-account admin" in (checks["root account"]["advice"] or "")
    assert checks["read users"]["status"] != "fail"  # it can list its own users: only writes are out of reach


def test_doctor_passes_the_root_account_checks_for_a_root_admin(make: MakeWorld) -> None:
    """doctor with the root admin's token names the root account by its uuid and passes its rights."""
    world = make(users=20)
    checks = {c["name"]: c for c in world.json("doctor")["checks"]}
    assert checks["root account"]["status"] == "pass"
    assert world.sandbox.state.accounts[1].uuid in checks["root account"]["detail"]
    assert checks["root-account rights"]["status"] == "pass"


def test_token_without_act_as_stops_before_any_upload(make: MakeWorld) -> None:
    """A root admin without "Become other users": the rights check stops the sync (exit 3) before a preflight."""
    world = make(users=60)
    world.extra_env["CANVAS_API_TOKEN"] = world.sandbox.no_masquerade_token
    result = world.cli("avatars", "sync", expect=3)
    assert "Users - act as" in result.stderr and "Become other users" in result.stderr
    assert world.sandbox.state.counts()[PREFLIGHT] == 0 and world.upload_requests() == 0


# -- 404 that means "not allowed" (issue 11 item 8) ------------------------------------------------------------
def test_read_less_token_user_lookup_exits_3_with_advice(make: MakeWorld) -> None:
    """avatars sync --user with a token that may not read users: exit 3 naming the right, not "not found"."""
    world = make(users=20)
    key = world.students()[0].sis_user_id
    assert key is not None
    world.extra_env["CANVAS_API_TOKEN"] = world.sandbox.read_less_token()
    result = world.cli("avatars", "sync", "--user", key, expect=3)
    assert "may not read users" in result.stderr and "Users - view list" in result.stderr, result.stderr
    assert world.upload_requests() == 0


def test_genuinely_missing_user_is_still_not_found(make: MakeWorld) -> None:
    """With a token that may read users, --user naming nobody is reported as not_found (plan exits 0)."""
    world = make(users=20)
    plan = world.json("avatars", "plan", "--user", "S999999")
    assert [(a["action"], a["reason"]) for a in plan["actions"]] == [("error", "not_found")]


def test_read_less_token_observers_sync_exits_3(make: MakeWorld) -> None:
    """observers sync with a token that may not read users: exit 3 with advice, no parent created."""
    world = make(users=10)
    students = [u.sis_user_id for u in world.students()[:2]]
    csv = write_csv(world, (str(students[0]), "pat@home.example.net"), (str(students[1]), "sam@home.example.net"))
    world.extra_env["CANVAS_API_TOKEN"] = world.sandbox.read_less_token()
    result = world.cli("observers", "sync", csv, expect=3)
    assert "may not read users" in result.stderr and "Users - view list" in result.stderr, result.stderr
    assert world.sandbox.state.counts()["POST /api/v1/accounts/:account_id/users"] == 0


def test_observers_missing_student_is_still_student_not_found(make: MakeWorld) -> None:
    """With the admin token, a student no one has is student_not_found and the plan exits 0."""
    world = make(users=10)
    csv = write_csv(world, ("NO-SUCH-KID", "pat@home.example.net"))
    rows = world.json("observers", "plan", csv)["rows"]
    assert [r["outcome"] for r in rows] == ["student_not_found"]


def test_doctor_flags_a_token_that_may_not_read_users(make: MakeWorld) -> None:
    """doctor with a read-less token fails the root-account rights check naming the missing right."""
    world = make(users=10)
    world.extra_env["CANVAS_API_TOKEN"] = world.sandbox.read_less_token()
    checks = {c["name"]: c for c in world.json("doctor", expect=3)["checks"]}
    rights = checks["root-account rights"]
    assert rights["status"] == "fail" and "may not read users" in rights["detail"]
    assert "Users - view list" in (rights["advice"] or "")


# -- the history's identity (issue 12 item 3) --------------------------------------------------------------
def test_another_spelling_of_the_url_uploads_nothing(make: MakeWorld) -> None:
    """The same Canvas under another spelling (localhost for 127.0.0.1, a trailing slash): the second sync
    uploads nothing and stays within the steady-state budget."""
    world = make(users=USERS)
    first = world.json("avatars", "sync")
    assert first["counts"]["uploaded"] > 0
    world.extra_env["CANVAS_BASE_URL"] = world.sandbox.alias_base_url + "/"
    assert "localhost" in world.sandbox.alias_base_url
    world.sandbox.state.reset_counts()
    second = world.json("avatars", "sync")
    assert second["counts"]["uploaded"] == 0 and second["counts"]["failed"] == 0
    assert world.upload_requests() == 0
    listed = len(world.sandbox.state.sorted_users(1))
    assert world.api_requests() <= math.ceil(listed / 100) + 2


def test_history_recorded_under_the_old_url_name_is_adopted(make: MakeWorld) -> None:
    """A database written by the URL-keyed profilesync: after the upgrade (even with the URL spelled in upper
    case) nobody is re-uploaded, plan changes nothing, and sync files the history under the root account."""
    world = make(users=USERS)
    world.cli("avatars", "sync")
    uuid = world.sandbox.state.accounts[1].uuid
    old_name = f"canvas:{world.sandbox.base_url}"
    with sqlite3.connect(world.database_url.removeprefix("sqlite:///")) as conn:  # as the old version wrote it
        for table in ("sync_records", "runs"):
            conn.execute(f"UPDATE {table} SET target_id = ?", (old_name,))
    world.extra_env["CANVAS_BASE_URL"] = world.sandbox.base_url.upper()

    plan = world.json("avatars", "plan")
    assert plan["counts"].get("upload", 0) == 0
    assert db_target_ids(world) == {old_name}  # plan wrote nothing

    world.sandbox.state.reset_counts()
    result = world.json("avatars", "sync")
    assert result["counts"]["uploaded"] == 0 and world.upload_requests() == 0
    assert db_target_ids(world) == {f"canvas:root:{uuid}"}
    with sqlite3.connect(world.database_url.removeprefix("sqlite:///")) as conn:
        assert {row[0] for row in conn.execute("SELECT DISTINCT target_id FROM runs")} == {f"canvas:root:{uuid}"}


def test_every_student_lookup_404_stops_when_canvas_hides_the_rights(make: MakeWorld) -> None:
    """Canvas without a usable rights endpoint: a read-less token's lookups all answer 404, and after at least
    three of them the run stops (exit 3) with advice instead of reporting every student not found."""
    world = make(users=10)
    students = [str(u.sis_user_id) for u in world.students()[:3]]
    csv = write_csv(world, *((sis, f"parent{i}@home.example.net") for i, sis in enumerate(students)))
    world.extra_env["CANVAS_API_TOKEN"] = world.sandbox.read_less_token()
    world.sandbox.faults.fail_next("GET", r"/api/v1/accounts/self/permissions$", 404, count=10)
    result = world.cli("observers", "plan", csv, expect=3)
    assert "all 3 student lookups" in result.stderr and "Users - view list" in result.stderr, result.stderr


def test_found_students_are_no_evidence_when_canvas_hides_the_rights(make: MakeWorld) -> None:
    """The same missing rights endpoint with the admin token: students are found and the plan exits 0."""
    world = make(users=10)
    students = [str(u.sis_user_id) for u in world.students()[:3]]
    csv = write_csv(world, *((sis, f"parent{i}@home.example.net") for i, sis in enumerate(students)))
    world.sandbox.faults.fail_next("GET", r"/api/v1/accounts/self/permissions$", 404, count=10)
    rows = world.json("observers", "plan", csv)["rows"]
    assert all(r["outcome"] != "student_not_found" for r in rows)


def rename_history(world: World, name: str) -> None:
    """Make the history look as the URL-keyed profilesync wrote it, under ``name``."""
    with sqlite3.connect(world.database_url.removeprefix("sqlite:///")) as conn:
        for table in ("sync_records", "runs"):
            conn.execute(f"UPDATE {table} SET target_id = ?", (name,))


def test_history_kept_under_another_host_name_is_adopted_by_user_ids(make: MakeWorld) -> None:
    """A history the old version kept under another host name (a vanity domain) whose keys name the same Canvas
    user ids as the listing: it is this Canvas's, so the upgrade re-uploads nobody."""
    world = make(users=USERS)
    world.cli("avatars", "sync")
    rename_history(world, "canvas:https://canvas.school.example.edu")
    world.sandbox.state.reset_counts()
    result = world.json("avatars", "sync")
    assert result["counts"]["uploaded"] == 0 and world.upload_requests() == 0
    assert db_target_ids(world) == {f"canvas:root:{world.sandbox.state.accounts[1].uuid}"}


def test_history_of_a_test_copy_is_never_taken_for_production(make: MakeWorld) -> None:
    """A history kept for the school's Instructure test copy (same user ids) is not adopted by production:
    production is synced from scratch and the test copy's history stays where it was."""
    world = make(users=USERS)
    world.cli("avatars", "sync")
    rename_history(world, "canvas:https://school.test.instructure.com")
    plan = world.json("avatars", "plan")
    assert plan["counts"]["upload"] > 0
    assert db_target_ids(world) == {"canvas:https://school.test.instructure.com"}


def test_observer_links_recorded_under_the_old_url_name_are_adopted(make: MakeWorld) -> None:
    """Observer links an earlier version recorded under ``canvas:<URL>`` are re-filed under the root account by
    the next observers sync, which changes nothing on Canvas."""
    world = make(users=10)
    students = [str(u.sis_user_id) for u in world.students()[:2]]
    csv = write_csv(world, (students[0], "pat@home.example.net"), (students[1], "pat@home.example.net"))
    world.cli("observers", "sync", csv)
    old_name = f"canvas:{world.sandbox.base_url}/"
    with sqlite3.connect(world.database_url.removeprefix("sqlite:///")) as conn:
        conn.execute("UPDATE observer_links SET target_id = ?", (old_name,))
    plan = world.json("observers", "plan", csv)
    assert [r["outcome"] for r in plan["rows"]] == ["already_linked", "already_linked"]
    world.sandbox.state.reset_counts()
    world.cli("observers", "sync", csv)
    assert world.sandbox.state.counts()["POST /api/v1/accounts/:account_id/users"] == 0
    with sqlite3.connect(world.database_url.removeprefix("sqlite:///")) as conn:
        names = {row[0] for row in conn.execute("SELECT DISTINCT target_id FROM observer_links")}
    assert names == {f"canvas:root:{world.sandbox.state.accounts[1].uuid}"}
