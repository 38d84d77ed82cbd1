"""normalise() and check_image(): what becomes an avatar, and what is refused with which reason."""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import pytest
from PIL import Image, ImageCms, ImageFile
from PIL.ExifTags import IFD

from profilesync.photos import MAX_FILE_BYTES, InvalidPhoto, check_image, normalise

from .imaging import (
    BLUE,
    GREEN,
    RED,
    WHITE,
    YELLOW,
    close_to,
    encode,
    noisy_jpeg,
    open_avatar,
    photo_bytes,
    png_header_only,
)

# -- what comes out -------------------------------------------------------------------------------------------


def test_large_photo_becomes_square_jpeg_of_requested_edge() -> None:
    """A 600×800 photo becomes a 256×256 RGB JPEG."""
    open_avatar(normalise(photo_bytes((600, 800)), size=256), 256)


def test_small_photo_is_never_upscaled() -> None:
    """A 100×150 photo becomes 100×100, not 256×256."""
    open_avatar(normalise(photo_bytes((100, 150)), size=256), 100)


def test_crop_keeps_the_centre() -> None:
    """Of a 300×100 image in red|green|blue thirds, only the green centre is kept."""
    image = Image.new("RGB", (300, 100), RED)
    image.paste(GREEN, (100, 0, 200, 100))
    image.paste(BLUE, (200, 0, 300, 100))
    out = open_avatar(normalise(encode(image, "PNG"), size=50), 50)
    assert all(close_to(out.getpixel(xy), GREEN) for xy in [(2, 25), (25, 25), (47, 25)])


def test_same_bytes_give_same_output() -> None:
    """Normalisation is deterministic."""
    data = noisy_jpeg((500, 700))
    assert normalise(data, size=256) == normalise(data, size=256)


def test_path_and_bytes_give_same_output(tmp_path: Path) -> None:
    """normalise() reads a path the same as it takes bytes."""
    data = photo_bytes()
    (tmp_path / "S1.jpg").write_bytes(data)
    assert normalise(tmp_path / "S1.jpg", size=128) == normalise(data, size=128)


def test_every_kind_of_metadata_is_stripped() -> None:
    """EXIF (camera, GPS), ICC, comment and XMP are all gone from the output."""
    exif = Image.Exif()
    exif[0x010F] = "SecretCamMaker"  # Make
    gps = exif.get_ifd(IFD.GPSInfo)
    gps[1] = "N"
    gps[2] = (51.0, 30.0, 12.0)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/">SecretXmp</x:xmpmeta>'
    source = encode(
        Image.new("RGB", (300, 300), RED), "JPEG", exif=exif, icc_profile=icc, comment=b"SecretNote", xmp=xmp
    )
    assert Image.open(io.BytesIO(source)).getexif().get_ifd(IFD.GPSInfo)  # the fixture really carries GPS
    out = normalise(source, size=256)
    open_avatar(out, 256)
    for marker in (b"Exif\0", b"ICC_PROFILE", b"SecretCamMaker", b"SecretNote", b"SecretXmp", b"adobe:ns:meta"):
        assert marker not in out


def test_png_text_chunks_are_stripped() -> None:
    """A PNG's text chunks do not travel into the JPEG."""
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Author", "SecretAuthor")
    out = normalise(encode(Image.new("RGB", (100, 100), RED), "PNG", pnginfo=info), size=64)
    assert b"SecretAuthor" not in out


