"""scan_photos(): keying, ignored files, ambiguity, the fingerprint cache, and files that are not what they seem."""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from profilesync.engine.model import Fingerprint
from profilesync.photos import ScanResult, scan_photos

from .imaging import photo_bytes, write


def scan(folder: Path, cache: dict[str, Fingerprint] | None = None, *, casefold: bool = False) -> ScanResult:
    """Scan with SIS-style (identity) or email-style (casefold) keys."""
    fold = str.casefold if casefold else str
    return scan_photos(folder, fold_key=fold, cache=cache or {})


def as_cache(result: ScanResult) -> dict[str, Fingerprint]:
    """The cache a caller would have after saving ``result.fresh``."""
    return {entry.path: entry for entry in result.fresh}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """An empty photo folder."""
    path = tmp_path / "photos"
    path.mkdir()
    return path


# -- keys ---------------------------------------------------------------------------------------------------


def test_photos_are_keyed_by_file_stem_with_content_hash(folder: Path) -> None:
    """S1.jpg is key S1, with its path and the SHA-256 of its bytes."""
    data = photo_bytes()
    write(folder, "S1.jpg", data)
    photo = scan(folder).photos.photos["S1"]
    assert photo.path == folder / "S1.jpg"
    assert photo.sha256 == hashlib.sha256(data).hexdigest()
    assert photo.problem is None


def test_extensions_match_in_any_case(folder: Path) -> None:
    """.JPG, .Jpeg, .PNG, .TIFF, .webp are all photos."""
    for name in ("A.JPG", "B.Jpeg", "C.PNG", "D.TIFF", "E.webp"):
        write(folder, name, photo_bytes())
    assert sorted(scan(folder).photos.photos) == ["A", "B", "C", "D", "E"]


def test_key_is_everything_before_the_last_extension(folder: Path) -> None:
    """jane.doe@school.org.jpg is key jane.doe@school.org."""
    write(folder, "jane.doe@school.org.jpg", photo_bytes())
    assert list(scan(folder).photos.photos) == ["jane.doe@school.org"]


def test_sis_keys_keep_their_case(folder: Path) -> None:
    """With identity folding, s1.jpg and S1.jpg are two people (SIS IDs are case-sensitive)."""
    write(folder, "s1.jpg", photo_bytes())
    write(folder, "S1.png", photo_bytes())
    result = scan(folder)
    assert sorted(result.photos.photos) == ["S1", "s1"]
    assert result.photos.ambiguous == {}


def test_casefold_keys_fold_the_stem(folder: Path) -> None:
    """With casefold, Jane@School.org.jpg is key jane@school.org."""
    write(folder, "Jane@School.org.jpg", photo_bytes())
    assert list(scan(folder, casefold=True).photos.photos) == ["jane@school.org"]


def test_decomposed_unicode_names_are_composed(folder: Path) -> None:
    """A name written decomposed (macOS NFD) gets the composed key the SIS uses."""
    write(folder, "Jose\u0301@school.org.jpg", photo_bytes())
    assert list(scan(folder).photos.photos) == ["Jos\u00e9@school.org"]


# -- ambiguity ---------------------------------------------------------------------------------------------


def test_two_files_for_one_key_are_ambiguous(folder: Path) -> None:
    """K.jpg and K.png: K is ambiguous (both paths listed) and not a photo."""
    write(folder, "K.jpg", photo_bytes())
    write(folder, "K.png", photo_bytes(fmt="PNG"))
    result = scan(folder)
    assert result.photos.ambiguous == {"K": (folder / "K.jpg", folder / "K.png")}
    assert "K" not in result.photos.photos


def test_keys_equal_after_casefold_are_ambiguous(folder: Path) -> None:
    """a@x.jpg and A@x.png under casefold both claim a@x."""
    write(folder, "a@x.jpg", photo_bytes())
    write(folder, "A@x.png", photo_bytes(fmt="PNG"))
    result = scan(folder, casefold=True)
    assert set(result.photos.ambiguous) == {"a@x"}
    assert result.photos.photos == {}


def test_ambiguous_files_are_not_read(folder: Path) -> None:
    """Neither file of an ambiguous key is fingerprinted: it cannot be used anyway."""
    write(folder, "K.jpg", photo_bytes())
    write(folder, "K.JPG", photo_bytes())
    assert scan(folder).fresh == []


# -- what is ignored ---------------------------------------------------------------------------------------


