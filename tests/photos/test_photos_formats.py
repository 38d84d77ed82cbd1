"""Phone and camera formats: HEIC/AVIF decoded, undecodable photo-like files reported naming their format."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from profilesync.photos import check_image, normalise, scan_photos
from profilesync.photos import formats as fmt
from profilesync.photos.formats import sniff

from .imaging import encode, noisy_jpeg, photo_bytes, write


def heic_bytes(size: tuple[int, int] = (300, 400)) -> bytes:
    """A real HEIC file, written by pillow-heif (registered when profilesync.photos is imported)."""
    return encode(Image.effect_noise(size, 64).convert("RGB"), "HEIF")


def problems(folder: Path) -> dict[str, str | None]:
    """Problem per key after a scan of ``folder`` (SIS-style keys)."""
    result = scan_photos(folder, fold_key=str, cache={})
    return {key: photo.problem for key, photo in result.photos.photos.items()}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """An empty photo folder."""
    path = tmp_path / "photos"
    path.mkdir()
    return path


def test_pillow_heif_is_installed_and_registered() -> None:
    """pillow-heif is a dependency: HEIC/HEIF decoding and its extensions are on out of the box."""
    assert fmt.HEIF_SUPPORTED
    assert "HEIF" in fmt.PILLOW_FORMATS
    assert {".heic", ".heif"} <= fmt.IMAGE_EXTENSIONS


def test_heic_photo_becomes_a_square_jpeg() -> None:
    """A HEIC photo (the iPhone default) passes the check and normalises to a square RGB JPEG."""
    data = heic_bytes()
    assert check_image(data, name="S1.heic") is None
    image = Image.open(io.BytesIO(normalise(data, size=128)))
    assert image.format == "JPEG" and image.size == (128, 128) and image.mode == "RGB"


def test_avif_is_read_when_pillow_can_or_named_when_it_cannot() -> None:
    """AVIF (Pillow's own decoder) is accepted when this Pillow has it; otherwise reported naming AVIF."""
    if fmt.AVIF_SUPPORTED:
        assert check_image(encode(Image.new("RGB", (64, 64), (9, 99, 199)), "AVIF"), name="S1.avif") is None
        assert ".avif" in fmt.IMAGE_EXTENSIONS
    else:
        assert "AVIF" in fmt.UNDECODABLE_EXTENSIONS[".avif"]


def test_heic_photos_are_scanned(folder: Path) -> None:
    """S1.heic, S2.HEIF are photos of S1 and S2 (they used to be ignored: the users showed as no_photo)."""
    write(folder, "S1.heic", heic_bytes())
    write(folder, "S2.HEIF", heic_bytes())
    assert problems(folder) == {"S1": None, "S2": None}


def test_heic_with_garbage_is_invalid_naming_heic(folder: Path) -> None:
    """A .heic holding HEIC's signature then garbage is invalid, the reason naming HEIC/HEIF."""
    write(folder, "S1.heic", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"junk" * 64)
    problem = problems(folder)["S1"]
    assert problem is not None and "HEIC/HEIF" in problem and "damaged" in problem


def test_truncated_heic_is_invalid_naming_heic(folder: Path) -> None:
    """A HEIC cut in half (an interrupted copy) is invalid: truncated or damaged, naming HEIC/HEIF."""
    data = heic_bytes()
    write(folder, "S1.heic", data[: len(data) // 2])
    problem = problems(folder)["S1"]
    assert problem is not None and "HEIC/HEIF image data is truncated or damaged" in problem


def test_text_named_heic_says_what_the_name_promised(folder: Path) -> None:
    """A text file named .heic is 'not an image', saying the name promised HEIC."""
    write(folder, "S1.heic", b"not a photo at all\n" * 20)
    problem = problems(folder)["S1"]
    assert problem is not None and "not an image" in problem
    assert "the file is named .heic but its content is not a HEIC/HEIF image" in problem


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("S1.raw", "camera RAW"),
        ("S1.CR2", "Canon RAW (CR2)"),
        ("S1.dng", "DNG (camera RAW)"),
        ("S1.nef", "Nikon RAW (NEF)"),
        ("S1.jxl", "JPEG XL"),
        ("S1.psd", "Photoshop (PSD)"),
    ],
)
def test_undecodable_photo_formats_are_invalid_naming_the_format(folder: Path, name: str, label: str) -> None:
    """A camera RAW, JPEG XL or PSD file is reported invalid_photo naming its format, never silently dropped."""
    write(folder, name, b"junk that no decoder reads" * 10)
    result = scan_photos(folder, fold_key=str, cache={})
    photo = result.photos.photos["S1"]
    assert photo.problem == f"a {label} file, a format profilesync cannot read: save it as JPEG or PNG"
    assert photo.path.name == name
    assert result.fresh == []  # not read, not cached: the extension says all


def test_dng_is_not_decoded_through_its_tiff_preview(folder: Path) -> None:
    """A DNG is TIFF inside, with a small preview: it is reported as RAW, not uploaded as that preview."""
    write(folder, "S1.dng", photo_bytes(fmt="TIFF"))
    assert problems(folder)["S1"] == "a DNG (camera RAW) file, a format profilesync cannot read: save it as JPEG or PNG"


def test_a_usable_photo_wins_over_a_raw_of_the_same_name(folder: Path) -> None:
    """S1.cr2 next to S1.jpg (a photographer's RAW + JPEG pair): the JPEG is used, nothing is ambiguous."""
    write(folder, "S1.cr2", b"raw sensor data" * 10)
    write(folder, "S1.jpg", photo_bytes())
    result = scan_photos(folder, fold_key=str, cache={})
    assert result.photos.ambiguous == {}
    assert result.photos.photos["S1"].path.name == "S1.jpg" and result.photos.photos["S1"].problem is None


def test_jfif_is_a_jpeg_extension(folder: Path) -> None:
    """S1.jfif (how Windows saves many downloaded JPEGs) is a photo."""
    write(folder, "S1.jfif", photo_bytes())
    assert problems(folder) == {"S1": None}


def test_a_photo_without_extension_is_found_by_its_signature(folder: Path) -> None:
    """A JPEG named just S1 (an export that drops extensions) is S1's photo, found by its magic bytes."""
    write(folder, "S1", noisy_jpeg())
    write(folder, "S2", heic_bytes())
    assert problems(folder) == {"S1": None, "S2": None}


def test_an_undecodable_photo_without_extension_is_named_by_its_signature(folder: Path) -> None:
    """An extensionless JPEG XL is reported naming JPEG XL (found by magic bytes, not by name)."""
    write(folder, "S1", b"\xff\x0a" + b"\x00" * 200)
    problem = problems(folder)["S1"]
    assert problem is not None and problem.startswith("a JPEG XL image, a format profilesync cannot read")


@pytest.mark.parametrize(
    ("head", "label"),
    [
        (b"\xff\xd8\xff\xe0", "JPEG"),
        (b"\x89PNG\r\n\x1a\n", "PNG"),
        (b"GIF89a", "GIF"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "WebP"),
        (b"\x00\x00\x00\x18ftypheic", "HEIC/HEIF"),
        (b"\x00\x00\x00\x18ftypmif1", "HEIC/HEIF"),
        (b"\x00\x00\x00\x1cftypavif", "AVIF"),
        (b"\x00\x00\x00\x18ftypcrx ", "Canon RAW (CR3)"),
        (b"II*\x00\x10\x00\x00\x00CR\x02\x00", "Canon RAW (CR2)"),
        (b"II*\x00\x08\x00\x00\x00", "TIFF"),
        (b"FUJIFILMCCD-RAW 0201", "Fujifilm RAW (RAF)"),
        (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "JPEG XL"),
        (b"hello world", None),
        (b"\x00\x00\x00\x18ftypisom", None),  # an MP4 video is not a photo
    ],
)
def test_sniff_names_formats_by_signature(head: bytes, label: str | None) -> None:
    """The file-signature table names each photo format (and nothing for text or video)."""
    assert sniff(head) == label


def test_heic_rotation_tag_is_applied_once() -> None:
    """A HEIC with EXIF orientation 6 comes out upright, exactly as the same JPEG does (never rotated twice)."""
    image = Image.new("RGB", (200, 100), (255, 0, 0))
    image.paste((0, 0, 255), (0, 0, 100, 100))  # blue left half, red right half
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view"
    heic = Image.open(io.BytesIO(normalise(encode(image, "HEIF", exif=exif.tobytes()), size=100)))
    jpeg = Image.open(io.BytesIO(normalise(encode(image, "JPEG", exif=exif.tobytes()), size=100)))
    for picture in (heic, jpeg):
        top, bottom = picture.getpixel((50, 10)), picture.getpixel((50, 90))
        assert isinstance(top, tuple) and isinstance(bottom, tuple)
        assert top[2] > 200 and bottom[0] > 200  # blue on top, red at the bottom
