"""Photo file names ↔ keys: the escape for characters no file system allows, and near-miss hints.

**Escapes.** An SIS id may hold a character a file name cannot: ``/`` anywhere, and on Windows also
``\\ : * ? " < > |``. Such a character is written ``%`` + its two hex digits (as in a URL): the photo of
``2024/123`` is ``2024%2F123.jpg``. Only these escapes (and ``%25`` for a literal ``%``) are decoded, in either
case of hex digits; any other ``%`` stays as it is, so ordinary names never change meaning.

**Near misses.** A photo that names nobody, but would name a user were letter case, spaces and underscores,
leading zeros or an unescaped ``/`` ignored, is reported with that user and the reason (a hint only: nothing
is ever matched loosely).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace

from profilesync.engine.model import NearMiss, Plan, RemoteUser

#: escape → character, for the characters file systems forbid (and "%" itself)
ESCAPES: Mapping[str, str] = {f"%{ord(c):02X}": c for c in '/\\:*?"<>|%'}
_ESCAPE = re.compile("|".join(re.escape(e) for e in ESCAPES), re.IGNORECASE)


def decode_name(stem: str) -> str:
    """The key a file stem names: ``%2F`` → ``/`` and the other file-system escapes decoded."""
    if "%" not in stem:
        return stem
    return _ESCAPE.sub(lambda m: ESCAPES[m.group(0).upper()], stem)


def encode_key(key: str) -> str:
    """The file stem that names ``key`` (the inverse of ``decode_name``)."""
    return "".join(f"%{ord(c):02X}" if f"%{ord(c):02X}" in ESCAPES else c for c in key)


# -- near misses ------------------------------------------------------------------------------------------------
# Each loosening, with the words the hint uses. Applied in this order; a hint names only those it needed.
_SEPARATORS = re.compile(r"[\s_]+")
_LEADING_ZEROS = re.compile(r"(?<![0-9])0+(?=[0-9])")
_LOOSENINGS: tuple[tuple[str, Callable[[str], str]], ...] = (
    ("letter case", str.casefold),
    # Zeros before separators go: "S_007" and "S/7" both lose their zeros and then their separator.
    ("leading zeros", lambda s: _LEADING_ZEROS.sub("", s)),
    ("spaces or underscores", lambda s: _SEPARATORS.sub("", s)),
    ("a '/' (write it %2F in a file name)", lambda s: s.replace("/", "")),
)


def _loose(key: str, skip: str | None = None) -> str:
    for name, loosen in _LOOSENINGS:
        if name != skip:
            key = loosen(key)
    return key


@dataclass(frozen=True, slots=True)
class Candidate:
    """What near-miss hints need of a user."""

    key: str
    user_id: str
    name: str


#: at most this many users named in one photo's hint (a loosened key shared by many users helps nobody)
MAX_PER_PHOTO = 3


def near_misses(
    unmatched: Iterable[str], users: Iterable[Candidate], photo_keys: Iterable[str]
) -> dict[str, tuple[NearMiss, ...]]:
    """For each unmatched photo key, the users it nearly names (none: not in the result)."""
    wanted = {key: _loose(key) for key in unmatched}
    if not wanted:
        return {}
    loose_wanted = set(wanted.values())
    by_loose: dict[str, list[Candidate]] = {}
    for user in users:
        loose = _loose(user.key)
        if loose in loose_wanted:
            by_loose.setdefault(loose, []).append(user)
    with_photo = set(photo_keys)
    hints: dict[str, tuple[NearMiss, ...]] = {}
    for key, loose in wanted.items():
        misses = [
            NearMiss(u.key, u.user_id, u.name, _why(key, u.key), u.key in with_photo) for u in by_loose.get(loose, ())
        ]
        # Most likely first: a user still without a photo, then the fewest differences.
        misses.sort(key=lambda m: (m.has_photo, len(m.why), m.key))
        if misses:
            hints[key] = tuple(misses[:MAX_PER_PHOTO])
    return hints


def _why(photo_key: str, user_key: str) -> tuple[str, ...]:
    """The loosenings without which the two keys would differ."""
    needed = tuple(name for name, _ in _LOOSENINGS if _loose(photo_key, name) != _loose(user_key, name))
    # Two loosenings can each explain the same difference ("S_/1"): then name every one that changes a key.
    return needed or tuple(n for n, f in _LOOSENINGS if f(photo_key) != photo_key or f(user_key) != user_key)


def with_near_misses(plan: Plan, users: Iterable[RemoteUser], photo_keys: Iterable[str]) -> Plan:
    """The plan with a near-miss hint for each unmatched photo whose name nearly names a user."""
    unmatched = [p.key for p in plan.unmatched_photos]
    if not unmatched:
        return plan
    candidates = (Candidate(u.key, u.user_id, u.name) for u in users if u.key is not None)
    return replace(plan, near_misses=near_misses(unmatched, candidates, photo_keys))
