"""Domain primitives both the engine and the adapters use: secrets, how keys compare, photo fingerprints, crops.

Dependency-free on purpose: the settings module, the targets, the photo scanner and the engine all import
this, so it imports nothing of theirs.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from enum import Enum


class Secret:
    """A token that cannot leak by accident: its str/repr are masked; only ``reveal()`` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('<hidden>')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def basic_credentials(user: str, token: Secret) -> Secret:
    """An ``Authorization: Basic`` value, base64 of ``user:token`` (Guru's scheme): as secret as the token."""
    return Secret(base64.b64encode(f"{user}:{token.reveal()}".encode()).decode("ascii"))


def fold_key(match: str) -> Callable[[str], str]:
    """How keys compare, for photo names and users alike: SIS and integration ids are case-sensitive in
    Canvas (docs/canvas.md §7), logins and emails are not (Canvas and Guru)."""
    return str.casefold if match in ("login_id", "email") else str


def photo_fingerprint(data: bytes) -> str:
    """The fingerprint of a photo's source bytes (SHA-256, hex): equal fingerprints mean "the same photo",
    which is how the history tells a changed photo from one already synced."""
    return hashlib.sha256(data).hexdigest()


class Crop(str, Enum):
    """How a photo is cut to the avatar's square (``PROFILESYNC_CROP``; docs/design.md §4.4). Here because the
    settings choose it and the photo code applies it, and neither may import the other."""

    CENTRE = "centre"  # the centred square: what every version before issue 15 uploaded
    PORTRAIT = "portrait"  # a tall photo's square taken near its top, where a portrait's head is
    FACE = "face"  # centred on the largest face found (the ``faces`` extra); else as PORTRAIT
