"""PROFILESYNC_CROP end to end: the real CLI against the sandbox Canvas uploads the cut the review page shows."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from ops.review_page import data_uri_bytes
from profilesync.domain import Crop
from profilesync.photos import faces, normalise
from profilesync.photos.crop import Box
from profilesync_sandbox import SandboxConfig
from support.world import World, decode, make_world

from .faces import canvas_low_left, placed_low_left, require_detector
from .imaging import encode


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """A small sandbox (12 users) with photos for 5/6 of its students."""
    yield from make_world(tmp_path, monkeypatch, SandboxConfig(users=12, request_cost=0.0))


def uploaded(world: World, key: str) -> Image.Image:
    """The avatar the sandbox Canvas now shows for ``key``, decoded from the bytes it received."""
    user = world.user(key)
    (file,) = world.sandbox.state.files(user.id)
    assert user.avatar_url and f"/images/thumbnails/{file.id}/" in user.avatar_url
    return decode(file.bytes)


def reviewed(world: World, key: str) -> bytes:
    """The new photo ``avatars plan --html`` embeds for ``key``."""
    path = world.photos.parent / "review.html"
    world.cli("avatars", "plan", "--html", str(path))
    text = path.read_text(encoding="utf-8")
    row = re.search(rf'<tr class="change" data-key="{re.escape(key)}">(.*?)</tr>', text, re.S)
    assert row is not None, f"no row for {key}"
    (src,) = re.findall(r'<img class="new[^"]*" src="([^"]+)"', row.group(1))
    return data_uri_bytes(src)


def test_face_crop_uploads_the_face_the_review_page_showed(world: World) -> None:
    """crop=face: a face low-left in a tall photo is uploaded whole, byte for byte what the review page showed."""
    require_detector()
    key = world.students()[0].sis_user_id
    assert key
    placed = placed_low_left()
    (world.photos / f"{key}.jpg").write_bytes(encode(placed.image, quality=92))
    world.extra_env["PROFILESYNC_CROP"] = "face"
    shown = reviewed(world, key)

    result = world.json("avatars", "sync")
    assert result["counts"]["failed"] == 0
    avatar = uploaded(world, key)
    assert avatar.size == (256, 256)
    (face,) = faces.detect(avatar.convert("RGB")) or []
    assert Box(0, 0, 256, 256).contains(face)
    assert abs(face.width - placed.face.width) <= 0.15 * placed.face.width  # whole and unshrunk: 256 of 600
    user = world.user(key)
    assert world.sandbox.state.files(user.id)[0].bytes == shown


@pytest.mark.parametrize(
    ("setting", "cut"),
    [(None, Crop.CENTRE), ("centre", Crop.CENTRE), ("Center", Crop.CENTRE), ("portrait", Crop.PORTRAIT)],
)
def test_crop_setting_decides_the_uploaded_square(world: World, setting: str | None, cut: Crop) -> None:
    """Unset (the default) or centre uploads the centred square as before; portrait the upper one."""
    key = world.students()[0].sis_user_id
    assert key
    data = encode(canvas_low_left(), "PNG")
    (world.photos / f"{key}.png").write_bytes(data)
    (world.photos / f"{key}.jpg").unlink()
    if setting is not None:
        world.extra_env["PROFILESYNC_CROP"] = setting
    world.json("avatars", "sync")
    (file,) = world.sandbox.state.files(world.user(key).id)
    assert file.bytes == normalise(data, size=256, crop=cut)
    others = {normalise(data, size=256, crop=c) for c in (Crop.CENTRE, Crop.PORTRAIT) if c is not cut}
    assert file.bytes not in others


def test_doctor_warns_when_face_cut_has_no_detector(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """crop=face without OpenCV: doctor's photo line says photos are cut as portraits and how to install it."""
    monkeypatch.setitem(sys.modules, "cv2", None)  # "import cv2" now raises ImportError
    monkeypatch.setattr(faces, "_loaded", [])
    world.extra_env["PROFILESYNC_CROP"] = "face"
    output = world.cli("doctor", expect=0).stdout
    assert "PROFILESYNC_CROP=face but no face detector is installed (photos are cut as portraits)" in output
    assert faces.INSTALL_ADVICE in output
    world.extra_env["PROFILESYNC_CROP"] = "portrait"
    assert "face detector" not in world.cli("doctor", expect=0).stdout
