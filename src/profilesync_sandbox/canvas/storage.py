"""Users' folders and files: paths, quota, duplicates, thumbnails and the file JSON (docs/canvas.md §12, §13).

Every function expects the caller to hold ``state.lock``.
"""

from __future__ import annotations

import mimetypes
import random
import struct
import zlib
from typing import TYPE_CHECKING, Any

from profilesync_sandbox.canvas.records import MY_FILES, PROFILE_PICTURES, UNFILED, FileRecord, FolderRecord, UserRecord

if TYPE_CHECKING:
    from profilesync_sandbox.canvas.data import SandboxData

# Content types Canvas makes thumbnails for; SVG, HEIC and friends never get one, so never become avatars
# (docs/canvas.md §10).
THUMBNAILABLE = frozenset({"image/jpeg", "image/pjpeg", "image/jpg", "image/png", "image/x-png", "image/gif"})
_MAGIC = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n", "image/gif": b"GIF8"}
_MAGIC_ALIASES = {"image/pjpeg": "image/jpeg", "image/jpg": "image/jpeg", "image/x-png": "image/png"}
MIN_QUOTA_SIZE = 512  # docs/canvas.md §13: each file counts at least 512 bytes


def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A solid-colour PNG built without Pillow (the placeholder avatars)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


PLACEHOLDER_PNG = _png(50, 50, (200, 200, 200))  # /images/messages/avatar-50.png
DOTTED_PNG = _png(50, 50, (235, 235, 235))  # /images/dotted_pic.png, the no_pic option


def guess_content_type(name: str) -> str:
    """Canvas guesses from the extension when content_type is missing or unknown/unknown (docs/canvas.md §12.2)."""
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed or "unknown/unknown"


def is_real_image(data: bytes, content_type: str) -> bool:
    """Thumbnail generation only succeeds when the bytes really are the claimed image type."""
    kind = _MAGIC_ALIASES.get(content_type, content_type)
    magic = _MAGIC.get(kind)
    return magic is not None and data.startswith(magic)


# -- folders (docs/canvas.md §12.7)


def _children(state: SandboxData, user: UserRecord, parent_id: int | None) -> list[FolderRecord]:
    return [f for f in state.user_folders.get(user.id, []) if f.parent_id == parent_id and not f.deleted]


def _make_folder(state: SandboxData, user: UserRecord, name: str, parent_id: int | None) -> FolderRecord:
    folder = FolderRecord(state.next_folder_id, user.id, name, parent_id, state.clock.now())
    state.next_folder_id += 1
    state.folders[folder.id] = folder
    state.user_folders.setdefault(user.id, []).append(folder)  # ids only grow, so the list stays sorted
    return folder


def root_folder(state: SandboxData, user: UserRecord) -> FolderRecord:
    roots = _children(state, user, None)
    return roots[0] if roots else _make_folder(state, user, MY_FILES, None)


def assert_path(state: SandboxData, user: UserRecord, path: str) -> FolderRecord:
    """``Folder.assert_path``: find or create each folder of ``path`` under ``my files``."""
    parts = [p for p in path.split("/") if p.strip()]
    if parts and parts[0] == MY_FILES:
        parts = parts[1:]  # a leading "my files/" is the root itself
    folder = root_folder(state, user)
    for name in parts:
        found = next((f for f in _children(state, user, folder.id) if f.name == name), None)
        folder = found or _make_folder(state, user, name, folder.id)
    return folder


def profile_pics_folder(state: SandboxData, user: UserRecord) -> FolderRecord:
    """The first active folder named "profile pictures" anywhere, else a new one under my files
    (docs/canvas.md §12.7)."""
    named = [f for f in state.user_folders.get(user.id, []) if f.name == PROFILE_PICTURES and not f.deleted]
    if named:
        return named[0]
    return _make_folder(state, user, PROFILE_PICTURES, root_folder(state, user).id)


def add_early_profile_pics_folder(
    state: SandboxData, user: UserRecord, parent: str, *, with_picture: bool = True
) -> FolderRecord:
    """A "profile pictures" folder under ``my files/<parent>`` (holding one picture of the user's, or empty)
    that ``profile_pics_folder`` finds before ``my files/profile pictures`` (User#initialize_default_folder
    takes the first active folder of that name anywhere). Call it before anything made the usual one."""
    folder = assert_path(state, user, f"{parent}/{PROFILE_PICTURES}")
    if with_picture:
        data = PLACEHOLDER_PNG
        record = new_file(state, user, folder.id, "my old photo.png", "image/png", data, on_duplicate="rename")
        finalize_file(state, record, thumbnail_lag=0.0)
    return folder


def seed_early_profile_pics_folders(state: SandboxData) -> None:
    """``two_profile_folders_rate`` of the users with an SIS id get one (an own draw: the population stays)."""
    rate = state.config.two_profile_folders_rate
    pick = random.Random(state.config.seed ^ 0xF01D)
    for user in sorted(state.user_records.values(), key=lambda u: u.id):
        if rate and user.listed and user.sis_user_id and pick.random() < rate:
            add_early_profile_pics_folder(state, user, "Old Files")


def unfiled_folder(state: SandboxData, user: UserRecord) -> FolderRecord:
    """Where a preflight without a folder lands (docs/canvas.md §12.2 step 5)."""
    return assert_path(state, user, UNFILED)


def full_name(state: SandboxData, folder: FolderRecord) -> str:
    names = [folder.name]
    while folder.parent_id is not None:
        folder = state.folders[folder.parent_id]
        names.append(folder.name)
    return "/".join(reversed(names))


