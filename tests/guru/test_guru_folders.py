"""Photo folders as a new admin meets them: Guru's own folder (named by email) beside Canvas's (named by SIS id),
and `avatars plan` listing everyone before the first photo export, while `sync` still stops on an empty folder."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from profilesync_sandbox import Sandbox, SandboxConfig
from profilesync_sandbox.guru import GuruSandboxConfig
from profilesync_sandbox.samples import write_sample_photos
from support.world import World, make_world

from .world import GuruWorld, make_guru_world


@pytest.fixture
def small(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GuruWorld]:
    """Twelve members, a quarter of them inactive."""
    yield from make_guru_world(tmp_path, monkeypatch, GuruSandboxConfig(members=12, page_size=5, inactive_rate=0.25))


def empty_folder(world: GuruWorld, how: str) -> None:
    shutil.rmtree(world.photos)
    if how == "empty":
        world.photos.mkdir()


@pytest.mark.parametrize("how", ["empty", "missing"])
def test_guru_plan_lists_every_member_before_the_first_photo(small: GuruWorld, how: str) -> None:
    """An empty or missing folder: `plan --target guru` still lists every member (no_photo, or inactive), names
    the folder in a warning and exits 0 — the admin sees which emails to name the photos by."""
    empty_folder(small, how)
    result = small.cli("avatars", "plan", "--target", "guru", "--format", "json")
    plan = small.json("avatars", "plan", "--target", "guru")
    expected = {m.email.casefold(): "no_photo" if m.active else "inactive" for m in small.members()}
    assert {a["key"]: a["reason"] for a in plan["actions"]} == expected
    assert {a["action"] for a in plan["actions"]} == {"skip"}
    assert str(small.photos) in result.stderr and "exit 4" in result.stderr
    listing = small.cli("avatars", "plan", "--target", "guru", "--format", "csv").stdout
    assert all(f"{m.email.casefold()}," in listing for m in small.members())
    assert "--format csv" in small.cli("avatars", "plan", "--target", "guru").stderr


@pytest.mark.parametrize("how", ["empty", "missing"])
def test_guru_sync_on_an_empty_folder_still_stops(small: GuruWorld, how: str) -> None:
    """`sync --target guru` on an empty or missing folder: exit 4 (the safety valve) and nothing written."""
    empty_folder(small, how)
    small.guru.state.reset_counts()
    result = small.cli("avatars", "sync", "--target", "guru", expect=4)
    assert "photo folder" in result.stderr
    assert how == "empty" or "GURU_PHOTOS_DIR" in result.stderr  # the advice names Guru's own setting
    assert set(small.guru.state.counts()) <= {"GET /api/v1/members"}


@pytest.fixture
def canvas(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    yield from make_world(tmp_path, monkeypatch, SandboxConfig(users=20))


def test_canvas_plan_lists_every_user_on_an_empty_folder(canvas: World) -> None:
    """The same for Canvas: an empty folder plans every user (no_photo or no_key), exit 0; sync exits 4."""
    for photo in canvas.photos.iterdir():
        photo.unlink()
    plan = canvas.json("avatars", "plan")
    keys = {u.sis_user_id for u in canvas.students()}
    assert {a["key"] for a in plan["actions"] if a["reason"] == "no_photo"} == keys and len(keys) > 10
    assert {a["reason"] for a in plan["actions"]} <= {"no_photo", "no_key"}
    canvas.cli("avatars", "sync", expect=4)


def test_guru_photos_dir_is_guru_s_own_folder(small: GuruWorld, tmp_path: Path) -> None:
    """GURU_PHOTOS_DIR (emails) serves Guru while Canvas keeps PROFILESYNC_PHOTOS_DIR (SIS ids): each plan
    matches its own photos and reports no photo of the other folder as unmatched."""
    with Sandbox(SandboxConfig(users=12)) as sandbox:
        sis_ids = [u.sis_user_id for u in sandbox.state.users() if u.sis_user_id]
        canvas_photos = tmp_path / "canvas-photos"
        write_sample_photos(canvas_photos, sis_ids, size=64)
        small.extra_env.update(
            CANVAS_BASE_URL=sandbox.base_url,
            CANVAS_API_TOKEN=sandbox.admin_token,
            PROFILESYNC_PHOTOS_DIR=str(canvas_photos),
            GURU_PHOTOS_DIR=str(small.photos),
        )
        canvas_plan = small.json("avatars", "plan")
        guru_plan = small.json("avatars", "plan", "--target", "guru")
        guru_sync = small.json("avatars", "sync", "--target", "guru")
    assert {a["key"] for a in canvas_plan["actions"] if a["action"] == "upload"} == set(sis_ids)
    assert canvas_plan["unmatched_photos"] == []
    assert {a["key"] for a in guru_plan["actions"] if a["action"] == "upload"} == small.expected_uploads()
    assert guru_plan["unmatched_photos"] == []
    assert guru_sync["counts"]["uploaded"] == len(small.expected_uploads()) > 0


def test_guru_falls_back_to_the_shared_folder(small: GuruWorld, tmp_path: Path) -> None:
    """Without GURU_PHOTOS_DIR, Guru reads PROFILESYNC_PHOTOS_DIR; an empty GURU_PHOTOS_DIR= is "not set"."""
    small.extra_env["GURU_PHOTOS_DIR"] = ""
    plan = small.json("avatars", "plan", "--target", "guru")
    assert {a["key"] for a in plan["actions"] if a["action"] == "upload"} == small.expected_uploads()
