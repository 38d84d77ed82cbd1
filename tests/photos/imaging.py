"""Photos generated in code for the photo tests (nothing binary is committed under tests/)."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

from PIL import Image

from profilesync.photos.formats import register_decoders

RED = (255, 0, 0)
GREEN = (0, 255, 0)
BLUE = (0, 0, 255)
YELLOW = (255, 255, 0)
WHITE = (255, 255, 255)
# Metadata markers that must never reach an uploaded avatar.
METADATA_KEYS = ("exif", "icc_profile", "comment", "xmp", "XML:com.adobe.xmp", "dpi", "photoshop", "adobe")


def encode(image: Image.Image, fmt: str = "JPEG", **params: object) -> bytes:
    """The image saved in ``fmt`` as bytes."""
    register_decoders()  # HEIF is written by pillow-heif's plugin, registered before profilesync's first decode
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def photo_bytes(size: tuple[int, int] = (300, 400), colour: tuple[int, int, int] = RED, fmt: str = "JPEG") -> bytes:
    """A plain, valid photo."""
    return encode(Image.new("RGB", size, colour), fmt)


def noisy_jpeg(size: tuple[int, int] = (400, 400)) -> bytes:
    """A JPEG with real entropy-coded data (a flat colour compresses to almost nothing to truncate)."""
    return encode(Image.effect_noise(size, 64).convert("RGB"), "JPEG")


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    """One PNG chunk with its CRC."""
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims ``width``×``height`` but holds almost no data: a bomb's header."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grey
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + png_chunk(b"IEND", b"")
    )


def write(folder: Path, name: str, data: bytes) -> Path:
    """Write ``data`` as ``folder/name``."""
    path = folder / name
    path.write_bytes(data)
    return path


def open_avatar(data: bytes, edge: int) -> Image.Image:
    """Open normalise()'s output, asserting the upload contract: square JPEG, RGB, ``edge`` px, no metadata."""
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.format == "JPEG"
    assert image.mode == "RGB"
    assert image.size == (edge, edge)
    assert not [key for key in METADATA_KEYS if key in image.info], image.info
    assert not image.getexif()
    return image


def close_to(actual: object, expected: tuple[int, int, int], tolerance: int = 40) -> bool:
    """Whether an RGB pixel is within ``tolerance`` of ``expected`` on every channel (JPEG is lossy)."""
    assert isinstance(actual, tuple)
    return all(abs(int(a) - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def exif_orientation(value: int) -> Image.Exif:
    """An EXIF block holding only the orientation tag."""
    exif = Image.Exif()
    exif[0x0112] = value
    return exif
