"""Photos straight from the SIS database, end to end: the real CLI against the sandbox Canvas, photos in SQLite
(BLOB) or PostgreSQL (bytea), real SQLite history."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from profilesync_sandbox import SandboxConfig
from profilesync_sandbox.samples import make_portrait
from support.world import World, make_world

from .sisdb import KINDS, QUERY, SisDatabase, sis_database


@pytest.fixture(params=KINDS)
def sis(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SisDatabase]:
    with sis_database(request.param, tmp_path) as db:
        yield db


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sis: SisDatabase) -> Iterator[World]:
    """A small sandbox whose students' photos are rows of the SIS database; there is no photo folder."""
    for world in make_world(tmp_path, monkeypatch, SandboxConfig(users=30, request_cost=0.0)):
        for file in sorted(world.photos.glob("*.jpg")):
            sis.put(file.stem, file.read_bytes())
        world.extra_env.update(
            PROFILESYNC_PHOTOS_DIR=str(tmp_path / "no-such-folder"),
            PROFILESYNC_PHOTOS_SQL_URL=sis.url,
            PROFILESYNC_PHOTOS_SQL_QUERY=QUERY,
        )
        yield world


def photo_keys(world: World) -> list[str]:
    return sorted(p.stem for p in world.photos.glob("*.jpg"))


def avatar_bytes(world: World, key: str) -> bytes:
    """The bytes of the file the user's avatar shows now."""
    user = world.user(key)
    shown = user.avatar_url or ""
    (file,) = [f for f in world.sandbox.state.files(user.id) if f"/images/thumbnails/{f.id}/" in shown]
    return file.bytes


def test_sync_uploads_each_row_then_nothing_then_the_changed_row(world: World, sis: SisDatabase) -> None:
    """First sync uploads every row's photo; a second uploads nothing; a changed row uploads that one photo."""
    keys = photo_keys(world)
    first = world.json("avatars", "sync")
    assert first["counts"]["uploaded"] == len(keys) and first["counts"]["failed"] == 0
    uploads = world.upload_requests()

    second = world.json("avatars", "sync")
    assert second["counts"]["uploaded"] == 0
    assert world.upload_requests() == uploads

    before = {key: avatar_bytes(world, key) for key in keys[:2]}
    sis.change(keys[0], make_portrait(keys[0], variant=3, size=400), version=2)
    third = world.json("avatars", "sync")
    assert third["counts"]["uploaded"] == 1
    assert avatar_bytes(world, keys[0]) != before[keys[0]]
    assert avatar_bytes(world, keys[1]) == before[keys[1]]


def test_a_bad_row_fails_alone(world: World, sis: SisDatabase) -> None:
    """Bytes that are not an image, NULL bytes, a NULL key and a key on two rows each fail on their own (exit 1);
    every other row's photo is uploaded."""
    keys = photo_keys(world)
    garbage, empty, twice = keys[1], keys[2], keys[3]
    sis.change(garbage, b"not a picture at all", version=2)
    sis.change(empty, None, version=2)
    sis.put(None, make_portrait("nobody", size=400))
    sis.put(twice, make_portrait(twice, variant=2, size=400))
    result = world.json("avatars", "sync", expect=1)
    failures = {f["key"]: f["reason"] for f in result["failures"]}
    null_keys = [k for k in failures if "photo_key NULL" in k]
    assert len(null_keys) == 1 and failures.pop(null_keys[0]) == "invalid_photo"
    assert failures == {garbage: "invalid_photo", empty: "invalid_photo", twice: "ambiguous_photo"}
    assert result["counts"]["uploaded"] == len(keys) - 3


def test_plan_user_reads_one_row(world: World) -> None:
    """``plan --user`` plans that user from their row alone."""
    key = photo_keys(world)[2]
    plan = world.json("avatars", "plan", "--user", key)
    assert [(a["key"], a["action"], a["photo"]) for a in plan["actions"]] == [(key, "upload", key)]


def test_no_rows_trips_the_safety_valve(world: World, sis: SisDatabase) -> None:
    """An empty result is an empty folder: exit 4, nothing uploaded."""
    sis.clear()
    result = world.cli("avatars", "sync", expect=4)
    assert "returned no rows" in result.output
    assert world.upload_requests() == 0


def test_doctor_checks_the_query(world: World) -> None:
    """doctor's photo line says the query returns the three columns, and how many rows."""
    output = world.cli("doctor", expect=0).stdout
    (line,) = [text for text in output.splitlines() if "photo_key, photo_bytes, changed_at" in text]
    assert line.startswith("[ ok ]") and f"{len(photo_keys(world))} rows" in line


def test_review_page_shows_the_database_photo(world: World, tmp_path: Path) -> None:
    """``plan --html`` embeds each pending row's photo as it will be uploaded."""
    page = tmp_path / "review.html"
    world.cli("avatars", "plan", "--html", str(page))
    text = page.read_text(encoding="utf-8")
    assert text.count("data:image/jpeg;base64,") == len(photo_keys(world))  # nobody has an avatar yet
    assert "cannot be used" not in text


@pytest.mark.parametrize("sis", ["sqlite"], indirect=True)
def test_the_url_and_its_password_are_never_shown(world: World, caplog: pytest.LogCaptureFixture) -> None:
    """An unreachable database stops the sync (exit 4) without printing or logging the URL or its password."""
    url = "postgresql+psycopg://sis:Pw-0f-the-SIS@127.0.0.1:1/sis?connect_timeout=5"
    world.extra_env["PROFILESYNC_PHOTOS_SQL_URL"] = url
    for args, code in ((("avatars", "sync"), 4), (("avatars", "plan"), 0), (("doctor",), 4)):
        result = world.cli("-vv", *args, expect=code)
        shown = result.stdout + result.stderr + caplog.text
        assert "cannot be reached" in shown
        assert "Pw-0f-the-SIS" not in shown and "sis:Pw" not in shown
