"""Photo validation and normalisation: any photo an admin drops in the folder becomes one small square JPEG.

The rules are docs/design.md §4.4: EXIF orientation applied, cut to a square (where: ``crop.py``, by the
``domain.Crop`` asked for), resized with LANCZOS (never upscaled), RGB JPEG with transparency flattened onto
white, and no metadata at all (a school must not publish a student's GPS position or camera serial number).
Everything that can be wrong with a file becomes an ``InvalidPhoto`` with a reason an admin can act on.
"""

from __future__ import annotations

import io
import os
import stat
import threading
import warnings
from typing import TYPE_CHECKING, Final

from profilesync.domain import Crop
from profilesync.photos import crop as cuts
from profilesync.photos.formats import (
    PILLOW_FORMATS,
    is_complete,
    pillow_label,
    register_decoders,
    undecodable_reason,
)

# Pillow is imported by the functions that decode: a run whose photos are all unchanged (their verdicts come
# from the fingerprint cache) reads no image, so it does not pay for loading Pillow and pillow-heif.
if TYPE_CHECKING:
    from PIL import Image

# -- thresholds ---------------------------------------------------------------------------------------------
# A 40 MB source is far beyond any school portrait (a 24-megapixel camera JPEG is ~10 MB; an uncompressed
# 50-megapixel TIFF would not fit, which is fine) and bounds the memory one scan or upload can take.
MAX_FILE_BYTES: Final = 40_000_000
# 50 megapixels decodes to at most ~200 MB (RGBA). It allows any current camera sensor and is stricter than
# Pillow's own bomb threshold (~89 MP), so our check decides whatever a caller set Image.MAX_IMAGE_PIXELS to.
MAX_PIXELS: Final = 50_000_000
# Under 32 px on the shorter side there is no recognisable face, even in Canvas's 50 px avatar circle.
MIN_SIDE: Final = 32
# A long side over 5 times the short one is a strip or a banner: a centre crop of it would not be a portrait.
MAX_ASPECT: Final = 5
# Quality 85 with optimised Huffman tables: visually lossless at avatar sizes, ~15-30 KB at 256 px.
JPEG_QUALITY: Final = 85

_ALPHA_MODES: Final = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_WIDE_MODES: Final = frozenset({"I", "F", "I;16", "I;16L", "I;16B", "I;16N"})  # more than 8 bits per sample
_CHECK_EDGE: Final = 64  # check_image decodes at this edge: the verdict does not depend on the size
# Image.open runs Pillow's decompression-bomb check, which *warns* between 1x and 2x Image.MAX_IMAGE_PIXELS.
# The warnings filter that turns it into an error is process-wide, so it is set only around Image.open (a
# header parse, microseconds) and under a lock so that two threads never interleave catch_warnings blocks.
_OPEN_LOCK = threading.Lock()
# O_NONBLOCK: should a file be (or turn into) a FIFO named like a photo, opening it must not hang the run.
OPEN_FLAGS: Final = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
NOT_A_FILE: Final = "not a regular file (a folder or a device named like a photo)"


class InvalidPhoto(ValueError):
    """The photo cannot be used; ``reason`` says why, for the admin (it becomes reason ``invalid_photo``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def read_photo(path: str | os.PathLike[str]) -> bytes:
    """The file's bytes; InvalidPhoto if unreadable, not a file, or over MAX_FILE_BYTES (then it is not read)."""
    try:
        fd = os.open(path, OPEN_FLAGS)
        with os.fdopen(fd, "rb") as stream:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise InvalidPhoto(NOT_A_FILE)
            if info.st_size > MAX_FILE_BYTES:
                raise InvalidPhoto(too_large_reason(info.st_size))
            data = stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise InvalidPhoto(unreadable_reason(exc)) from exc
    if len(data) > MAX_FILE_BYTES:  # it grew while we read it
        raise InvalidPhoto(too_large_reason(len(data)))
    return data


