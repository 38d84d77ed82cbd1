"""Where the photos come from: the folder (the default) or the SIS database (``photos/sql.py``).

Both give the planner the same ``PhotoSet`` (keys, SHA-256 fingerprints, problems) through the same
fingerprint cache, and the executor the same bytes at upload time; only how they are found differs. The
choice is made once, here (``open_source``): a photo query URL set means the database, else the folder.
``read_photo_set`` is what a job does with either: the scan, the cache and the empty-source safety valve.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Protocol

from profilesync.domain import Crop, Secret, fold_key, photo_fingerprint
from profilesync.engine.executor import InvalidImage
from profilesync.engine.model import Fingerprint, Photo, PhotoSet
from profilesync.engine.ports import HistoryStore
from profilesync.errors import SafetyValveError
from profilesync.photos.image import InvalidPhoto, normalise, read_photo
from profilesync.photos.scan import UNDECODABLE_NAME, Lookup, ScanResult, scan_photos

log = logging.getLogger(__name__)

#: a database row without a key: like a file name that is not UTF-8, it can match nobody (``photos/sql.py``)
NULL_KEY = "the row's photo_key is NULL or blank"
#: the problems of photos that can match no user yet are surely meant for someone: a sync fails them (exit 1)
#: rather than only listing them among the unmatched photos
UNNAMEABLE = (UNDECODABLE_NAME, NULL_KEY)


class PhotoSource(Protocol):
    """What a job asks of its photos: are they there, what are they, and one photo's bytes."""

    #: what to do when the source is unavailable
    advice: str
    #: whether ``scan(keys=...)`` sees only those keys' photos (so it cannot tell an empty source)
    by_key: bool

    def unavailable(self) -> str | None:
        """Why the photos cannot be read at all (a missing folder, an unreachable database), else None."""

    def scan(
        self, *, fold_key: Callable[[str], str], cache: Mapping[str, Fingerprint] | Lookup, keys: Collection[str] | None
    ) -> ScanResult:
        """Every photo by key (only ``keys`` when given); ``cache``: earlier fingerprints by locator, or a look-up."""

    def empty_problem(self) -> str:
        """What "no photos at all" is called for this source (the safety valve's message)."""

    def read(self, photo: Photo) -> bytes:
        """The photo's bytes now; InvalidPhoto when they cannot be had."""

    def close(self) -> None:
        """Release connections (a folder holds none)."""


class FolderSource:
    """The photo folder: one file per person, ``<key>.<ext>`` (``photos/scan.py``)."""

    advice = "set PROFILESYNC_PHOTOS_DIR (for Guru: GURU_PHOTOS_DIR) to the folder your photos are exported into"
    by_key = False

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def unavailable(self) -> str | None:
        return None if self.folder.is_dir() else f"the photo folder {self.folder} does not exist"

    def scan(
        self, *, fold_key: Callable[[str], str], cache: Mapping[str, Fingerprint] | Lookup, keys: Collection[str] | None
    ) -> ScanResult:
        # The folder is listed whatever ``keys`` says; only those keys' files are stat'ed and fingerprinted.
        return scan_photos(self.folder, fold_key=fold_key, cache=cache, keys=keys)

    def empty_problem(self) -> str:
        return f"the photo folder {self.folder} holds no photos"

    def read(self, photo: Photo) -> bytes:
        return read_photo(photo.path)

    def close(self) -> None:
        pass


def open_source(folder: Path, sql_url: Secret | None = None, sql_query: str | None = None) -> PhotoSource:
    """The photo source the settings name: the SIS database when its URL is set, else the folder."""
    if sql_url is None:
        return FolderSource(folder)
    from profilesync.photos.sql import SqlSource  # SQLAlchemy's dialects load only for the database source

    return SqlSource(sql_url, sql_query or "")


def read_photo_set(
    source: PhotoSource,
    store: HistoryStore,
    match: str,
    *,
    save_cache: bool,
    required: bool = True,
    keys: list[str] | None = None,
) -> PhotoSet:
    """Scan the photos through the fingerprint cache; a missing or empty source trips the safety valve
    (``required``) or, for a plan, is only warned about: the plan then lists every user, so the admin sees
    what to name the photos. ``keys``: the photos of these users are enough (``--user``)."""
    problem = source.unavailable()
    if problem is not None:
        if not required:
            return no_photos_yet(problem, match)
        raise SafetyValveError(problem, advice=source.advice)
    result = source.scan(fold_key=fold_key(match), cache=store.fingerprints, keys=keys)
    if save_cache and result.fresh:
        store.save_fingerprints(result.fresh)
    # One user's lookup finding no row is that user's "no photo", not an empty export; the folder is listed
    # whole even for one user, so its count of photo files still tells an empty export.
    if not result.files and (keys is None or not source.by_key):
        if not required:
            return no_photos_yet(source.empty_problem(), match)
        # An empty folder usually means a failed SIS export or an unmounted share, never "remove everyone".
        raise SafetyValveError(source.empty_problem(), advice="check the SIS photo export; nothing was changed")
    return result.photos


def no_photos_yet(problem: str, match: str) -> PhotoSet:
    """An empty photo set for a plan made before the first export, with a warning saying what to do."""
    log.warning(
        "%s: every user is planned as no_photo (the plan's '--format csv' lists their %s: name each photo "
        "<%s>.jpg); a sync would stop here (exit 4)",
        problem,
        match,
        match,
    )
    return PhotoSet({})


def image_reader(source: PhotoSource, size: int, crop: Crop = Crop.CENTRE) -> Callable[[Photo], tuple[bytes, str]]:
    """Read each photo once: hash exactly the bytes that get normalised (cut as ``crop`` says) and uploaded."""

    def read(photo: Photo) -> tuple[bytes, str]:
        try:
            data = source.read(photo)
            return normalise(data, size=size, crop=crop), photo_fingerprint(data)
        except InvalidPhoto as exc:
            raise InvalidImage(str(exc)) from None

    return read