def test_non_photos_and_hidden_files_are_ignored(folder: Path) -> None:
    """README.md, Thumbs.db, .DS_Store, macOS ._ files, hidden and partial files are not photos."""
    for name in ("README.md", "Thumbs.db", ".DS_Store", "._S1.jpg", ".S2.jpg", "S3.jpg.part", ".jpg", "S5."):
        write(folder, name, photo_bytes())
    for name in ("S4", "jpg", "LICENSE"):  # no extension and no image signature
        write(folder, name, b"plain text, not a photo\n" * 4)
    write(folder, "S9.jpg", photo_bytes())
    assert list(scan(folder).photos.photos) == ["S9"]


def test_subfolders_are_not_scanned(folder: Path) -> None:
    """A photo in a subfolder is not found (the scan is not recursive)."""
    (folder / "archive").mkdir()
    write(folder / "archive", "S5.jpg", photo_bytes())
    assert scan(folder).photos.photos == {}


def test_folder_named_like_a_photo_is_a_problem(folder: Path) -> None:
    """A directory named S6.jpg is reported, not read."""
    (folder / "S6.jpg").mkdir()
    assert "not a regular file" in (scan(folder).photos.photos["S6"].problem or "")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX-only")
def test_named_pipe_named_like_a_photo_does_not_block(folder: Path) -> None:
    """A FIFO named S7.jpg is reported as not a regular file (opening it would hang the run)."""
    os.mkfifo(folder / "S7.jpg")
    assert "not a regular file" in (scan(folder).photos.photos["S7"].problem or "")


def test_missing_folder_raises_file_not_found(tmp_path: Path) -> None:
    """A folder that does not exist raises FileNotFoundError (the caller reports it)."""
    with pytest.raises(FileNotFoundError):
        scan(tmp_path / "nowhere")


def test_empty_folder_gives_empty_set(folder: Path) -> None:
    """No photos: an empty PhotoSet, nothing fresh."""
    result = scan(folder)
    assert (result.photos.photos, result.photos.ambiguous, result.fresh) == ({}, {}, [])


# -- the fingerprint cache ---------------------------------------------------------------------------------


def test_new_files_give_fresh_fingerprints(folder: Path) -> None:
    """A first scan returns a fingerprint per file: absolute path, size, mtime_ns, sha256, verdict."""
    data = photo_bytes()
    path = write(folder, "S1.jpg", data)
    info = path.stat()
    assert scan(folder).fresh == [
        Fingerprint(str(path.absolute()), len(data), info.st_mtime_ns, hashlib.sha256(data).hexdigest(), None)
    ]


