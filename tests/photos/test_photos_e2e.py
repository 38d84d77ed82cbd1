"""Photo formats and names end to end: the real CLI against the sandbox Canvas, with real SQLite history."""

from __future__ import annotations

import html
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from profilesync_sandbox import SandboxConfig
from profilesync_sandbox.samples import make_portrait
from support.world import World, decode, make_world

from .imaging import encode


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """A small sandbox (30 users) with photos for 5/6 of its students."""
    yield from make_world(tmp_path, monkeypatch, SandboxConfig(users=30, request_cost=0.0))


def keys_with_photos(world: World) -> list[str]:
    return sorted(p.stem for p in world.photos.glob("*.jpg"))


def keys_without_photos(world: World) -> list[str]:
    have = set(keys_with_photos(world))
    return sorted(u.sis_user_id for u in world.students() if u.sis_user_id and u.sis_user_id not in have)


def as_heic(key: str) -> bytes:
    """The sample portrait of ``key`` re-encoded as HEIC (what an iPhone saves)."""
    return encode(Image.open(io.BytesIO(make_portrait(key, size=400))), "HEIF")


def avatar_bytes(world: World, key: str) -> bytes:
    user = world.user(key)
    (file,) = [f for f in world.sandbox.state.files(user.id)]
    assert user.avatar_url and f"/images/thumbnails/{file.id}/" in user.avatar_url
    return file.bytes


def test_heic_photo_is_uploaded_as_jpeg_and_becomes_the_avatar(world: World) -> None:
    """A user whose only photo is HEIC is planned upload/new and gets the photo as a JPEG avatar."""
    key = keys_without_photos(world)[0]
    (world.photos / f"{key}.HEIC").write_bytes(as_heic(key))
    plan = world.json("avatars", "plan")
    (row,) = [a for a in plan["actions"] if a["key"] == key]
    assert (row["action"], row["reason"], row["photo"]) == ("upload", "new", f"{key}.HEIC")
    result = world.json("avatars", "sync")
    assert result["counts"]["failed"] == 0
    image = decode(avatar_bytes(world, key))
    assert image.format == "JPEG" and image.width == image.height == 256


def test_undecodable_photo_files_fail_their_user_naming_the_format(world: World) -> None:
    """A RAW file and a garbage .heic fail their users as invalid_photo naming the format; the rest sync (exit 1)."""
    raw_key, heic_key = keys_without_photos(world)[:2]
    (world.photos / f"{raw_key}.CR2").write_bytes(b"II*\x00\x10\x00\x00\x00CR\x02\x00" + b"\x00" * 500)
    (world.photos / f"{heic_key}.heic").write_bytes(b"\x00\x00\x00\x18ftypheic" + b"\x00" * 500)
    plan = world.json("avatars", "plan")
    rows = {a["key"]: a for a in plan["actions"]}
    assert (rows[raw_key]["action"], rows[raw_key]["reason"]) == ("error", "invalid_photo")
    assert "Canon RAW (CR2)" in rows[raw_key]["message"]
    assert (rows[heic_key]["action"], rows[heic_key]["reason"]) == ("error", "invalid_photo")
    assert "HEIC/HEIF" in rows[heic_key]["message"]

    result = world.json("avatars", "sync", expect=1)
    failures = {f["key"]: f for f in result["failures"]}
    assert set(failures) == {raw_key, heic_key}
    assert all(f["reason"] == "invalid_photo" for f in failures.values())
    assert result["counts"]["uploaded"] == len(keys_with_photos(world))
    assert world.sandbox.state.files(world.user(raw_key).id) == []


def test_plan_hints_near_miss_photo_names(world: World) -> None:
    """Photos named with the wrong case, spaces or dropped zeros are listed with the user they nearly match."""
    lower, spaced = keys_without_photos(world)[:2]  # sandbox SIS ids look like S000123
    (world.photos / f"{lower.lower()}.jpg").write_bytes(make_portrait(lower))
    spaced_name = f"{spaced[0]} {int(spaced[1:])}"  # "S 123": a space, and the zeros gone
    (world.photos / f"{spaced_name}.jpg").write_bytes(make_portrait(spaced))
    (world.photos / "NOBODY.jpg").write_bytes(make_portrait("NOBODY"))

    plan = world.json("avatars", "plan")
    unmatched = {u["photo"]: u for u in plan["unmatched_photos"]}
    assert unmatched["NOBODY.jpg"] == {"photo": "NOBODY.jpg", "key": "NOBODY"}
    (hint,) = unmatched[f"{lower.lower()}.jpg"]["near_miss"]
    assert (hint["key"], hint["user_id"], hint["why"]) == (lower, str(world.user(lower).id), ["letter case"])
    assert hint["has_photo"] is False
    (hint,) = unmatched[f"{spaced_name}.jpg"]["near_miss"]
    assert (hint["key"], hint["why"]) == (spaced, ["leading zeros", "spaces or underscores"])

    table = world.cli("avatars", "plan").output
    assert f"{lower.lower()}.jpg: would match {lower} ({world.user(lower).name}) but for letter case" in table
    assert f"{spaced_name}.jpg: would match {spaced}" in table
    review = world.photos.parent / "review.html"
    world.cli("avatars", "plan", "--html", str(review))
    # The page as a browser reads it: which entity spells an escaped apostrophe is the template engine's choice.
    assert f"would match {lower} ({world.user(lower).name}) but for letter case" in html.unescape(review.read_text())
    assert not world.sandbox.state.files()  # a hint is never acted on


def test_photo_of_an_sis_id_with_a_slash_is_named_with_percent_2f(world: World) -> None:
    """A student whose SIS id is 2024/0007 gets the photo named 2024%2F0007.jpg, in a full sync and with --user."""
    students = keys_without_photos(world)
    slashed, other = world.user(students[0]), world.user(students[1])
    world.sandbox.state.set_sis_id(slashed.id, "2024/0007")
    world.sandbox.state.set_sis_id(other.id, "2024/0008")
    (world.photos / "2024%2F0007.jpg").write_bytes(make_portrait("2024/0007"))
    (world.photos / "2024%2f0008.jpg").write_bytes(make_portrait("2024/0008"))  # hex digits in either case

    plan = world.json("avatars", "plan", "--user", "2024/0007")
    assert [(a["key"], a["action"], a["photo"]) for a in plan["actions"]] == [
        ("2024/0007", "upload", "2024%2F0007.jpg")
    ]
    result = world.json("avatars", "sync")
    assert result["counts"]["failed"] == 0
    assert decode(avatar_bytes(world, "2024/0007")).format == "JPEG"
    assert decode(avatar_bytes(world, "2024/0008")).format == "JPEG"
    history = world.json("avatars", "history", "--user", "2024/0007")
    assert [r["key"] for r in history["records"]] == ["2024/0007"]


def test_slash_written_as_underscore_is_hinted(world: World) -> None:
    """A photo named 2024_0007.jpg for SIS id 2024/0007 is hinted: write the '/' as %2F."""
    student = world.user(keys_without_photos(world)[0])
    world.sandbox.state.set_sis_id(student.id, "2024/0007")
    (world.photos / "2024_0007.jpg").write_bytes(make_portrait("2024/0007"))
    plan = world.json("avatars", "plan")
    (row,) = [u for u in plan["unmatched_photos"] if u["photo"] == "2024_0007.jpg"]
    assert row["near_miss"][0]["key"] == "2024/0007"
    assert "a '/' (write it %2F in a file name)" in row["near_miss"][0]["why"]
