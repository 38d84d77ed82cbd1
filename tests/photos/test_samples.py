"""The synthetic sample portraits, the script that writes them, and the repository's photos/ folder."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from PIL import Image

from profilesync.photos import check_image, scan_photos
from profilesync_sandbox.samples import make_portrait, write_sample_photos

REPO = Path(__file__).resolve().parents[2]


def test_portrait_is_a_square_jpeg_of_the_requested_size() -> None:
    """make_portrait() gives a size×size RGB JPEG."""
    image = Image.open(io.BytesIO(make_portrait("S00001", size=300)))
    assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (300, 300))


def test_portrait_is_a_valid_photo() -> None:
    """A sample passes the same validation as real photos."""
    assert check_image(make_portrait("S00001")) is None


def test_portrait_is_deterministic() -> None:
    """The same key and variant give the same bytes."""
    assert make_portrait("S00001", variant=2) == make_portrait("S00001", variant=2)


def test_variant_changes_the_photo() -> None:
    """Another variant of the same key is another photo (a "changed" photo for tests and the demo)."""
    assert make_portrait("S00001", variant=0) != make_portrait("S00001", variant=1)


def test_keys_get_different_photos() -> None:
    """Two keys do not share a photo."""
    assert make_portrait("S00001") != make_portrait("S00002")


def test_portrait_is_small() -> None:
    """A 512 px sample stays under 30 KB, even for a long email key."""
    assert len(make_portrait("S00001")) < 30_000
    assert len(make_portrait("firstname.lastname@a-long-school-name.example.org")) < 30_000


def test_write_sample_photos_names_files_by_key(tmp_path: Path) -> None:
    """write_sample_photos() creates the folder, writes <key>.jpg per key and returns the count."""
    folder = tmp_path / "new" / "photos"
    assert write_sample_photos(folder, ["S00001", "S00002", "S00003"]) == 3
    result = scan_photos(folder, fold_key=str, cache={})
    assert sorted(result.photos.photos) == ["S00001", "S00002", "S00003"]
    assert all(photo.problem is None for photo in result.photos.photos.values())
    assert sorted(p.name for p in folder.iterdir()) == ["S00001.jpg", "S00002.jpg", "S00003.jpg"]


def test_script_writes_numbered_photos(tmp_path: Path) -> None:
    """scripts/make_sample_photos.py FOLDER COUNT --prefix P writes P00001.jpg .. P0000N.jpg."""
    script = REPO / "scripts" / "make_sample_photos.py"
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path), "3", "--prefix", "T"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "wrote 3" in done.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["T000001.jpg", "T000002.jpg", "T000003.jpg"]


def test_repository_sample_folder_holds_small_valid_samples() -> None:
    """photos/ holds S000001.jpg..S000005.jpg (valid, under 30 KB) and a README for admins."""
    folder = REPO / "photos"
    assert (folder / "README.md").is_file()
    photos = scan_photos(folder, fold_key=str, cache={}).photos.photos
    assert sorted(photos) == [f"S00000{n}" for n in range(1, 6)]
    for photo in photos.values():
        assert photo.problem is None
        assert photo.path.stat().st_size < 30_000
