"""Photo names: the %XX escape for characters file systems forbid, and near-miss hints."""

from __future__ import annotations

from pathlib import Path

import pytest

from profilesync.engine.model import Photo, Plan, RemoteUser
from profilesync.photos import scan_photos
from profilesync.photos.names import Candidate, decode_name, encode_key, near_misses, with_near_misses
from profilesync.report import MAX_HINT_LINES, plan_document, plan_summary

from .imaging import photo_bytes, write


@pytest.mark.parametrize(
    ("stem", "key"),
    [
        ("2024%2F0007", "2024/0007"),
        ("2024%2f0007", "2024/0007"),
        ("A%5CB%3AC", "A\\B:C"),
        ("100%25", "100%"),
        ("50%off", "50%off"),  # not an escape: left as it is
        ("A%41", "A%41"),  # only forbidden characters are escapes, never ordinary letters
        ("S000001", "S000001"),
    ],
)
def test_decode_name(stem: str, key: str) -> None:
    """Only the escapes of forbidden characters (and %25) are decoded, in either hex case."""
    assert decode_name(stem) == key


@pytest.mark.parametrize("key", ["2024/0007", 'a\\b:c*d?e"f<g>h|i', "100%", "100%2F", "S000001"])
def test_encode_key_round_trips(key: str) -> None:
    """encode_key writes every forbidden character as %XX, and decode_name reads it back."""
    stem = encode_key(key)
    assert not set(stem) & set('/\\:*?"<>|')
    assert decode_name(stem) == key


def test_scan_keys_escaped_names_by_the_decoded_id(tmp_path: Path) -> None:
    """2024%2F0007.jpg is the photo of SIS id 2024/0007; 100%252F.jpg of the id 100%2F."""
    write(tmp_path, "2024%2F0007.jpg", photo_bytes())
    write(tmp_path, "100%252F.jpg", photo_bytes())
    result = scan_photos(tmp_path, fold_key=str, cache={})
    assert sorted(result.photos.photos) == ["100%2F", "2024/0007"]


def test_escaped_and_raw_spellings_of_one_key_are_ambiguous(tmp_path: Path) -> None:
    """A%3AB.jpg and A:B.png name the same key (on file systems that allow ':'): neither is guessed."""
    write(tmp_path, "A%3AB.jpg", photo_bytes())
    write(tmp_path, "A:B.png", photo_bytes())
    assert set(scan_photos(tmp_path, fold_key=str, cache={}).photos.ambiguous) == {"A:B"}


USERS = [Candidate("S000123", "1", "Ann Lee"), Candidate("AB-7", "2", "Bo Ng"), Candidate("2024/0007", "3", "Cy Oh")]


@pytest.mark.parametrize(
    ("photo", "user", "why"),
    [
        ("s000123", "S000123", ("letter case",)),
        ("S123", "S000123", ("leading zeros",)),
        ("S 000123", "S000123", ("spaces or underscores",)),
        ("s_123", "S000123", ("letter case", "leading zeros", "spaces or underscores")),
        ("2024_0007", "2024/0007", ("spaces or underscores", "a '/' (write it %2F in a file name)")),
        ("20247", "2024/0007", ("leading zeros", "a '/' (write it %2F in a file name)")),
    ],
)
def test_near_miss_names_the_user_and_why(photo: str, user: str, why: tuple[str, ...]) -> None:
    """Each near miss names the user and exactly the differences that had to be ignored."""
    (miss,) = near_misses([photo], USERS, [])[photo]
    assert (miss.key, miss.why) == (user, why)


def test_no_hint_for_a_real_difference() -> None:
    """A different id (S000124), or a hyphen that is part of the id, gets no hint."""
    assert near_misses(["S000124", "AB7", "NOBODY"], USERS, []) == {}


def test_users_without_a_photo_come_first() -> None:
    """When several users nearly match, those still without a photo are named first, then by fewest differences."""
    users = [Candidate("S1", "1", "Has Photo"), Candidate("S001", "2", "No Photo"), Candidate("s01", "3", "Cased")]
    misses = near_misses(["S01"], users, ["S1"])["S01"]
    assert [(m.key, m.has_photo) for m in misses] == [("S001", False), ("s01", False), ("S1", True)]
    assert misses[2].text() == "would match S1 (Has Photo) but for leading zeros; they already have a photo"


def test_plan_table_lists_a_screenful_of_near_misses() -> None:
    """Under the plan table, near misses are listed up to MAX_HINT_LINES, then counted (JSON has them all)."""
    photos = [Photo.at(f"s{i:03d}", Path(f"s{i:03d}.jpg"), "0" * 64) for i in range(25)]
    users = [RemoteUser(str(i), f"S{i:03d}", f"Kid {i}", None) for i in range(25)]
    plan = with_near_misses(Plan("canvas:test", (), tuple(photos)), users, [])
    lines = plan_summary(plan)
    assert lines[2] == "  s000.jpg: would match S000 (Kid 0) but for letter case"
    assert len([line for line in lines if "would match" in line]) == MAX_HINT_LINES
    assert lines[-1] == f"  … {25 - MAX_HINT_LINES} more near misses (see --format json)"
    assert len(plan_document(plan)["unmatched_photos"][24]["near_miss"]) == 1
