"""A folder holding every kind of bad (and tricky but good) photo: the scan never raises, each file is judged."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from PIL import Image

from profilesync.photos import normalise, scan_photos

from .imaging import encode, exif_orientation, noisy_jpeg, open_avatar, photo_bytes, png_header_only

TRUNCATED = noisy_jpeg()[:3000]
# name -> expected problem fragment, or None when the photo must normalise.
CORPUS: dict[str, tuple[bytes, str | None]] = {
    "zero.jpg": (b"", "empty"),
    "truncated.jpg": (TRUNCATED, "truncated"),
    "text.jpg": (b"Lorem ipsum, not a photo\n" * 10, "not an image"),
    "png-named.jpg": (photo_bytes(fmt="PNG"), None),
    "bomb.png": (png_header_only(9_000, 9_000), "too large"),
    "strip.png": (encode(Image.new("L", (1, 20_000)), "PNG"), "not a portrait"),
    "tiny.png": (photo_bytes((16, 16), fmt="PNG"), "too small"),
    "cmyk.jpg": (encode(Image.new("CMYK", (120, 160), (0, 255, 255, 0)), "JPEG"), None),
    "grey16.png": (encode(Image.new("I;16", (120, 160), 30000), "PNG"), None),
    "palette.png": (encode(Image.new("P", (120, 160), 0), "PNG", transparency=0), None),
    "animated.gif": (
        encode(Image.new("RGB", (90, 90)), "GIF", save_all=True, append_images=[Image.new("RGB", (90, 90))]),
        None,
    ),
    "rotated.jpg": (encode(Image.new("RGB", (200, 100)), "JPEG", exif=exif_orientation(6)), None),
    "photo.webp": (photo_bytes(fmt="WEBP"), None),
}


def test_scanning_the_bad_photo_corpus_never_raises(tmp_path: Path) -> None:
    """Every file gets a verdict: usable ones normalise to a square JPEG, the others carry a clear problem."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for name, (data, _) in CORPUS.items():
        (folder / name).write_bytes(data)
    # The file-system oddities, on top of the content ones:
    (folder / "link-out.jpg").symlink_to(tmp_path)
    (folder / "broken.jpg").symlink_to(folder / "missing.jpg")
    (folder / "dir.jpg").mkdir()
    expected = {Path(name).stem: problem for name, (_, problem) in CORPUS.items()}
    expected |= {"link-out": "outside the photo folder", "broken": "broken", "dir": "not a regular file"}
    if sys.platform == "linux":
        with open(os.path.join(os.fsencode(folder), b"bad\xe9name.jpg"), "wb") as file:
            file.write(photo_bytes())
        expected["bad\\xe9name"] = "not valid UTF-8"

    photos = scan_photos(folder, fold_key=str, cache={}).photos.photos

    assert sorted(photos) == sorted(expected)
    for key, fragment in expected.items():
        photo = photos[key]
        if fragment is None:
            assert photo.problem is None, (key, photo.problem)
            data = normalise(photo.path, size=64)
            with Image.open(photo.path) as original:  # closed: warnings are errors, ResourceWarning included
                open_avatar(data, min(64, *original.size))
        else:
            assert photo.problem is not None and fragment in photo.problem, (key, photo.problem)


def test_corpus_problems_read_as_sentences_for_an_admin() -> None:
    """Problem strings are short, start lower-case (they follow "invalid photo: ") and name no Python type."""
    from profilesync.photos import check_image

    for name, (data, fragment) in CORPUS.items():
        problem = check_image(data)
        if fragment is None:
            continue
        assert problem is not None, name
        assert problem[0].islower() and len(problem) < 200, problem
        for jargon in ("Error", "Traceback", "PIL", "<class"):
            assert jargon not in problem, problem


@pytest.mark.parametrize("name", [n for n, (_, f) in CORPUS.items() if f is None])
def test_usable_corpus_photos_are_deterministic(name: str) -> None:
    """Each usable corpus photo normalises to the same bytes twice."""
    data = CORPUS[name][0]
    assert normalise(data, size=64) == normalise(data, size=64)
