"""Under ``respect``, tell our own earlier uploads from pictures users chose, for users the history does not know.

A new or lost history database must not make every avatar profilesync set look like a user's choice (which
would freeze the school for good). Only users whose decision depends on it are asked about — a usable photo,
a picture shown, and no avatar of ours seen in the history — so a run with a full history asks nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from profilesync.engine.model import PhotoSet, RemoteUser, SyncRecord
from profilesync.engine.ports import AvatarTarget


def needs_recognition(user: RemoteUser, photos: PhotoSet, records: Mapping[str, SyncRecord]) -> bool:
    """Would the respect rule's answer for this user depend on who chose the picture shown?"""
    if user.key is None or user.avatar_ref is None or not user.active or user.key in photos.ambiguous:
        return False
    photo = photos.photos.get(user.key)
    if photo is None or photo.problem is not None:
        return False  # skipped or failed whoever chose the picture
    record = records.get(user.key)
    if record is None or record.synced_at is None or record.user_id != user.user_id:
        return True  # the history does not know this user
    return record.avatar_ref is None  # nor an avatar of ours seen applied


def mark_own_avatars(
    target: AvatarTarget, users: list[RemoteUser], photos: PhotoSet, records: Mapping[str, SyncRecord]
) -> list[RemoteUser]:
    """The users, with ``avatar_ours`` set where the target recognises the shown picture as our upload."""
    asked = [u for u in users if needs_recognition(u, photos, records)]
    if not asked:
        return users
    ours = target.own_avatars(asked)
    return [replace(u, avatar_ours=True) if u.user_id in ours else u for u in users]
