"""Non-API paths on the Canvas host: images a browser loads, file downloads, and a small index page.

None of these need a token (docs/canvas.md §1.1: only ``/api/`` paths are API requests), so a browser pointed at the
sandbox shows the avatars the sync set.
"""

from __future__ import annotations

import html

from profilesync_sandbox.canvas import storage
from profilesync_sandbox.canvas.app import Ctx
from profilesync_sandbox.canvas.records import DOMAIN_ROOT_ACCOUNT_ID
from profilesync_sandbox.canvas.userjson import avatar_url
from profilesync_sandbox.routing import Route
from profilesync_sandbox.wire import Response

_NOT_FOUND = Response(404, b"<html><body>Page Not Found</body></html>", "text/html; charset=utf-8")
INDEX_LIMIT = 200


def thumbnail(ctx: Ctx, args: dict[str, str]) -> Response:
    """GET /images/thumbnails/:id/:uuid: the stored bytes (Canvas would redirect to the real thumbnail)."""
    raw = args["id"]
    record = ctx.state.file_records.get(int(raw)) if raw.isascii() and raw.isdigit() else None
    if record is None or record.uuid != args["uuid"] or record.state != "available":
        return _NOT_FOUND
    return Response(200, record.data, record.content_type, [("Cache-Control", "max-age=60")])


def download(ctx: Ctx, args: dict[str, str]) -> Response:
    """GET /files/:id/download?verifier=<uuid>."""
    raw = args["id"]
    record = ctx.state.file_records.get(int(raw)) if raw.isascii() and raw.isdigit() else None
    if record is None or record.state != "available" or ctx.params.get("verifier") != record.uuid:
        return _NOT_FOUND
    disposition = f'attachment; filename="{record.display_name}"'
    return Response(200, record.data, record.content_type, [("Content-Disposition", disposition)])


def placeholder(ctx: Ctx, args: dict[str, str]) -> Response:
    """GET /images/messages/avatar-50.png: the no-avatar fallback."""
    return Response(200, storage.PLACEHOLDER_PNG, "image/png")


def dotted(ctx: Ctx, args: dict[str, str]) -> Response:
    """GET /images/dotted_pic.png: the picture of the no_pic avatar option."""
    return Response(200, storage.DOTTED_PNG, "image/png")


def index(ctx: Ctx, args: dict[str, str]) -> Response:
    """GET /: the first users of the account with their current avatars, for a human to look at."""
    users = ctx.state.sorted_users(DOMAIN_ROOT_ACCOUNT_ID)
    rows = "".join(
        f'<tr><td><img src="{html.escape(avatar_url(ctx, u))}" width="50" height="50" alt=""></td>'
        f"<td>{html.escape(u.name)}</td><td>{html.escape(u.sis_user_id or '')}</td><td>{u.avatar_state}</td></tr>"
        for u in users[:INDEX_LIMIT]
    )
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>profilesync Canvas sandbox</title></head><body>"
        f"<h1>profilesync Canvas sandbox</h1><p>{len(users)} users; the first {min(len(users), INDEX_LIMIT)}:</p>"
        f"<table><tr><th></th><th>name</th><th>SIS id</th><th>avatar state</th></tr>{rows}</table></body></html>"
    )
    return Response(200, page.encode(), "text/html; charset=utf-8")


ROUTES = [
    Route("GET", "/", index, needs_user=False),
    Route("GET", "/images/thumbnails/:id/:uuid", thumbnail, needs_user=False),
    Route("GET", "/images/messages/avatar-50.png", placeholder, needs_user=False),
    Route("GET", "/images/dotted_pic.png", dotted, needs_user=False),
    Route("GET", "/files/:id/download", download, needs_user=False),
]
