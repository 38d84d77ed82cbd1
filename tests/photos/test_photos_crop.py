"""Where the square is cut (issue 15 item 2): the centre, the portrait heuristic and the face-aware cut."""

from __future__ import annotations

import io
import logging
import sys

import pytest
from PIL import Image

from profilesync.domain import Crop
from profilesync.photos import crop, faces, normalise
from profilesync.photos.crop import Box, choose_square, face_square, portrait_square

from .faces import CANVAS, astronaut_face, canvas_low_left, placed_low_left, require_detector
from .imaging import encode


def no_faces() -> list[Box]:
    return []


def is_red(pixel: object) -> bool:
    """A JPEG's red: near enough (the encoder shifts a colour by a few levels)."""
    assert isinstance(pixel, tuple)
    return pixel[0] > 200 and pixel[1] < 60 and pixel[2] < 60


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_centre_is_the_default_and_unchanged() -> None:
    """Without a crop setting the square is the centred one, as in every earlier version."""
    assert crop.centre_square(300, 400) == Box(0, 50, 300, 300)
    data = encode(Image.effect_noise((300, 400), 64).convert("RGB"))
    assert normalise(data, size=128) == normalise(data, size=128, crop=Crop.CENTRE)


def test_portrait_square_of_a_tall_photo_starts_near_the_top() -> None:
    """A tall photo's square starts a fifth of the way down its spare height (centre: half)."""
    assert portrait_square(300, 400) == Box(0, 20, 300, 300)
    assert portrait_square(600, 1400) == Box(0, 160, 600, 600)


def test_portrait_square_of_a_wide_photo_is_centred_across() -> None:
    """A wide photo keeps its whole height, centred left to right; a square photo is kept whole."""
    assert portrait_square(400, 300) == Box(50, 0, 300, 300)
    assert portrait_square(256, 256) == Box(0, 0, 256, 256)


def test_portrait_cut_keeps_the_top_of_a_tall_photo() -> None:
    """The uploaded square of a tall photo with a marked top band shows that band (centre would cut it)."""
    image = Image.new("RGB", (300, 500), (255, 255, 255))
    image.paste((255, 0, 0), (0, 50, 300, 80))  # the "hair": rows 50-79, above a centred square (top 100)
    data = encode(image, "PNG")
    portrait = decoded(normalise(data, size=300, crop=Crop.PORTRAIT))
    centre = decoded(normalise(data, size=300, crop=Crop.CENTRE))
    assert is_red(portrait.getpixel((150, 25)))  # the square's top is (500 - 300) × 0.2 = 40: row 65 is red
    assert not any(is_red(centre.getpixel((150, y))) for y in range(0, 300, 5))


def test_face_square_keeps_the_head_and_is_clamped_inside() -> None:
    """The square holds the face with its hair and chin margins, is square, and never leaves the photo."""
    face = Box(10, 20, 100, 100)  # near the top-left corner: the margins would cross both edges
    square = face_square(600, 1400, face, least=64)
    assert square.width == square.height == 205  # 100 × (1 + 0.6 + 0.45)
    assert (square.left, square.top) == (0, 0)
    assert square.contains(face)


def test_face_square_is_at_least_the_avatar_size_when_the_photo_allows() -> None:
    """A small face gets a square of the avatar's edge (the upload keeps its resolution), centred on it."""
    face = Box(300, 300, 40, 40)
    square = face_square(1000, 1000, face, least=256)
    assert square.width == 256 and square.contains(crop.head_box(face))
    assert face_square(200, 300, face.scaled(0.5), least=256).width == 200  # never beyond the shorter side


def test_largest_face_wins_whatever_the_order() -> None:
    """Several faces: the largest is the portrait's subject; equal ones go to the higher, then the left."""
    small, big, twin = Box(0, 0, 50, 50), Box(200, 300, 90, 90), Box(100, 300, 90, 90)
    assert crop.largest_face([small, big]) == crop.largest_face([big, small]) == big
    assert crop.largest_face([big, twin]) == crop.largest_face([twin, big]) == twin
    assert crop.largest_face([]) is None


