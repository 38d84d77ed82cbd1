"""Which files count as photos, which decoders may open them, and end-of-file checks Pillow may skip.

Pillow reads ``ImageFile.LOAD_TRUNCATED_IMAGES``, a process-wide flag that any library may switch on. The
checks here look for each format's end marker themselves, so a truncated upload is rejected whatever that flag
says.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import struct
from collections.abc import Mapping
from typing import Final

# Decoders allowed to open a photo. Content decides the format (a PNG named .jpg is fine), but only these:
# Pillow can also open EPS (which runs Ghostscript), PSD, ICO, FITS... none of which is a school photo.
# (Multi-picture JPEGs open through the JPEG entry and come back with format "MPO".)
PILLOW_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP")
# .jfif and .jpe are what Windows and some browsers name a downloaded JPEG.
IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp"}
)
HEIF_EXTENSIONS: Final = frozenset({".heic", ".heif", ".hif"})

#: Photo files profilesync cannot decode, by extension, with the name an admin knows them by. Such a file is
#: reported as invalid_photo naming its format (never read: a RAW file is 20-80 MB), unless a decodable photo
#: has the same name, which is then the one used (a photographer often delivers RAW + JPEG pairs).
#: Camera RAW and DNG files hold only a small embedded preview that Pillow might open as TIFF: never used.
UNDECODABLE_EXTENSIONS: dict[str, str] = {
    ".raw": "camera RAW",
    ".dng": "DNG (camera RAW)",
    ".cr2": "Canon RAW (CR2)",
    ".cr3": "Canon RAW (CR3)",
    ".crw": "Canon RAW (CRW)",
    ".nef": "Nikon RAW (NEF)",
    ".nrw": "Nikon RAW (NRW)",
    ".arw": "Sony RAW (ARW)",
    ".srf": "Sony RAW (SRF)",
    ".sr2": "Sony RAW (SR2)",
    ".orf": "Olympus RAW (ORF)",
    ".rw2": "Panasonic RAW (RW2)",
    ".raf": "Fujifilm RAW (RAF)",
    ".pef": "Pentax RAW (PEF)",
    ".srw": "Samsung RAW (SRW)",
    ".x3f": "Sigma RAW (X3F)",
    ".jxl": "JPEG XL",
    ".jp2": "JPEG 2000",
    ".j2k": "JPEG 2000",
    ".psd": "Photoshop (PSD)",
    ".svg": "SVG drawing",
}


def _installed(module: str) -> bool:
    """Whether a decoder module is installed, found without importing it: loading pillow-heif and Pillow costs
    start-up time that a run reading no photo (all unchanged) should not pay. One present but unloadable
    fails when a photo is decoded, and that photo is reported invalid_photo like any undecodable one."""
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # the parent package itself is missing
        return False


# pillow-heif (iPhones save HEIC by default) is a dependency; should an install lack it anyway, HEIC photos are
# reported as invalid_photo naming the format instead of failing the run.
HEIF_SUPPORTED: bool = _installed("pillow_heif")
if HEIF_SUPPORTED:
    PILLOW_FORMATS = (*PILLOW_FORMATS, "HEIF")
    IMAGE_EXTENSIONS = IMAGE_EXTENSIONS | HEIF_EXTENSIONS
else:
    UNDECODABLE_EXTENSIONS.update(dict.fromkeys(HEIF_EXTENSIONS, "HEIC/HEIF (the pillow-heif package is missing)"))
# Pillow decodes AVIF itself when built with libavif (its wheels are, since 11.3); pillow-heif 1.x left it to Pillow.
AVIF_SUPPORTED: bool = _installed("PIL._avif")  # the module PIL.features.check("avif") imports
if AVIF_SUPPORTED:
    PILLOW_FORMATS = (*PILLOW_FORMATS, "AVIF")
    IMAGE_EXTENSIONS = IMAGE_EXTENSIONS | {".avif"}
else:
    UNDECODABLE_EXTENSIONS[".avif"] = "AVIF (this Pillow was built without AVIF support)"


@functools.cache
def register_decoders() -> None:
    """Register pillow-heif's opener with Pillow: once, before the first photo is decoded."""
    if HEIF_SUPPORTED:
        importlib.import_module("pillow_heif").register_heif_opener()


