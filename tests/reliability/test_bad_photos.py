"""A folder full of bad photos, end to end: each is uploaded right or failed with a reason; the run goes on.

The photo unit tests (``tests/photos``) judge each file; these prove what the *run* does with them: exit 1,
failures in the sync report, the good photos uploaded in the same run, and nobody's good avatar replaced.
"""

from __future__ import annotations

import ctypes
import io
import os
import subprocess
import sys
from typing import Any

import pytest
from PIL import Image

from support.world import World

from .conftest import MakeWorld
from .corpus import corpus, write_non_utf8_photo
from .helpers import assert_history_is_true, cli_env, expected_keys, profile_pictures


def replace_photo(world: World, key: str, ext: str, data: bytes) -> None:
    for old in world.photos.glob(f"{key}.*"):
        old.unlink()
    (world.photos / f"{key}{ext}").write_bytes(data)


def uploaded_image(world: World, key: str) -> Image.Image:
    user = world.user(key)
    # the file on display: a re-upload goes beside it under the other of our two names
    (file,) = [f for f in profile_pictures(world, user.id) if f"/images/thumbnails/{f.id}/" in (user.avatar_url or "")]
    image = Image.open(io.BytesIO(file.bytes))
    image.load()
    assert image.format == "JPEG" and image.mode == "RGB" and image.width == image.height
    assert not image.getexif() and "icc_profile" not in image.info
    return image


def test_bad_photos_fail_alone_and_keep_the_current_avatar(make: MakeWorld, tmp_path: Any) -> None:
    """Replacing synced photos with a corpus of bad and odd files: good ones upload, bad ones fail, avatars stay."""
    world = make(users=40)
    world.cli("avatars", "sync")
    keys = sorted(expected_keys(world))
    samples = corpus()
    assigned = dict(zip(samples, keys, strict=False))  # sample name → the student whose photo it replaces
    link_key = keys[len(samples)]
    before = {
        key: (world.user(key).avatar_url, [f.id for f in profile_pictures(world, world.user(key).id)]) for key in keys
    }
    for name, key in assigned.items():
        replace_photo(world, key, samples[name].ext, samples[name].data)
    outside = tmp_path / "elsewhere.jpg"
    outside.write_bytes(samples["png-named-jpg"].data)
    replace_photo(world, link_key, ".jpg", b"")
    (world.photos / f"{link_key}.jpg").unlink()
    (world.photos / f"{link_key}.jpg").symlink_to(outside)  # a link out of the folder is never followed
    write_non_utf8_photo(world.photos, b"S\xe9000099")

    result = world.json("avatars", "sync", expect=1)

    failures = {f["key"]: f for f in result["failures"]}
    bad = {key: samples[name].problem for name, key in assigned.items() if samples[name].problem}
    bad[link_key] = "outside the photo folder"
    non_utf8 = [key for key in failures if key.startswith("S\\xe9")]
    assert len(non_utf8) == 1 and "not valid UTF-8" in failures[non_utf8[0]]["message"]
    assert set(failures) == set(bad) | set(non_utf8)
    for key, fragment in bad.items():
        assert failures[key]["reason"] == "invalid_photo"
        assert fragment in failures[key]["message"], failures[key]
        user = world.user(key)  # the good avatar stays, and nothing was uploaded for this user
        assert (user.avatar_url, [f.id for f in profile_pictures(world, user.id)]) == before[key], key
    good = {name: key for name, key in assigned.items() if samples[name].problem is None}
    assert result["counts"]["uploaded"] == len(good)
    for key in good.values():
        assert world.user(key).avatar_url != before[key][0]
        assert len(profile_pictures(world, world.user(key).id)) == 2  # beside the old one, never over it
    assert_history_is_true(world)

    upright = uploaded_image(world, good["exif-rotated"])
    assert upright.getpixel((10, 100))[2] > 200 and upright.getpixel((190, 100))[0] > 200  # blue left, red right
    flattened = uploaded_image(world, good["palette-transparent"])
    assert min(flattened.getpixel((60, 60))) > 240  # transparency on white
    for name in ("png-named-jpg", "cmyk-jpeg", "png-16-bit", "animated-gif", "webp"):
        uploaded_image(world, good[name])


def _drop_file_read_override() -> None:
    """In the child, before exec: give up root's right to read any file (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_unreadable_photo_fails_that_user_with_a_clear_reason(make: MakeWorld) -> None:
    """A photo the job may not read fails its user ("permission denied"); everyone else is synced."""
    world = make(users=30)
    keys = sorted(expected_keys(world))
    locked = world.photos / f"{keys[3]}.jpg"
    locked.chmod(0o000)
    args = ["avatars", "sync", "--format", "json"]
    if os.geteuid() == 0:
        # Root reads any file: run the CLI as a root process that lost that capability (tests run as root).
        if not sys.platform.startswith("linux"):
            pytest.skip("dropping capabilities needs Linux")
        done = subprocess.run(
            [sys.executable, "-m", "profilesync.cli", *args],
            env=cli_env(world),
            cwd=world.photos.parent,
            capture_output=True,
            text=True,
            timeout=120,
            preexec_fn=_drop_file_read_override,
        )
        code, out = done.returncode, done.stdout
    else:
        ran = world.cli(*args, expect=None)
        code, out = ran.exit_code, ran.stdout
    import json

    result = json.loads(out)
    assert code == 1
    assert [(f["key"], f["reason"]) for f in result["failures"]] == [(keys[3], "invalid_photo")]
    assert "permission denied" in result["failures"][0]["message"]
    assert result["counts"]["uploaded"] == len(keys) - 1
    assert world.user(keys[3]).avatar_url is None or "/images/thumbnails/" not in world.user(keys[3]).avatar_url