def test_exif_orientation_is_applied() -> None:
    """A landscape stored with orientation 6 (rotate 90° clockwise) comes out upright, quadrants in place."""
    stored = Image.new("RGB", (200, 100))
    stored.paste(RED, (0, 0, 100, 50))  # top-left
    stored.paste(GREEN, (100, 0, 200, 50))  # top-right
    stored.paste(BLUE, (0, 50, 100, 100))  # bottom-left
    stored.paste(YELLOW, (100, 50, 200, 100))  # bottom-right
    exif = Image.Exif()
    exif[0x0112] = 6
    out = open_avatar(normalise(encode(stored, "JPEG", exif=exif, quality=95), size=256), 100)
    # Upright it is 100×200: top half blue|red, bottom half yellow|green; the centre square shows all four.
    assert close_to(out.getpixel((25, 25)), BLUE)
    assert close_to(out.getpixel((75, 25)), RED)
    assert close_to(out.getpixel((25, 75)), YELLOW)
    assert close_to(out.getpixel((75, 75)), GREEN)


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_damaged_exif_does_not_reject_the_photo() -> None:
    """An EXIF block that cannot be parsed is ignored: the photo is used as stored."""
    good = photo_bytes((200, 200))
    app1 = b"Exif\x00\x00MM\x00*\xff\xff"  # a TIFF header cut off in its first IFD offset
    broken = good[:2] + b"\xff\xe1" + (len(app1) + 2).to_bytes(2, "big") + app1 + good[2:]
    assert Image.open(io.BytesIO(broken)).size == (200, 200)
    open_avatar(normalise(broken, size=128), 128)


def test_png_named_jpg_is_accepted() -> None:
    """Content decides the format, not the name: PNG bytes normalise fine (and check clean)."""
    data = photo_bytes(fmt="PNG")
    assert check_image(data) is None
    open_avatar(normalise(data, size=256), 256)


@pytest.mark.parametrize("fmt", ["PNG", "GIF", "BMP", "TIFF", "WEBP"])
def test_other_supported_formats_are_accepted(fmt: str) -> None:
    """PNG, GIF, BMP, TIFF and WEBP photos all normalise."""
    out = open_avatar(normalise(photo_bytes((120, 160), RED, fmt), size=256), 120)
    assert close_to(out.getpixel((60, 60)), RED)


def test_webp_with_alpha_is_flattened() -> None:
    """A transparent WEBP comes out white where it was transparent."""
    image = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    image.paste((255, 0, 0, 255), (0, 0, 50, 100))
    out = open_avatar(normalise(encode(image, "WEBP", lossless=True), size=256), 100)
    assert close_to(out.getpixel((25, 50)), RED)
    assert close_to(out.getpixel((75, 50)), WHITE, 10)


def test_cmyk_jpeg_is_converted_to_rgb() -> None:
    """A CMYK JPEG (print workflows) comes out RGB with the right colour."""
    source = encode(Image.new("CMYK", (100, 100), (0, 255, 255, 0)), "JPEG")
    assert Image.open(io.BytesIO(source)).mode == "CMYK"
    out = open_avatar(normalise(source, size=64), 64)
    assert close_to(out.getpixel((32, 32)), RED)


def test_rgb_with_icc_profile_keeps_its_colour() -> None:
    """An embedded sRGB profile is applied then dropped: the colour survives, the profile does not."""
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = open_avatar(normalise(encode(Image.new("RGB", (80, 80), BLUE), "PNG", icc_profile=icc), size=64), 64)
    assert close_to(out.getpixel((32, 32)), BLUE)


def test_16bit_grey_png_is_scaled_not_clipped() -> None:
    """A 16-bit grey PNG at 40000/65535 comes out mid-grey (~155), not clipped to white."""
    source = encode(Image.new("I;16", (64, 64), 40000), "PNG")
    assert Image.open(io.BytesIO(source)).mode.startswith("I;16")
    out = open_avatar(normalise(source, size=64), 64)
    assert close_to(out.getpixel((32, 32)), (155, 155, 155), 4)


def test_one_bit_image_is_converted() -> None:
    """A 1-bit black-and-white image normalises."""
    image = Image.new("1", (64, 64), 1)
    out = open_avatar(normalise(encode(image, "PNG"), size=64), 64)
    assert close_to(out.getpixel((32, 32)), WHITE, 4)