def too_large_reason(size: int) -> str:
    """The reason given for a file over MAX_FILE_BYTES."""
    return f"the file is too large ({size / 1e6:.1f} MB; the limit is {MAX_FILE_BYTES / 1e6:.0f} MB)"


def unreadable_reason(exc: OSError) -> str:
    """The reason given for a file the operating system would not let us read."""
    if isinstance(exc, PermissionError):
        return "the file cannot be read: permission denied (let the account running profilesync read it)"
    return f"the file cannot be read: {exc.strerror or exc}"


def check_image(data: bytes, *, name: str = "") -> str | None:
    """Why these bytes cannot become an avatar, or None when they can (used by the folder scan).

    ``name`` (the file's name) lets the reason say which format the file was meant to be.
    """
    try:
        _prepare(data, _CHECK_EDGE, name)
    except InvalidPhoto as exc:
        return exc.reason
    return None


def normalise(path_or_bytes: bytes | str | os.PathLike[str], *, size: int, crop: Crop = Crop.CENTRE) -> bytes:
    """The upload-ready JPEG: square (cut as ``crop`` says), edge min(size, shorter side), RGB, no metadata.
    Deterministic.

    Raises InvalidPhoto when the photo is empty, not an image, truncated, too large or of an absurd shape.
    """
    if size < 1:
        raise ValueError(f"size must be a positive number of pixels, not {size}")
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else read_photo(path_or_bytes)
    square = _prepare(data, size, crop=crop)
    # A fresh info dict: Pillow's JPEG writer copies a "comment" from it, and nothing else may travel along.
    square.info = {}
    out = io.BytesIO()
    square.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()


def _prepare(data: bytes, size: int, name: str = "", *, crop: Crop = Crop.CENTRE) -> Image.Image:
    """Decode, validate and square the photo: an RGB image of edge min(size, shorter side)."""
    if not data:
        raise InvalidPhoto("the file is empty (0 bytes)")
    if len(data) > MAX_FILE_BYTES:
        raise InvalidPhoto(too_large_reason(len(data)))
    image = _open(data, name)
    _check_shape(*image.size)
    try:
        # JPEG can decode at 1/2, 1/4 or 1/8 scale for free; ask for no less than the edge we need. A face cut
        # takes a part of the photo, so it asks for twice that: the head keeps its pixels (crop.py's floor).
        edge = size * 2 if crop is Crop.FACE else size
        image.draft(None, (edge, edge))
        image.load()
    except Exception as exc:  # decoders raise OSError, ValueError, SyntaxError... on damaged data
        raise InvalidPhoto(f"the {pillow_label(image.format)} image data is truncated or damaged ({exc})") from exc
    if not is_complete(image.format, data):
        raise InvalidPhoto("the image data is truncated (the file ends early; copy it again)")
    try:
        rgb = _to_rgb(_upright(image))
    except Exception as exc:  # an unusual colour mode Pillow cannot convert
        raise InvalidPhoto(f"the image's colour format ({image.mode}) cannot be converted ({exc})") from exc
    return _square(rgb, size, crop)


def _open(data: bytes, name: str) -> Image.Image:
    """Parse the header with an allowed decoder, Pillow's bomb warning counting as an error."""
    from PIL import Image, UnidentifiedImageError

    register_decoders()
    try:
        with _OPEN_LOCK, warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data), formats=PILLOW_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidPhoto(
            f"the image is too large to decode safely (over {MAX_PIXELS // 1_000_000} megapixels)"
        ) from exc
    except UnidentifiedImageError as exc:
        raise InvalidPhoto(undecodable_reason(data, name)) from exc
    except Exception as exc:  # a header so damaged the plugin itself failed
        raise InvalidPhoto(f"the image header is damaged ({exc})") from exc