#: Format names by file signature, to say what a file that fails to decode was meant to be.
_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\xff\xd8\xff", "JPEG"),
    (0, b"\x89PNG\r\n\x1a\n", "PNG"),
    (0, b"GIF87a", "GIF"),
    (0, b"GIF89a", "GIF"),
    (0, b"8BPS", "Photoshop (PSD)"),
    (0, b"\xff\x0a", "JPEG XL"),
    (4, b"JXL \r\n\x87\n", "JPEG XL"),
    (4, b"jP  \r\n\x87\n", "JPEG 2000"),
    (0, b"\xff\x4f\xff\x51", "JPEG 2000"),
    (0, b"FUJIFILMCCD-RAW", "Fujifilm RAW (RAF)"),
    (0, b"IIRO", "Olympus RAW (ORF)"),
    (0, b"IIRS", "Olympus RAW (ORF)"),
    (0, b"IIU\x00", "Panasonic RAW (RW2)"),
    (0, b"II*\x00\x10\x00\x00\x00CR", "Canon RAW (CR2)"),
    (0, b"II*\x00", "TIFF"),
    (0, b"MM\x00*", "TIFF"),
    (0, b"BM", "BMP"),
)
# ISO base media files ("....ftyp<brand>"): HEIF, AVIF and Canon's CR3 differ by their brand.
_FTYP_BRANDS: Mapping[bytes, str] = {
    **dict.fromkeys((b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"), "HEIC/HEIF"),
    b"avif": "AVIF",
    b"avis": "AVIF",
    b"crx ": "Canon RAW (CR3)",
}
#: bytes a file's start must hold for ``sniff`` to name every format above
SNIFF_BYTES: Final = 32


def sniff(head: bytes) -> str | None:
    """The image format a file's first bytes announce (whether or not we can decode it), or None."""
    if head[4:8] == b"ftyp":
        return _FTYP_BRANDS.get(head[8:12])
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    for offset, signature, name in _SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            return name
    return None


_EXTENSION_LABELS: Final = {
    **dict.fromkeys((".jpg", ".jpeg", ".jpe", ".jfif"), "JPEG"),
    **dict.fromkeys((".tif", ".tiff"), "TIFF"),
    **dict.fromkeys(HEIF_EXTENSIONS, "HEIC/HEIF"),
    ".webp": "WebP",
}


def format_label(extension: str) -> str:
    """How to name a file's format from its extension alone ("HEIC/HEIF", "Canon RAW (CR2)")."""
    ext = extension.lower()
    return UNDECODABLE_EXTENSIONS.get(ext) or _EXTENSION_LABELS.get(ext) or ext.lstrip(".").upper()


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


# Sniffed names of the formats PILLOW_FORMATS decodes.
_DECODABLE_LABELS: Final = frozenset(
    {"JPEG", "PNG", "GIF", "BMP", "TIFF", "WebP"}
    | ({"HEIC/HEIF"} if HEIF_SUPPORTED else set())
    | ({"AVIF"} if AVIF_SUPPORTED else set())
)
#: Pillow's format names as an admin knows them
_PILLOW_LABELS: Final = {"HEIF": "HEIC/HEIF", "MPO": "JPEG", "WEBP": "WebP"}


def pillow_label(image_format: str | None) -> str:
    """Pillow's name of a decoded format, as the admin knows it ("HEIF" → "HEIC/HEIF")."""
    return _PILLOW_LABELS.get(image_format or "", image_format or "image")


def undecodable_reason(data: bytes, name: str = "") -> str:
    """Why no allowed decoder recognised the file, naming the format its content or its name announces."""
    supported = ", ".join(pillow_label(f) for f in PILLOW_FORMATS)
    found = sniff(data[:SNIFF_BYTES])
    if found in _DECODABLE_LABELS:
        return f"the file starts like a {found} image but cannot be decoded: it is damaged (export or copy it again)"
    if found is not None:
        return f"a {found} image, a format profilesync cannot read: save it as JPEG or PNG (read: {supported})"
    ext = name.rpartition(".")[2].lower() if "." in name else ""
    if ext:
        label = format_label(f".{ext}")
        return (
            f"not an image, or not a supported format: the file is named .{ext} but its content is not a {label} "
            f"image (read: {supported})"
        )
    return f"not an image, or not a supported format ({supported})"


def unsupported_reason(extension: str) -> str:
    """The reason given, unread, for a file whose extension names a photo format profilesync cannot decode."""
    return f"a {format_label(extension)} file, a format profilesync cannot read: save it as JPEG or PNG"
