"""Where the photos come from: the folder (the default) or the SIS database (``photos/sql.py``).

Both give the planner the same ``PhotoSet`` (keys, SHA-256 fingerprints, problems) through the same
fingerprint cache, and the executor the same bytes at upload time; only how they are found differs. The
choice is made once, here (``open_source``): a photo query URL set means the database, else the folder.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Protocol

from profilesync.domain import Secret
from profilesync.engine.model import Fingerprint, Photo
from profilesync.photos.image import read_photo
from profilesync.photos.scan import ScanResult, scan_photos


class PhotoSource(Protocol):
    """What a job asks of its photos: are they there, what are they, and one photo's bytes."""

    #: what to do when the source is unavailable
    advice: str
    #: whether ``scan(keys=...)`` looks up only those keys (else it reads everything whatever ``keys`` says)
    by_key: bool

    def unavailable(self) -> str | None:
        """Why the photos cannot be read at all (a missing folder, an unreachable database), else None."""

    def scan(
        self, *, fold_key: Callable[[str], str], cache: Mapping[str, Fingerprint], keys: Collection[str] | None
    ) -> ScanResult:
        """Every photo by key (only ``keys`` when given and the source can look them up one by one)."""

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
        self, *, fold_key: Callable[[str], str], cache: Mapping[str, Fingerprint], keys: Collection[str] | None
    ) -> ScanResult:
        # Listing a folder costs the same whatever ``keys`` says: the whole folder is scanned.
        return scan_photos(self.folder, fold_key=fold_key, cache=cache)

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