def _check_shape(width: int, height: int) -> None:
    """Reject bombs and shapes no portrait has, from the header alone (before any pixel is decoded)."""
    if width * height > MAX_PIXELS:
        raise InvalidPhoto(
            f"the image is too large: {width}×{height} pixels ({width * height / 1e6:.0f} megapixels; "
            f"the limit is {MAX_PIXELS // 1_000_000})"
        )
    short, long = sorted((width, height))
    if long > MAX_ASPECT * max(short, 1):
        raise InvalidPhoto(
            f"not a portrait: {width}×{height} pixels (one side is more than {MAX_ASPECT} times the other)"
        )
    if short < MIN_SIDE:
        raise InvalidPhoto(f"the image is too small: {width}×{height} pixels (at least {MIN_SIDE} on each side)")


def _upright(image: Image.Image) -> Image.Image:
    """Apply the EXIF orientation; a photo with damaged EXIF is kept as stored rather than rejected."""
    from PIL import ImageOps

    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # malformed EXIF (bad offsets, wrong types) says nothing reliable about orientation
        return image


def _to_rgb(image: Image.Image) -> Image.Image:
    """8-bit sRGB, transparency flattened onto white."""
    icc = image.info.get("icc_profile")
    has_alpha = image.mode in _ALPHA_MODES or "transparency" in image.info
    if image.mode in _WIDE_MODES:
        image = _to_8bit(image)
    if has_alpha:
        image = image.convert("RGBA")
    elif image.mode not in ("RGB", "L", "CMYK"):
        image = image.convert("RGB")  # palette, 1-bit, YCbCr, LAB, HSV
    # Grey profiles are left out: grey to RGB is the same with or without them, and a 16-bit source's profile
    # no longer describes the rescaled data.
    if icc and image.mode != "L":
        image = _to_srgb(image, icc)
    if image.mode == "RGBA":
        from PIL import Image

        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        white.alpha_composite(image)
        image = white
    return image.convert("RGB")  # CMYK without a profile: Pillow's naive conversion is the best we know


def _to_8bit(image: Image.Image) -> Image.Image:
    """Scale 16-bit (and 32-bit / float) grey to 0-255: Pillow's convert("L") clips everything above 255."""
    if image.mode.startswith("I;16"):
        low, high = 0.0, 65535.0
    else:
        extrema = image.getextrema()  # single-band: (min, max)
        low, high = float(extrema[0]), float(extrema[1])  # type: ignore[arg-type]
        if low >= 0 and high <= 255:
            low, high = 0.0, 255.0
        elif low >= 0 and high <= 65535:
            low, high = 0.0, 65535.0
    scale = 255.0 / (high - low) if high > low else 0.0
    return image.convert("F").point(lambda v: (v - low) * scale).convert("L")


def _to_srgb(image: Image.Image, icc: bytes) -> Image.Image:
    """Convert through the embedded ICC profile (CMYK, Display P3, Adobe RGB) before it is stripped."""
    try:
        from PIL import ImageCms
    except ImportError:  # Pillow built without littlecms: colours are converted without the embedded profile
        return image
    out_mode = "RGBA" if image.mode == "RGBA" else "RGB"
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        srgb = ImageCms.createProfile("sRGB")
        converted = ImageCms.profileToProfile(image, source, srgb, outputMode=out_mode)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image  # a broken or mismatched profile: plain conversion is better than rejecting the photo
    return converted if converted is not None else image


def _square(image: Image.Image, size: int, crop: Crop) -> Image.Image:
    """Cut the square ``crop`` chooses and shrink it to ``size`` with LANCZOS (never enlarge)."""
    square = cuts.choose_square(*image.size, crop, least=size, find_faces=lambda: _faces(image))
    box = (square.left, square.top, square.right, square.bottom)
    if square.width <= size:
        return image.crop(box)
    from PIL import Image

    return image.resize((size, size), Image.Resampling.LANCZOS, box=box)


def _faces(image: Image.Image) -> list[cuts.Box] | None:
    """The faces in the photo, or None without the ``faces`` extra (its OpenCV is loaded on first use only)."""
    from profilesync.photos import faces

    return faces.detect(image)
