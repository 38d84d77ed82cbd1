"""Which files count as photos, which decoders may open them, and end-of-file checks Pillow may skip.

Pillow reads ``ImageFile.LOAD_TRUNCATED_IMAGES``, a process-wide flag that any library may switch on. The
checks here look for each format's end marker themselves, so a truncated upload is rejected whatever that flag
says.
"""

from __future__ import annotations

import importlib
import struct

# Decoders allowed to open a photo. Content decides the format (a PNG named .jpg is fine), but only these:
# Pillow can also open EPS (which runs Ghostscript), PSD, ICO, FITS... none of which is a school photo.
# (Multi-picture JPEGs open through the JPEG entry and come back with format "MPO".)
PILLOW_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP")
IMAGE_EXTENSIONS: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp"})


def _register_heif() -> bool:
    """Register pillow-heif's opener when it is installed (iPhones export HEIC); optional, never required."""
    try:
        module = importlib.import_module("pillow_heif")
    except ImportError:
        return False
    module.register_heif_opener()
    return True


HEIF_SUPPORTED: bool = _register_heif()
if HEIF_SUPPORTED:
    PILLOW_FORMATS = (*PILLOW_FORMATS, "HEIF")
    IMAGE_EXTENSIONS = IMAGE_EXTENSIONS | {".heic", ".heif"}

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_CHUNK_HEAD = struct.Struct(">I4s")


def png_is_complete(data: bytes) -> bool:
    """True when the PNG's chunks run, whole, up to its IEND chunk (Pillow accepts a PNG cut before IEND)."""
    pos = len(_PNG_SIGNATURE)
    while pos + _PNG_CHUNK_HEAD.size <= len(data):
        length: int = _PNG_CHUNK_HEAD.unpack_from(data, pos)[0]
        kind = data[pos + 4 : pos + 8]
        pos += _PNG_CHUNK_HEAD.size + length + 4  # chunk data, then its CRC
        if kind == b"IEND":
            return pos <= len(data)
    return False


def jpeg_is_complete(data: bytes) -> bool:
    """True when an end-of-image marker follows the first start-of-scan of the main image.

    The header segments are walked by their lengths because an EXIF thumbnail (in APP1) has its own scan and
    end marker. Inside the scan, 0xFF bytes are stuffed (FF 00), so FF D9 there really is the end marker.
    """
    pos = 2  # after SOI
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return False
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
        elif marker == 0xDA:  # start of scan: the compressed image follows
            return data.rfind(b"\xff\xd9", pos) != -1
        elif 0xD0 <= marker <= 0xD8 or marker == 0x01:  # markers without a length field
            pos += 2
        else:
            pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    return False


def webp_is_complete(data: bytes) -> bool:
    """True when the file holds as many bytes as its RIFF header announces."""
    return len(data) >= 8 and len(data) >= 8 + int.from_bytes(data[4:8], "little")


def is_complete(image_format: str | None, data: bytes) -> bool:
    """Whether the file's end marker is present, for the formats where Pillow may silently skip that check."""
    if image_format in ("JPEG", "MPO"):
        return jpeg_is_complete(data)
    if image_format == "PNG":
        return png_is_complete(data)
    if image_format == "WEBP":
        return webp_is_complete(data)
    return True
