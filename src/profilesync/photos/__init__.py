"""The photos: the folder or the SIS database, scanned through a fingerprint cache, validated, normalised.

- ``source.py``: which source the settings name (``open_source``), and the scan a job runs on either.
- ``scan.py``: ``scan_photos`` lists the folder and fingerprints each photo through the cache.
- ``sql.py``: ``SqlSource`` reads the photos from the SIS database with the admin's query.
- ``image.py``: ``check_image`` / ``normalise`` and every limit a photo must respect.
- ``formats.py``: which extensions and decoders count, end-of-file checks per format.
- ``crop.py``: where the square is cut (centre, portrait, face), geometry only.
- ``faces.py``: the optional face detector (the ``faces`` extra's OpenCV, loaded on first use).
"""

from __future__ import annotations

from profilesync.photos.formats import HEIF_SUPPORTED, IMAGE_EXTENSIONS
from profilesync.photos.image import (
    JPEG_QUALITY,
    MAX_ASPECT,
    MAX_FILE_BYTES,
    MAX_PIXELS,
    MIN_SIDE,
    InvalidPhoto,
    check_image,
    normalise,
    read_photo,
)
from profilesync.photos.scan import UNDECODABLE_NAME, ScanResult, scan_photos

__all__ = [
    "HEIF_SUPPORTED",
    "IMAGE_EXTENSIONS",
    "JPEG_QUALITY",
    "MAX_ASPECT",
    "MAX_FILE_BYTES",
    "MAX_PIXELS",
    "MIN_SIDE",
    "UNDECODABLE_NAME",
    "InvalidPhoto",
    "ScanResult",
    "check_image",
    "normalise",
    "read_photo",
    "scan_photos",
]