def test_face_cut_without_a_face_or_detector_is_the_portrait_cut() -> None:
    """No face found, or no detector installed: the face cut falls back to the portrait heuristic."""
    expected = portrait_square(600, 1400)
    assert choose_square(600, 1400, Crop.FACE, least=256, find_faces=no_faces) == expected
    assert choose_square(600, 1400, Crop.FACE, least=256, find_faces=lambda: None) == expected


def test_without_opencv_face_cut_uploads_the_portrait_cut(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """With OpenCV not importable, crop=face gives the portrait cut's bytes and says once how to get faces."""
    monkeypatch.setitem(sys.modules, "cv2", None)  # "import cv2" now raises ImportError
    monkeypatch.setattr(faces, "_loaded", [])
    data = encode(canvas_low_left())
    with caplog.at_level(logging.WARNING, logger="profilesync.photos.faces"):
        assert not faces.available()
        assert normalise(data, size=256, crop=Crop.FACE) == normalise(data, size=256, crop=Crop.PORTRAIT)
    assert [r.getMessage().count(faces.INSTALL_ADVICE) for r in caplog.records] == [1]


def test_astronaut_face_is_found_once() -> None:
    """OpenCV's cascade finds exactly the astronaut's face (the box the other tests map)."""
    require_detector()
    face = astronaut_face()
    assert 80 <= face.width <= 110 and face.width == face.height
    assert Box(150, 40, 150, 150).contains(face)  # around her face, not the flag or the helmet


@pytest.mark.parametrize("scale", [1, 3])
def test_face_cut_contains_the_whole_face_off_centre(scale: int) -> None:
    """The astronaut low-left in a tall canvas: the face cut holds her whole face; centre and portrait cut it."""
    require_detector()
    placed = placed_low_left(scale)
    width, height = CANVAS[0] * scale, CANVAS[1] * scale
    found = faces.detect(placed.image)
    square = choose_square(width, height, Crop.FACE, least=256, find_faces=lambda: found)
    assert square.width == square.height
    assert square.contains(placed.face) and square.contains(crop.head_box(placed.face)), (square, placed.face)
    assert not crop.centre_square(width, height).contains(placed.face)
    assert not portrait_square(width, height).contains(placed.face)


@pytest.mark.parametrize("scale", [1, 3])
def test_uploaded_face_cut_shows_the_face(scale: int) -> None:
    """The normalised JPEG is 256 px square and the detector finds the face in it, whole and unshrunk."""
    require_detector()
    placed = placed_low_left(scale)
    data = encode(placed.image, quality=92)
    out = decoded(normalise(data, size=256, crop=Crop.FACE))
    assert out.size == (256, 256)
    (face,) = faces.detect(out.convert("RGB")) or []
    side = max(256, crop.head_box(placed.face).height)  # the square's edge in the source: the head, or 256
    expected = placed.face.width * 256 / side
    assert abs(face.width - expected) <= 0.15 * expected, (face, expected)
    assert Box(0, 0, 256, 256).contains(face)
    assert normalise(data, size=256, crop=Crop.FACE) == normalise(data, size=256, crop=Crop.FACE)  # deterministic


def test_detector_failure_cuts_that_photo_as_a_portrait(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """OpenCV failing on one photo does not fail the upload: that photo gets the portrait cut, with a warning."""
    require_detector()
    import cv2

    class Failing:
        def detectMultiScale(self, *args: object, **kwargs: object) -> None:  # OpenCV's name
            raise cv2.error("synthetic failure")

    monkeypatch.setattr(faces, "_classifier", lambda *_: Failing())
    data = encode(canvas_low_left())
    with caplog.at_level(logging.WARNING, logger="profilesync.photos.faces"):
        assert normalise(data, size=256, crop=Crop.FACE) == normalise(data, size=256, crop=Crop.PORTRAIT)
    assert ["face detection failed" in r.getMessage() for r in caplog.records] == [True]
