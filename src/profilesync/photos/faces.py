"""The optional face detector (the ``faces`` extra, ``pip install 'profilesync[faces]'``) for ``PROFILESYNC_CROP=face``.

OpenCV's Haar cascade for frontal faces: the model is an XML file inside the opencv-python-headless wheel
(``cv2.data.haarcascades``), so nothing is downloaded at run time. OpenCV 5 wheels no longer carry the cascades,
hence the extra's ``<5``. OpenCV and numpy are imported on the first detection only: start-up, plans and runs
with another cut never load them. Without them (or without the cascade file) ``detect`` answers None, said once
in the log, and the crop falls back to the portrait cut.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from typing import TYPE_CHECKING, Any, Final

from profilesync.photos.crop import Box

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)

INSTALL_ADVICE: Final = "pip install 'profilesync[faces]'"
# "alt2" rather than "default": fewer false faces (in hair, patterned shirts) at the same hit rate on portraits.
CASCADE: Final = "haarcascade_frontalface_alt2.xml"
# Faces are looked for on a copy at most this long: a school portrait's face is large, and the cascade's time
# grows with the pixel count (~0.2 s at 512 px; a 12-megapixel original would take seconds).
DETECT_EDGE: Final = 640
# A face smaller than this share of the shorter side is not the portrait's subject (a poster, a background
# classmate, a false hit in a pattern).
MIN_FACE: Final = 0.1
MIN_FACE_PX: Final = 20  # the cascade's own window is 20×20
# OpenCV's usual settings: a 10% step between scales, and a face must be found by 5 overlapping windows.
SCALE_STEP: Final = 1.1
MIN_NEIGHBOURS: Final = 5

_LOAD_LOCK = threading.Lock()
_loaded: list[Any] = []  # [cv2 module, cascade path] once loaded, [None, None] when unavailable
_local = threading.local()  # one classifier per worker thread: OpenCV does not promise a shared one is safe


def _opencv() -> tuple[Any, str] | None:
    """OpenCV and the cascade's path, loaded once; None (logged once) when the extra is not installed."""
    with _LOAD_LOCK:
        if not _loaded:
            _loaded.extend(_load())
        cv2, path = _loaded
    return None if cv2 is None else (cv2, path)


def _load() -> tuple[Any, str | None]:
    try:
        cv2: Any = importlib.import_module("cv2")  # Any: mypy must not need OpenCV's stubs to check the rest
    except ImportError:
        log.warning("face-aware crop: OpenCV is not installed (%s); photos are cut as portraits", INSTALL_ADVICE)
        return None, None
    except Exception as exc:  # a broken install (e.g. built against another numpy) must not fail every upload
        log.warning(
            "face-aware crop: OpenCV cannot be loaded (%s; %s); photos are cut as portraits", exc, INSTALL_ADVICE
        )
        return None, None
    path = os.path.join(getattr(getattr(cv2, "data", None), "haarcascades", ""), CASCADE)
    if not os.path.isfile(path):
        log.warning(
            "face-aware crop: OpenCV %s has no %s (OpenCV 5 dropped the cascades; %s installs OpenCV 4); "
            "photos are cut as portraits",
            getattr(cv2, "__version__", "?"),
            CASCADE,
            INSTALL_ADVICE,
        )
        return None, None
    # One thread per detection: the run already detects in several workers at once, and OpenCV's own threads
    # on top would only contend for the same cores.
    cv2.setNumThreads(1)
    return cv2, path


def available() -> bool:
    """Whether faces can be detected here (the extra is installed and carries its cascade)."""
    return _opencv() is not None


def detect(image: Image.Image) -> list[Box] | None:
    """The faces in an RGB image, in its pixels (unordered); None when no detector is installed."""
    loaded = _opencv()
    if loaded is None:
        return None
    cv2, path = loaded
    import numpy as np  # installed with OpenCV
    from PIL import Image

    scale = min(1.0, DETECT_EDGE / max(image.size))
    small = image
    if scale < 1.0:
        small = image.resize(
            (max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.Resampling.BOX
        )
    # Equalised grey: the cascade works on grey, and a dark or washed-out photo still shows a face's contrasts.
    grey = cv2.equalizeHist(np.asarray(small.convert("L")))
    least = max(MIN_FACE_PX, round(min(small.size) * MIN_FACE))
    try:
        found = _classifier(cv2, path).detectMultiScale(
            grey, scaleFactor=SCALE_STEP, minNeighbors=MIN_NEIGHBOURS, minSize=(least, least)
        )
    except cv2.error as exc:  # OpenCV's own failure on one photo: that photo is cut as a portrait, not failed
        log.warning("face-aware crop: face detection failed (%s); this photo is cut as a portrait", exc)
        return []
    return [Box(int(x), int(y), int(w), int(h)).scaled(1 / scale) for x, y, w, h in found]


def _classifier(cv2: Any, path: str) -> Any:
    """This thread's cascade classifier (loaded from the XML once per worker thread)."""
    classifier = getattr(_local, "classifier", None)
    if classifier is None:
        classifier = cv2.CascadeClassifier(path)
        _local.classifier = classifier
    return classifier