def test_palette_png_transparency_is_flattened_onto_white() -> None:
    """A palette PNG whose transparent index covers half the image comes out white there."""
    image = Image.new("P", (100, 100), 0)
    image.putpalette([0, 0, 0, *RED] + [0] * 762)
    image.paste(1, (0, 0, 50, 100))
    source = encode(image, "PNG", transparency=0)
    out = open_avatar(normalise(source, size=100), 100)
    assert close_to(out.getpixel((25, 50)), RED)
    assert close_to(out.getpixel((75, 50)), WHITE, 10)  # black underneath, but transparent


def test_rgba_and_la_transparency_is_flattened_onto_white() -> None:
    """Fully transparent RGBA and LA pixels come out white (their hidden colour is black)."""
    for image in (Image.new("RGBA", (64, 64), (0, 0, 0, 0)), Image.new("LA", (64, 64), (0, 0))):
        out = open_avatar(normalise(encode(image, "PNG"), size=64), 64)
        assert close_to(out.getpixel((32, 32)), WHITE, 4)


def test_animated_gif_uses_first_frame() -> None:
    """An animated GIF (red, green, blue frames) comes out red."""
    frames = [Image.new("RGB", (80, 80), colour) for colour in (RED, GREEN, BLUE)]
    source = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert getattr(Image.open(io.BytesIO(source)), "n_frames", 1) == 3
    out = open_avatar(normalise(source, size=64), 64)
    assert close_to(out.getpixel((32, 32)), RED)


# -- what is refused ---------------------------------------------------------------------------------------------


def reason(data: bytes) -> str:
    """The InvalidPhoto reason normalise() gives (and check that check_image() gives the same)."""
    with pytest.raises(InvalidPhoto) as caught:
        normalise(data, size=256)
    assert check_image(data) == caught.value.reason
    return caught.value.reason


def test_invalid_photo_is_a_value_error_with_reason() -> None:
    """InvalidPhoto subclasses ValueError and carries the reason."""
    error = InvalidPhoto("the file is empty")
    assert isinstance(error, ValueError)
    assert error.reason == str(error) == "the file is empty"


def test_empty_file_is_refused() -> None:
    """Zero bytes: "empty"."""
    assert "empty" in reason(b"")


def test_text_named_jpg_is_refused() -> None:
    """A text file is "not an image"."""
    assert "not an image" in reason(b"This is a school photo, honest.\n" * 20)


def test_unsupported_format_is_refused() -> None:
    """An image format outside the allowed list (ICO here) is refused, not decoded."""
    assert "not a supported format" in reason(encode(Image.new("RGB", (64, 64), RED), "ICO"))


