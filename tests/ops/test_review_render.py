"""The review page really renders its pictures in a browser (headless Chromium, no network)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from ops.review_page import solid_jpeg, solid_png
from profilesync_sandbox import SandboxConfig
from support.world import World, make_world

MAGENTA = (255, 0, 255)  # every new photo: a colour the page itself never uses
GREEN = (0, 170, 0)  # one user's current avatar on Canvas
SHOWN = 128 * 128  # pixels of one picture as displayed


def chromium() -> str:
    """The Chromium binary; CI installs it (.ci/run), so there a missing browser is a failure, not a skip."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail("chromium is not installed; .ci/run installs it with apt-get install -y chromium")
    pytest.skip("needs chromium (apt-get install -y chromium)")


@pytest.fixture
def small_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    yield from make_world(tmp_path, monkeypatch, SandboxConfig(users=8))


def screenshot(browser: str, page: Path, out: Path, profile: Path) -> Image.Image:
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            f"--user-data-dir={profile}",
            "--window-size=1400,2400",
            f"--screenshot={out}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return Image.open(out).convert("RGB")


def count(image: Image.Image, colour: tuple[int, int, int], tolerance: int = 40) -> int:
    """How many pixels are within ``tolerance`` of ``colour`` on every channel (JPEG shifts colours a little)."""
    masks = [
        band.point(lambda v, c=c: 255 if abs(v - c) <= tolerance else 0)
        for band, c in zip(image.split(), colour, strict=True)
    ]
    both = ImageChops.multiply(ImageChops.multiply(masks[0], masks[1]), masks[2])
    return both.histogram()[255]


def test_chromium_renders_new_photos_and_current_avatar(small_world: World, tmp_path: Path) -> None:
    """In headless Chromium every new photo and the fetched current avatar are drawn, not broken images."""
    browser = chromium()
    world = small_world
    photos = sorted(world.photos.iterdir())
    for photo in photos:
        photo.write_bytes(solid_jpeg(MAGENTA))
    user = world.user(photos[0].stem)
    world.sandbox.state.user_sets_own_avatar(user.id, solid_png(GREEN), filename="me.png")
    page = tmp_path / "review.html"
    world.cli("avatars", "plan", "--html", str(page))

    shot = screenshot(browser, page, tmp_path / "shot.png", tmp_path / "chromium-profile")
    assert count(shot, MAGENTA) >= 0.9 * SHOWN * len(photos)
    assert count(shot, GREEN) >= 0.9 * SHOWN