# -- quota (docs/canvas.md §13)


def quota(state: SandboxData, user: UserRecord) -> int:
    return user.quota if user.quota is not None else state.config.default_quota


def quota_used(state: SandboxData, user: UserRecord) -> int:
    return sum(max(f.size, MIN_QUOTA_SIZE) for f in state.user_files.get(user.id, []) if f.state == "available")


# -- files


def new_file(
    state: SandboxData,
    user: UserRecord,
    folder_id: int | None,
    display_name: str,
    content_type: str,
    data: bytes,
    *,
    on_duplicate: str = "overwrite",
) -> FileRecord:
    """A pending attachment (Canvas: ``file_state = deleted``, invisible until confirmed)."""
    now = state.clock.now()
    record = FileRecord(
        id=state.next_file_id,
        uuid=state.new_uuid(),
        user_id=user.id,
        folder_id=folder_id,
        display_name=display_name,
        filename=display_name,
        content_type=content_type,
        size=len(data),
        data=data,
        state="pending",
        created_at=now,
        updated_at=now,
        on_duplicate=on_duplicate,
    )
    state.next_file_id += 1
    state.file_records[record.id] = record
    state.user_files.setdefault(user.id, []).append(record)
    return record


def exceeds_quota(state: SandboxData, user: UserRecord, size: int) -> bool:
    """The post-upload check (docs/canvas.md §12.4): the new file, at least 512 bytes, must fit beside the active
    ones."""
    return quota_used(state, user) + max(size, MIN_QUOTA_SIZE) > quota(state, user)


def finalize_file(state: SandboxData, record: FileRecord, *, thumbnail_lag: float) -> None:
    """Make a pending file available, apply on_duplicate, and schedule its thumbnail."""
    record.state = "available"
    record.updated_at = state.clock.now()
    _handle_duplicates(state, record)
    if record.content_type in THUMBNAILABLE and is_real_image(record.data, record.content_type):
        record.thumbnail_ready_at = state.clock.time() + thumbnail_lag


def _handle_duplicates(state: SandboxData, record: FileRecord) -> None:
    """docs/canvas.md §12.5: overwrite deletes same-named siblings (the new file keeps its new id); rename suffixes
    it."""
    siblings = [
        f
        for f in state.user_files.get(record.user_id, [])
        if f.id != record.id and f.folder_id == record.folder_id and f.state == "available"
    ]
    if record.on_duplicate == "overwrite":
        for old in siblings:
            if old.display_name == record.display_name:
                old.replacement_attachment_id = record.id
                delete_file(state, old)
        return
    names = {f.display_name for f in siblings}
    if record.display_name not in names:
        return
    stem, dot, ext = record.display_name.rpartition(".")
    if not dot:
        stem, ext = record.display_name, ""
    for attempt in range(1, 11):
        candidate = f"{stem}-{attempt}{dot}{ext}"
        if candidate not in names:
            record.display_name = candidate
            return
    record.display_name = f"{stem}-{record.uuid}{dot}{ext}"  # Canvas gives up after 10 tries


def delete_file(state: SandboxData, record: FileRecord) -> None:
    """Delete a file; an avatar pointing at it is cleared, as ``clear_avatar_image_url_with_uuid`` does."""
    record.state = "deleted"
    record.updated_at = state.clock.now()
    if not state.config.clear_avatar_on_delete:
        return
    owner = state.user_records.get(record.user_id)
    if owner and owner.avatar_image_url and record.uuid in owner.avatar_image_url:
        owner.avatar_image_url = None
        owner.avatar_image_source = "no_pic"


def has_thumbnail(state: SandboxData, record: FileRecord) -> bool:
    return (
        record.state == "available"
        and record.thumbnail_ready_at is not None
        and record.thumbnail_ready_at <= state.clock.time()
    )


def thumbnail_url(base: str, record: FileRecord) -> str:
    """``thumbnail_image_url``: ``<host>/images/thumbnails/<id>/<uuid>`` (docs/canvas.md §9)."""
    return f"{base}/images/thumbnails/{record.id}/{record.uuid}"


def _iso(state: SandboxData, record: FileRecord, which: str) -> str:
    value = record.created_at if which == "created" else record.updated_at
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def file_json(state: SandboxData, record: FileRecord, base: str) -> dict[str, Any]:
    """``attachment_json`` (docs/canvas.md §12.6), with the keys in Canvas's order."""
    thumbnailable = record.content_type in THUMBNAILABLE
    mime_class = "image" if record.content_type.startswith("image/") else "file"
    return {
        "id": record.id,
        "uuid": record.uuid,
        "folder_id": record.folder_id,
        "display_name": record.display_name,
        "filename": record.filename,
        "upload_status": "success" if record.state == "available" else "pending",
        "content-type": record.content_type,
        "url": f"{base}/files/{record.id}/download?download_frd=1&verifier={record.uuid}",
        "size": record.size,
        "created_at": _iso(state, record, "created"),
        "updated_at": _iso(state, record, "updated"),
        "unlock_at": None,
        "locked": False,
        "hidden": False,
        "lock_at": None,
        "hidden_for_user": False,
        "thumbnail_url": thumbnail_url(base, record) if thumbnailable else None,
        "modified_at": _iso(state, record, "updated"),
        "mime_class": mime_class,
        "media_entry_id": None,
        "category": "uncategorized",
        "locked_for_user": False,
        "preview_url": f"{base}/users/{record.user_id}/files/{record.id}/file_preview?annotate=0",
    }
