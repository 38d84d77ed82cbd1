"""Avatar options, their tokens, and what assigning one does (docs/canvas.md §10, §11.2).

Tokens are ``HMAC-SHA1(secret, "<user id>::<type>::<url>")``: bound to the target user and the exact URL
(host included), so a token made for someone else, or for a URL that changed, simply matches nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import TYPE_CHECKING, Any

from profilesync_sandbox.canvas import storage
from profilesync_sandbox.canvas.records import FileRecord, UserRecord
from profilesync_sandbox.canvas.userjson import NO_PIC_PATH, gravatar_url

if TYPE_CHECKING:
    from profilesync_sandbox.canvas.app import Ctx
    from profilesync_sandbox.canvas.data import SandboxData

GRAVATAR_PATTERN = re.compile(r"^https?://[a-zA-Z0-9.-]+\.gravatar\.com/")


def construct_token(state: SandboxData, user_id: int, kind: str, url: str) -> str:
    """``Canvas::Security.hmac_sha1("#{user.id}::#{type}::#{url}")``: 40 hex chars."""
    return hmac.new(state.secret, f"{user_id}::{kind}::{url}".encode(), hashlib.sha1).hexdigest()


def options(ctx: Ctx, user: UserRecord, *, token_user_id: int | None = None) -> list[dict[str, Any]]:
    """``avatars_json_for_user``: gravatar (if enabled), profile-picture images with thumbnails newest first, no_pic.

    Calling it creates the profile pictures folder, as ``User#profile_pics_folder`` does.
    """
    owner_id = user.id if token_user_id is None else token_user_id
    state = ctx.state
    out: list[dict[str, Any]] = []
    no_pic_url = ctx.base + NO_PIC_PATH
    if ctx.config.gravatar_enabled:
        url = gravatar_url(user, no_pic_url)
        out.append(
            {
                "url": url,
                "type": "gravatar",
                "display_name": "gravatar pic",
                "token": construct_token(state, owner_id, "gravatar", url),
            }
        )
    folder = storage.profile_pics_folder(state, user)
    images = [
        f
        for f in state.user_files.get(user.id, [])
        if f.folder_id == folder.id and f.content_type.startswith("image/") and storage.has_thumbnail(state, f)
    ]
    for record in sorted(images, key=lambda f: f.id, reverse=True):
        out.append(attachment_option(ctx, record, owner_id))
    out.append(
        {
            "url": no_pic_url,
            "type": "no_pic",
            "display_name": "no pic",
            "token": construct_token(state, owner_id, "no_pic", no_pic_url),
        }
    )
    return out


def attachment_option(ctx: Ctx, record: FileRecord, token_user_id: int) -> dict[str, Any]:
    """The file JSON with ``url`` replaced by the thumbnail URL, plus ``type`` and ``token``."""
    option = storage.file_json(ctx.state, record, ctx.base)
    option.pop("preview_url", None)
    thumb = storage.thumbnail_url(ctx.base, record)
    option["url"] = thumb
    option["type"] = "attachment"
    option["token"] = construct_token(ctx.state, token_user_id, "attachment", thumb)
    return option


def option_for_token(ctx: Ctx, user: UserRecord, token: str) -> dict[str, Any] | None:
    """``avatar_for_token``: rebuild the target's list now and find the entry whose token matches."""
    for option in options(ctx, user):
        if hmac.compare_digest(str(option["token"]), token):
            return option
    return None


def assign(ctx: Ctx, user: UserRecord, kind: str | None, url: str | None, *, admin: bool) -> None:
    """docs/canvas.md §11.2 steps 3-4: the admin path bypasses (and keeps) a lock; otherwise a locked avatar is a
    no-op."""
    previous = user.avatar_state
    if admin:
        user.avatar_state = "submitted"
    if user.avatar_state == "locked":
        return  # self or masquerade update of a locked avatar: silently nothing (200)
    if url and GRAVATAR_PATTERN.match(url):
        user.avatar_image_source, user.avatar_image_url, user.avatar_state = "gravatar", url, "submitted"
    elif kind == "attachment" and url:
        user.avatar_image_source, user.avatar_image_url, user.avatar_state = "attachment", url, "submitted"
    elif url and re.match(ctx.config.external_avatar_url_pattern, url):
        user.avatar_image_source, user.avatar_image_url, user.avatar_state = "external", url, "submitted"
    else:
        # anything else clears the avatar: a URL on your own CDN silently removes the picture
        # (docs/canvas.md §11.2, §17 #3)
        user.avatar_image_source, user.avatar_image_url, user.avatar_state = "no_pic", None, "approved"
    if admin:
        user.avatar_state = "locked" if previous == "locked" else "approved"


AVATAR_STATES = ("none", "submitted", "approved", "locked", "reported", "re_reported")


def set_state(user: UserRecord, state: str) -> None:
    """``User#avatar_state=``: unknown values are ignored; ``none`` also clears the image (docs/canvas.md §11.4)."""
    if state not in AVATAR_STATES:
        return
    if state == "none":
        user.avatar_image_url, user.avatar_image_source = None, "no_pic"
    user.avatar_state = state