def test_cache_hit_does_not_open_the_file(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With an up-to-date cache nothing is opened: open() failing everywhere changes nothing."""
    write(folder, "S1.jpg", photo_bytes())
    first = scan(folder)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cached file was opened")

    monkeypatch.setattr(os, "open", refuse)
    monkeypatch.setattr("builtins.open", refuse)
    second = scan(folder, as_cache(first))
    assert second.photos == first.photos
    assert second.fresh == []


def test_cache_hit_trusts_size_and_mtime(folder: Path) -> None:
    """Same size and mtime: the cached hash is used even though the bytes changed (proof nothing was read)."""
    path = write(folder, "S1.jpg", photo_bytes(colour=(255, 0, 0)))
    first = scan(folder)
    info = path.stat()
    path.write_bytes(b"x" * info.st_size)
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    second = scan(folder, as_cache(first))
    assert second.photos.photos["S1"] == first.photos.photos["S1"]


def test_cache_miss_when_mtime_changes(folder: Path) -> None:
    """A newer mtime means the file is read again and fingerprinted afresh."""
    path = write(folder, "S1.jpg", photo_bytes(colour=(255, 0, 0)))
    first = scan(folder)
    new = photo_bytes(colour=(0, 0, 255))
    path.write_bytes(new)
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))
    second = scan(folder, as_cache(first))
    assert second.photos.photos["S1"].sha256 == hashlib.sha256(new).hexdigest()
    assert [entry.path for entry in second.fresh] == [str(path)]


def test_cache_miss_when_size_changes(folder: Path) -> None:
    """A different size with the same mtime means the file is read again."""
    path = write(folder, "S1.jpg", photo_bytes())
    first = scan(folder)
    info = path.stat()
    new = photo_bytes((500, 600))
    path.write_bytes(new)
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    second = scan(folder, as_cache(first))
    assert second.photos.photos["S1"].sha256 == hashlib.sha256(new).hexdigest()
    assert len(second.fresh) == 1


def test_cache_is_keyed_by_absolute_path(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A relative folder gives absolute cache paths, so a run from another directory still hits."""
    write(folder, "S1.jpg", photo_bytes())
    cache = as_cache(scan(folder))
    monkeypatch.chdir(folder.parent)
    second = scan(Path("photos"), cache)
    assert second.fresh == []
    assert second.photos.photos["S1"].path == folder / "S1.jpg"


def test_cached_problem_is_reused(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An invalid photo's verdict comes from the cache too, without re-reading."""
    write(folder, "S1.jpg", b"not an image at all")
    first = scan(folder)
    monkeypatch.setattr(os, "open", lambda *a, **k: pytest.fail("opened"))
    photo = scan(folder, as_cache(first)).photos.photos["S1"]
    assert photo.problem is not None
    assert "not an image" in photo.problem


# -- files that cannot be used -----------------------------------------------------------------------------


def test_zero_byte_file_is_a_problem(folder: Path) -> None:
    """An empty S1.jpg is reported as empty (and cached: the verdict depends only on size)."""
    write(folder, "S1.jpg", b"")
    result = scan(folder)
    assert "empty" in (result.photos.photos["S1"].problem or "")
    assert len(result.fresh) == 1


def test_oversized_file_is_refused_unread(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 41 MB file is "too large" from its size alone: it is never opened."""
    with open(folder / "S1.jpg", "wb") as file:
        file.truncate(41 * 1024 * 1024)  # sparse: costs no disk
    monkeypatch.setattr(os, "open", lambda *a, **k: pytest.fail("opened"))
    photo = scan(folder).photos.photos["S1"]
    assert "too large" in (photo.problem or "")
    assert photo.sha256 is None


def test_read_error_is_a_problem_and_not_cached(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An I/O error while opening becomes a problem; it is not cached, so the next run retries."""
    write(folder, "S1.jpg", photo_bytes())

    def failing_open(*args: object, **kwargs: object) -> int:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "open", failing_open)
    result = scan(folder)
    assert result.photos.photos["S1"].problem == "the file cannot be read: Input/output error"
    assert result.fresh == []


def test_unreadable_file_is_a_problem(tmp_path: Path) -> None:
    """A file without read permission is reported as such (as root, checked in a child that drops to nobody)."""
    # Under /tmp with 0755, so that the unprivileged child can reach the folder (pytest's tmp_path is 0700).
    import tempfile

    with tempfile.TemporaryDirectory() as base:
        os.chmod(base, 0o755)
        folder = Path(base)
        path = write(folder, "S1.jpg", photo_bytes())
        path.chmod(0o000)
        problem = _problem_as_unprivileged(folder, "S1") if os.geteuid() == 0 else _problem(folder, "S1")
        assert problem is not None
        assert "permission denied" in problem


def _problem(folder: Path, key: str) -> str | None:
    result = scan(folder)
    assert result.fresh == []  # a permission problem is fixed without touching mtime: never cache it
    return result.photos.photos[key].problem


def _problem_as_unprivileged(folder: Path, key: str) -> str | None:
    """Run the scan in a forked child that gives up root, so file permissions apply to it."""
    import json

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        try:
            os.close(read_end)
            try:
                os.setgid(65534)
                os.setuid(65534)  # nobody
            except OSError as exc:
                os.write(write_end, json.dumps({"skip": f"cannot drop root here: {exc}"}).encode())
            else:
                os.write(write_end, json.dumps({"problem": _problem(folder, key)}).encode())
        except BaseException as exc:
            os.write(write_end, json.dumps({"error": repr(exc)}).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        answer = json.loads(pipe.read() or b'{"error": "the child died"}')
    os.waitpid(pid, 0)
    if "skip" in answer:
        pytest.skip(answer["skip"])
    assert "error" not in answer, answer["error"]
    problem: str | None = answer["problem"]
    return problem


def test_symlink_outside_the_folder_is_not_followed(folder: Path, tmp_path: Path) -> None:
    """S1.jpg -> a photo outside the folder: a problem, and the target is never read."""
    outside = write(tmp_path, "elsewhere.jpg", photo_bytes())
    (folder / "S1.jpg").symlink_to(outside)
    result = scan(folder)
    photo = result.photos.photos["S1"]
    assert "outside the photo folder" in (photo.problem or "")
    assert (photo.sha256, result.fresh) == (None, [])


def test_symlink_inside_the_folder_is_followed(folder: Path) -> None:
    """S1.jpg -> originals/s1.jpg inside the folder is a usable photo."""
    (folder / "originals").mkdir()
    data = photo_bytes()
    write(folder / "originals", "s1.jpg", data)
    (folder / "S1.jpg").symlink_to(Path("originals") / "s1.jpg")
    photo = scan(folder).photos.photos["S1"]
    assert (photo.problem, photo.sha256) == (None, hashlib.sha256(data).hexdigest())


def test_broken_symlink_is_a_problem(folder: Path) -> None:
    """A symlink to a missing file is reported as broken."""
    (folder / "S1.jpg").symlink_to(folder / "gone.jpg")
    assert "broken" in (scan(folder).photos.photos["S1"].problem or "")


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="needs a file system that stores raw bytes")
def test_non_utf8_name_is_a_problem_with_a_printable_key(folder: Path) -> None:
    """A name with a non-UTF-8 byte (S\\xff1.jpg) is reported with escapes; key and path are printable."""
    with open(os.path.join(os.fsencode(folder), b"S\xff1.jpg"), "wb") as file:
        file.write(photo_bytes())
    result = scan(folder)
    [photo] = result.photos.photos.values()
    assert photo.key == "S\\xff1"
    assert "not valid UTF-8" in (photo.problem or "")
    assert "'S\\xff1.jpg'" in (photo.problem or "")  # the undecodable byte shown as an escape
    str(photo.path).encode("utf-8")  # printable: no lone surrogates
    assert result.fresh == []  # such a path could not be stored in the history


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="needs a file system that stores raw bytes")
def test_the_cache_is_never_asked_about_a_non_utf8_name(folder: Path) -> None:
    """A database cannot hold such a path: the look-up is asked about the other files only."""
    with open(os.path.join(os.fsencode(folder), b"S\xff1.jpg"), "wb") as file:
        file.write(photo_bytes())
    write(folder, "S2.jpg", photo_bytes())
    asked: list[str] = []

    def lookup(paths: Sequence[str]) -> dict[str, Fingerprint]:
        asked.extend(paths)
        return {}

    scan_photos(folder, fold_key=str, cache=lookup)
    assert asked == [str(folder / "S2.jpg")]


def test_keys_limit_the_scan_to_those_photos(folder: Path) -> None:
    """With keys (plan --user), only their photos are made and fingerprinted; the count says the folder has more."""
    for key in ("S1", "S2", "S3"):
        write(folder, f"{key}.jpg", photo_bytes())
    write(folder, "S2.png", photo_bytes())
    result = scan_photos(folder, fold_key=str, cache={}, keys={"S1", "S2"})
    assert set(result.photos.photos) == {"S1"} and set(result.photos.ambiguous) == {"S2"}
    assert [fp.path for fp in result.fresh] == [str(folder / "S1.jpg")] and result.files == 4
    nobody = scan_photos(folder, fold_key=str, cache={}, keys={"S9"})
    assert nobody.photos.photos == {} and nobody.files == 4


def test_the_cache_is_asked_a_batch_of_paths_at_a_time(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A look-up function is asked for the scanned files in batches, each of its own batch's paths."""
    monkeypatch.setattr("profilesync.photos.scan.CACHE_BATCH", 2)
    for i in range(5):
        write(folder, f"S{i}.jpg", photo_bytes())
    cache = as_cache(scan(folder))
    asked: list[list[str]] = []

    def lookup(paths: Sequence[str]) -> dict[str, Fingerprint]:
        asked.append(list(paths))
        return {p: cache[p] for p in paths}

    result = scan_photos(folder, fold_key=str, cache=lookup)
    assert [len(batch) for batch in asked] == [2, 2, 1] and sorted(p for batch in asked for p in batch) == sorted(cache)
    assert result.fresh == [] and len(result.photos.photos) == 5


def test_a_photo_named_after_its_key_keeps_only_the_extension(folder: Path) -> None:
    """``Photo.file`` is the shared extension when the name is key + extension, else the whole name (a
    case-folded email key); ``name`` and ``path`` are the file's either way."""
    write(folder, "S1.jpg", photo_bytes())
    write(folder, "Ann@X.org.png", photo_bytes())
    s1 = scan(folder).photos.photos["S1"]
    assert (s1.file, s1.name, s1.path) == (".jpg", "S1.jpg", folder / "S1.jpg")
    ann = scan(folder, casefold=True).photos.photos["ann@x.org"]
    assert (ann.file, ann.name, ann.path) == ("Ann@X.org.png", "Ann@X.org.png", folder / "Ann@X.org.png")
