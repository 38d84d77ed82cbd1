"""The photo folder: one file per person, ``<key>.<ext>``, fingerprinted through a (path, size, mtime) cache.

A nightly run over an unchanged folder only lists it and stats each file: the SHA-256 and the validation
verdict come from the cache. A file is read (once, for both) only when it is new or its size or mtime changed.
Nothing a file can be or contain makes the scan raise: every oddity becomes a ``Photo`` with a ``problem``.
"""

from __future__ import annotations

import os
import stat
import sys
import unicodedata
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from profilesync.domain import photo_fingerprint
from profilesync.engine.model import Fingerprint, Photo, PhotoSet, file_name
from profilesync.photos.formats import IMAGE_EXTENSIONS, SNIFF_BYTES, UNDECODABLE_EXTENSIONS, sniff, unsupported_reason
from profilesync.photos.image import (
    MAX_FILE_BYTES,
    NOT_A_FILE,
    OPEN_FLAGS,
    check_image,
    too_large_reason,
    unreadable_reason,
)
from profilesync.photos.names import decode_name

# Without the dot, to save a string concatenation per file.
_EXTENSIONS = frozenset(ext[1:] for ext in IMAGE_EXTENSIONS)
_UNDECODABLE = frozenset(ext[1:] for ext in UNDECODABLE_EXTENSIONS)
LINK_OUTSIDE = "a symbolic link to a file outside the photo folder (not followed)"
BROKEN_LINK = "a broken symbolic link"
VANISHED = "the file disappeared during the scan"
CHANGING = "the file changed while it was being read (still being copied?)"

#: cached fingerprints asked for at once: a whole cache is about 35 MB at 100,000 photos, a batch a few hundred KB
CACHE_BATCH = 500
#: the cached fingerprints of some paths (absolute, as ``Fingerprint.path``), by path
Lookup = Callable[[Sequence[str]], Mapping[str, Fingerprint]]

#: how a photo whose file name is not valid UTF-8 is reported (it can never match a user)
UNDECODABLE_NAME = "the file name is not valid UTF-8"


@dataclass(frozen=True)
class ScanResult:
    """The scanned folder, and the cache entries computed this time (for the caller to save)."""

    photos: PhotoSet
    fresh: list[Fingerprint]
    #: photo files in the folder, those of other keys than the ones asked for included (0: an empty folder)
    files: int = 0


def scan_photos(
    folder: Path,
    *,
    fold_key: Callable[[str], str],
    cache: Mapping[str, Fingerprint] | Lookup,
    keys: Collection[str] | None = None,
) -> ScanResult:
    """Every photo directly in ``folder`` by key (``fold_key`` of the file stem); not recursive.

    ``cache`` maps absolute paths (as ``Fingerprint.path``) to earlier fingerprints, or looks up the
    fingerprints of some paths (the history store's ``fingerprints(paths)``), asked ``CACHE_BATCH`` files at a
    time. With ``keys``, only those keys' photos are made (the folder is still listed, to find their files).
    Raises FileNotFoundError when the folder does not exist; never raises for anything about the files.
    """
    files = 0
    root = os.path.abspath(folder)  # cache keys must not depend on the directory cron starts us in
    # Names, not DirEntry objects: an entry also holds its whole path (~30 MB more at 100,000 files); its
    # only saving, the symlink bit, costs one lstat in place of the stat every file needs anyway.
    by_key: dict[str, str] = {}
    claimed_twice: dict[str, list[str]] = {}
    undecodable: dict[str, str] = {}  # RAW, JPEG XL...: reported unless a usable photo shares the key
    with os.scandir(root) as entries:
        for entry in entries:
            name = entry.name
            # Hidden files include macOS "._S1.jpg" resource forks, which carry an image extension.
            if name[0] == ".":
                continue
            stem, dot, ext = name.rpartition(".")
            if not dot:
                if not _looks_like_image(entry):  # no extension: a photo only if its first bytes say so
                    continue
                stem = name
            elif not stem:
                continue
            elif ext.lower() not in _EXTENSIONS:
                if ext.lower() in _UNDECODABLE:
                    files += 1
                    key = _key(decode_name(stem), fold_key)
                    if keys is None or key in keys:
                        undecodable.setdefault(key, name)
                continue
            # ASCII stems (every SIS ID) need neither the UTF-8 check nor NFC composition.
            stem = decode_name(stem)
            key = fold_key(stem) if stem.isascii() else _key(stem, fold_key)
            files += 1
            if keys is not None and key not in keys:
                continue  # plan --user: neither stat nor cache look-up for other people's photos
            # Kept short (the extension alone, see Photo.file): the entry's own name string is freed at once.
            short = _short(key, name)
            first = by_key.setdefault(key, short)
            if first != short:  # names in one folder differ: a second file for the key
                claimed_twice.setdefault(key, [file_name(key, first)]).append(name)

    lookup: Lookup = cache if callable(cache) else (lambda _paths: cache)
    scanner = _Scanner(Path(root))
    photos: dict[str, Photo] = {}
    ambiguous: dict[str, tuple[Path, ...]] = {}
    keys = sorted(by_key)
    for start in range(0, len(keys), CACHE_BATCH):
        batch = keys[start : start + CACHE_BATCH]
        files_of_batch = [file_name(key, by_key[key]) for key in batch if key not in claimed_twice]
        # A name that is not UTF-8 is never cached (nor can a database be asked about it): see _Scanner.photo.
        usable = [os.path.join(root, n) for n in files_of_batch if n.isascii() or _is_utf8(n)]
        scanner.cache = lookup(usable)
        for key in batch:
            name = file_name(key, by_key.pop(key))
            if key in claimed_twice:  # K.jpg and K.png: which one is meant is the admin's call, not ours
                ambiguous[key] = tuple(sorted(Path(root, printable(n)) for n in claimed_twice[key]))
            else:
                photos[key] = scanner.photo(key, name)
    for key, name in undecodable.items():
        if key not in photos and key not in ambiguous:  # never read: camera RAW files are 20-80 MB
            reason = unsupported_reason("." + name.rpartition(".")[2])
            photos[key] = Photo(key, scanner.root, printable(name), None, reason)
    return ScanResult(PhotoSet(photos, ambiguous), scanner.fresh, files)