def test_truncated_jpeg_is_refused() -> None:
    """Half a JPEG is "truncated"."""
    data = noisy_jpeg()
    assert "truncated" in reason(data[: len(data) // 2])


def test_truncated_png_is_refused() -> None:
    """Half a PNG is "truncated"."""
    data = encode(Image.effect_noise((300, 300), 64), "PNG")
    assert "truncated" in reason(data[: len(data) // 2])


def test_truncation_is_caught_even_when_pillow_is_told_to_load_truncated_images(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another library switching on ImageFile.LOAD_TRUNCATED_IMAGES does not let a cut JPEG or PNG through."""
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    jpeg = noisy_jpeg()
    png = encode(Image.effect_noise((300, 300), 64), "PNG")
    assert "truncated" in reason(jpeg[: len(jpeg) // 2])
    assert "truncated" in reason(png[: len(png) // 2])
    assert "truncated" in reason(png[:-12])  # only the IEND chunk missing


def test_jpeg_missing_only_its_end_marker_is_refused() -> None:
    """A JPEG cut just before its end marker is "truncated"."""
    assert "truncated" in reason(noisy_jpeg()[:-2])


def test_decompression_bomb_is_refused_from_its_header() -> None:
    """A 60-megapixel PNG is "too large" before any pixel is decoded (the data is not even there)."""
    assert "too large" in reason(png_header_only(10_000, 6_000))


@pytest.mark.parametrize("pixels", [(12_000, 12_000), (20_000, 20_000)], ids=["pillow-warns", "pillow-errors"])
def test_bombs_past_pillows_limits_are_refused_without_warnings(pixels: tuple[int, int]) -> None:
    """Past Pillow's own warning (89 MP) and error (179 MP) limits: a refusal, no warning leaks out."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert "too large" in reason(png_header_only(*pixels))
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]


def test_bomb_limit_holds_when_pillows_limit_is_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Our 50-megapixel limit does not depend on Image.MAX_IMAGE_PIXELS."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    assert "too large" in reason(png_header_only(20_000, 20_000))


def test_bomb_check_leaves_global_warning_filters_alone() -> None:
    """The warnings filter used around Image.open is removed afterwards."""
    before = list(warnings.filters)
    reason(png_header_only(12_000, 12_000))
    assert warnings.filters == before


def test_file_over_size_limit_is_refused() -> None:
    """More than 40 MB of bytes is "too large" (before decoding)."""
    assert "too large" in reason(b"\xff\xd8" + bytes(MAX_FILE_BYTES))


def test_pixel_strip_is_refused_as_not_a_portrait() -> None:
    """A 1×20000 strip is "not a portrait"."""
    assert "not a portrait" in reason(encode(Image.new("L", (1, 20_000)), "PNG"))


def test_banner_is_refused_as_not_a_portrait() -> None:
    """A 600×100 banner (6:1) is "not a portrait"."""
    assert "not a portrait" in reason(photo_bytes((600, 100), fmt="PNG"))


def test_tiny_image_is_refused_as_too_small() -> None:
    """A 20×24 thumbnail is "too small"."""
    assert "too small" in reason(photo_bytes((20, 24), fmt="PNG"))


def test_unreadable_path_is_refused(tmp_path: Path) -> None:
    """A path that cannot be read is an InvalidPhoto, not an OSError."""
    with pytest.raises(InvalidPhoto, match="cannot be read"):
        normalise(tmp_path / "missing.jpg", size=256)


def test_size_must_be_positive() -> None:
    """A zero edge is a programming error (ValueError), not an invalid photo."""
    with pytest.raises(ValueError, match="positive") as caught:
        normalise(photo_bytes(), size=0)
    assert not isinstance(caught.value, InvalidPhoto)


def test_broken_icc_profile_does_not_reject_the_photo() -> None:
    """An embedded colour profile that cannot be parsed is ignored (and still stripped)."""
    out = normalise(encode(Image.new("RGB", (80, 80), GREEN), "JPEG", icc_profile=b"not a profile" * 10), size=64)
    assert close_to(open_avatar(out, 64).getpixel((32, 32)), GREEN)


def test_concurrent_normalisation_gives_the_same_bytes() -> None:
    """normalise() is safe to call from worker threads: eight at once give identical results."""
    from concurrent.futures import ThreadPoolExecutor

    data = noisy_jpeg((600, 800))
    expected = normalise(data, size=256)
    sources = [data, png_header_only(12_000, 12_000)] * 8
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda d: check_image(d) if d is not data else normalise(d, size=256), sources))
    assert results[0::2] == [expected] * 8
    assert all("too large" in str(r) for r in results[1::2])


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX-only")
def test_named_pipe_path_is_refused_without_blocking(tmp_path: Path) -> None:
    """normalise() on a FIFO named like a photo refuses it instead of waiting for a writer."""
    os.mkfifo(tmp_path / "S1.jpg")
    with pytest.raises(InvalidPhoto, match="not a regular file"):
        normalise(tmp_path / "S1.jpg", size=256)


def test_oversized_path_is_refused_unread(tmp_path: Path) -> None:
    """normalise() on a 41 MB file refuses it from its size."""
    with open(tmp_path / "S1.jpg", "wb") as file:
        file.truncate(41_000_000)  # sparse
    with pytest.raises(InvalidPhoto, match="too large"):
        normalise(tmp_path / "S1.jpg", size=256)
