"""Synthetic placeholder portraits for the demo, the sandbox and the tests.

Each is plainly not a photo of anyone: a flat coloured background, a head-and-shoulders silhouette drawn with
ImageDraw, the key written underneath and "SAMPLE" across the top. The same key and variant always give the
same bytes; another variant gives another colour (a "changed photo" for tests and the demo).
"""

from __future__ import annotations

import colorsys
import hashlib
import io
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont


def make_portrait(key: str, *, size: int = 512, variant: int = 0) -> bytes:
    """A square ``size``×``size`` JPEG placeholder portrait for ``key`` (deterministic)."""
    if size < 64:
        raise ValueError(f"size must be at least 64 pixels, not {size}")
    background, figure = _colours(key, variant)
    image = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(image)
    unit = size / 16

    # Shoulders: the top half of a wide ellipse rising from the bottom edge; then the neck and the head.
    draw.ellipse((2.5 * unit, 11 * unit, 13.5 * unit, 21 * unit), fill=figure)
    draw.rectangle((7 * unit, 9 * unit, 9 * unit, 11.5 * unit), fill=figure)
    draw.ellipse((5.25 * unit, 3.5 * unit, 10.75 * unit, 10 * unit), fill=figure)

    text_colour = (255, 255, 255)
    band = (0, round(13.25 * unit), size, round(15.5 * unit))
    draw.rectangle(band, fill=_darken(background))
    _centred_text(draw, key, (band[1] + band[3]) / 2, size, round(1.3 * unit), text_colour)
    _centred_text(draw, "SAMPLE", 1.3 * unit, size, round(0.9 * unit), _darken(background))

    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, optimize=True)
    return out.getvalue()


def write_sample_photos(folder: Path, keys: Iterable[str], *, size: int = 512) -> int:
    """Write ``<key>.jpg`` placeholder portraits into ``folder`` (created if needed); returns how many."""
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    for key in keys:
        _write_atomically(folder / f"{key}.jpg", make_portrait(key, size=size))
        written += 1
    return written


def _colours(key: str, variant: int) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """A pastel background and a darker figure colour, from a stable hash (Python's hash() is salted)."""
    digest = hashlib.sha256(f"{key}\0{variant}".encode()).digest()
    hue = digest[0] / 255
    background = colorsys.hls_to_rgb(hue, 0.78, 0.55)
    figure = colorsys.hls_to_rgb((hue + 0.5) % 1.0, 0.35, 0.35)
    return _rgb(background), _rgb(figure)


def _rgb(colour: tuple[float, float, float]) -> tuple[int, int, int]:
    return (round(colour[0] * 255), round(colour[1] * 255), round(colour[2] * 255))


def _darken(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    return (colour[0] * 3 // 5, colour[1] * 3 // 5, colour[2] * 3 // 5)


def _centred_text(
    draw: ImageDraw.ImageDraw, text: str, middle_y: float, width: int, height: int, fill: tuple[int, int, int]
) -> None:
    """Draw ``text`` centred at ``middle_y``, shrunk until it fits the width."""
    # load_default(size) is Pillow's embedded font (FreeType build) or its bitmap font: no font file needed.
    font = ImageFont.load_default(size=height)
    while height > 6 and draw.textlength(text, font=font) > width * 0.92:
        height -= 2
        font = ImageFont.load_default(size=height)
    draw.text((width / 2, middle_y), text, fill=fill, font=font, anchor="mm")


def _write_atomically(path: Path, data: bytes) -> None:
    """Write next to the target then rename, so a scan running meanwhile never sees half a photo."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")  # hidden: the scan ignores it
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.chmod(temp, 0o644)  # mkstemp makes it private; a photo folder is shared with the sync account
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
