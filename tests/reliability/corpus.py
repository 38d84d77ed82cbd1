"""Bad (and tricky but good) photos, generated in code, for the end-to-end bad-photo runs."""

from __future__ import annotations

import io
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

RED = (255, 0, 0)
BLUE = (0, 0, 255)


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def bomb_png(width: int = 12_000, height: int = 12_000) -> bytes:
    """A few hundred bytes claiming 144 megapixels: a decompression bomb's header."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def rotated_jpeg() -> bytes:
    """Stored 300×200, red on top and blue below, with EXIF orientation 6: upright it is red right, blue left."""
    image = Image.new("RGB", (300, 200), BLUE)
    image.paste(RED, (0, 0, 300, 100))
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(image, "JPEG", exif=exif, quality=95)


def truncated_jpeg() -> bytes:
    return encode(Image.effect_noise((400, 400), 64).convert("RGB"), "JPEG")[:3000]


@dataclass(frozen=True)
class Sample:
    """One corpus file: its extension, its bytes, and the reason fragment expected (None: it must upload)."""

    ext: str
    data: bytes
    problem: str | None


def corpus() -> dict[str, Sample]:
    """name → sample; every file a student's photo could be replaced by."""
    animated = [Image.new("RGB", (90, 90), colour) for colour in (RED, BLUE)]
    return {
        "zero-bytes": Sample(".jpg", b"", "empty"),
        "truncated-jpeg": Sample(".jpg", truncated_jpeg(), "truncated"),
        "text-named-jpg": Sample(".jpg", b"Lorem ipsum, not a photo at all\n" * 20, "not an image"),
        "png-named-jpg": Sample(".jpg", encode(Image.new("RGB", (200, 240), RED), "PNG"), None),
        "decompression-bomb": Sample(".png", bomb_png(), "too large"),
        "strip-1x20000": Sample(".png", encode(Image.new("L", (1, 20_000), 128), "PNG"), "not a portrait"),
        "cmyk-jpeg": Sample(".jpg", encode(Image.new("CMYK", (120, 160), (0, 255, 255, 0)), "JPEG"), None),
        "png-16-bit": Sample(".png", encode(Image.new("I;16", (120, 160), 30_000), "PNG"), None),
        "palette-transparent": Sample(".png", encode(Image.new("P", (120, 160), 0), "PNG", transparency=0), None),
        "animated-gif": Sample(".gif", encode(animated[0], "GIF", save_all=True, append_images=animated[1:]), None),
        "exif-rotated": Sample(".jpg", rotated_jpeg(), None),
        "webp": Sample(".webp", encode(Image.new("RGB", (160, 160), BLUE), "WEBP"), None),
    }


def write_non_utf8_photo(folder: Path, stem: bytes) -> None:
    """A valid JPEG whose file name holds a byte that is not UTF-8 (a Latin-1 export from an old SIS)."""
    with open(os.path.join(os.fsencode(folder), stem + b".jpg"), "wb") as file:
        file.write(encode(Image.new("RGB", (100, 100), RED), "JPEG"))
