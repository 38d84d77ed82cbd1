"""A real face for the crop tests: scikit-image's bundled astronaut (Eileen Collins, NASA, public domain),
placed off-centre in a tall white canvas, and OpenCV's own box for it (the ``faces`` extra)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache

import pytest
from PIL import Image

from profilesync.photos.crop import Box

CANVAS = (600, 1400)  # a tall "portrait" whose face is far from where a centred or upper square would cut


def require_detector() -> None:
    """Skip without the ``faces`` extra, except under CI, which installs it (``.[test]``): there it must run."""
    from profilesync.photos import faces

    if faces.available():
        return
    if os.environ.get("CI") == "true":
        pytest.fail("OpenCV with its face cascade is part of the test extra; CI must have it")
    pytest.skip(f"needs the faces extra ({faces.INSTALL_ADVICE})")


@cache
def astronaut() -> Image.Image:
    """The 512×512 RGB astronaut that ships inside scikit-image's wheel (read from disk, no download)."""
    from skimage import data

    return Image.fromarray(data.astronaut())


@dataclass(frozen=True)
class Placed:
    """The astronaut in a tall canvas, and where her face is in it."""

    image: Image.Image
    face: Box  # the detector's box on the original astronaut, mapped into the canvas


def astronaut_face() -> Box:
    """The detector's face box on the original 512×512 astronaut (exactly one face is found)."""
    from profilesync.photos import faces

    found = faces.detect(astronaut())
    assert found is not None and len(found) == 1, found
    return found[0]


def canvas_low_left(scale: int = 1) -> Image.Image:
    """The astronaut in the lower-left corner of a CANVAS-sized white canvas (everything times ``scale``)."""
    picture = astronaut().resize((512 * scale, 512 * scale), Image.Resampling.LANCZOS) if scale > 1 else astronaut()
    canvas = Image.new("RGB", (CANVAS[0] * scale, CANVAS[1] * scale), (255, 255, 255))
    canvas.paste(picture, (0, canvas.height - picture.height))
    return canvas


def placed_low_left(scale: int = 1) -> Placed:
    """canvas_low_left, with the face box the detector found on the original astronaut mapped into it."""
    canvas = canvas_low_left(scale)
    face = astronaut_face().scaled(scale)
    return Placed(canvas, Box(face.left, face.top + canvas.height - 512 * scale, face.width, face.height))