def _short(key: str, name: str) -> str:
    """``Photo.file``: the extension alone (interned: one string for every photo) when the name is key + it."""
    suffix = name[len(key) :]
    if suffix[:1] == "." and "." not in suffix[1:] and name.startswith(key):
        return sys.intern(suffix)
    return name


def _looks_like_image(entry: os.DirEntry[str]) -> bool:
    """Whether a file without an extension starts like an image (some SIS exports drop the extension)."""
    try:
        if not entry.is_file():
            return False
        with open(entry.path, "rb") as stream:
            return sniff(stream.read(SNIFF_BYTES)) is not None
    except OSError:
        return False


def _key(stem: str, fold_key: Callable[[str], str]) -> str:
    """The match key of a non-ASCII file stem; names that are not valid UTF-8 get a printable, escaped key."""
    if not _is_utf8(stem):
        return printable(stem)
    # macOS writes file names decomposed (NFD); the SIS and Canvas compose them (NFC).
    return fold_key(unicodedata.normalize("NFC", stem))


def _is_utf8(name: str) -> bool:
    """False for names os.fsdecode could only carry as lone surrogates (bytes that are not UTF-8)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable(name: str) -> str:
    """A file name safe to print and store, the undecodable bytes written as \\xNN escapes."""
    try:
        raw = name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # lone surrogates from a Windows (UTF-16) name
        return name.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")


class _Scanner:
    """Turns one file name into a Photo, through the cache; collects the fresh fingerprints."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.real_root = os.path.join(os.path.realpath(root), "")  # with a trailing separator, for startswith
        self.cache: Mapping[str, Fingerprint] = {}  # of the batch being scanned
        self.fresh: list[Fingerprint] = []

    def photo(self, key: str, name: str) -> Photo:
        if not name.isascii() and not _is_utf8(name):
            # Such a path cannot be printed or stored (the history is UTF-8); the admin must rename the file.
            problem = f"{UNDECODABLE_NAME} ('{printable(name)}'): rename the file"
            return Photo(key, self.root, printable(name), None, problem)
        path = os.path.join(self.root, name)
        link = False
        try:
            info = os.lstat(path)
            link = stat.S_ISLNK(info.st_mode)
            if link:
                if not os.path.realpath(path).startswith(self.real_root):
                    return Photo(key, self.root, name, None, LINK_OUTSIDE)
                info = os.stat(path)  # follows a symlink that stays inside the folder
        except FileNotFoundError:
            return Photo(key, self.root, name, None, BROKEN_LINK if link else VANISHED)
        except OSError as exc:
            return Photo(key, self.root, name, None, unreadable_reason(exc))
        if not stat.S_ISREG(info.st_mode):
            return Photo(key, self.root, name, None, NOT_A_FILE)

        cached = self.cache.get(path)
        if cached is not None and cached.size == info.st_size and cached.mtime_ns == info.st_mtime_ns:
            return Photo(key, self.root, _short(key, name), cached.sha256, cached.problem)
        return self._fingerprint(key, path, name, info)

    def _fingerprint(self, key: str, path: str, name: str, info: os.stat_result) -> Photo:
        """Read the file once: its SHA-256 and its validation verdict, cached under the size/mtime read."""
        if info.st_size > MAX_FILE_BYTES:  # refused unread; the verdict holds while size and mtime do
            return self._remember(key, path, name, info, None, too_large_reason(info.st_size))
        try:
            fd = os.open(path, OPEN_FLAGS)
            with os.fdopen(fd, "rb") as stream:
                before = os.fstat(fd)
                if not stat.S_ISREG(before.st_mode):
                    return Photo(key, self.root, name, None, NOT_A_FILE)
                data = stream.read(MAX_FILE_BYTES + 1)
                after = os.fstat(fd)
        except OSError as exc:  # not cached: fixing permissions changes no mtime
            return Photo(key, self.root, name, None, unreadable_reason(exc))
        steady = (before.st_size, before.st_mtime_ns) == (after.st_size, after.st_mtime_ns)
        if not steady or len(data) != after.st_size:
            return Photo(key, self.root, name, None, CHANGING)  # not cached, so the next run looks again
        if len(data) > MAX_FILE_BYTES:
            return self._remember(key, path, name, after, None, too_large_reason(len(data)))
        problem = check_image(data, name=name)
        return self._remember(key, path, name, after, photo_fingerprint(data), problem)

    def _remember(
        self, key: str, path: str, name: str, info: os.stat_result, sha256: str | None, problem: str | None
    ) -> Photo:
        self.fresh.append(Fingerprint(path, info.st_size, info.st_mtime_ns, sha256, problem))
        return Photo(key, self.root, _short(key, name), sha256, problem)
