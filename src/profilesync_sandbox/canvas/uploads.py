"""File uploads (docs/canvas.md §12, §13): the preflight and confirm on the Canvas host, and the upload host.

Two backends, chosen by ``upload_mode``:

- ``instfs`` (hosted Canvas): the preflight hands out ``<upload host>/files?token=<JWT>``; the upload host
  stores the file and answers 201 with ``location`` (and, unless ``instfs_body_ids`` is off, the file JSON).
- ``local`` (self-hosted): the preflight creates a pending attachment and hands out a signed Policy for
  ``<upload host>/files_api``; the upload host answers 302 to the one-shot ``create_success`` URL.

The upload host is a different origin on purpose: it must never see the Canvas token, and it records every
``Authorization`` header it receives so that tests can prove it never did (docs/canvas.md §12.3).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
from typing import Any

from profilesync_sandbox.canvas import avatars, errors, refusals, storage
from profilesync_sandbox.canvas.app import Ctx
from profilesync_sandbox.canvas.data import SandboxData
from profilesync_sandbox.canvas.errors import NOT_FOUND_MESSAGE, ApiError
from profilesync_sandbox.canvas.pagination import known_total_links, link_header, page_number, per_page_for, ruby_to_i
from profilesync_sandbox.canvas.records import FileRecord, FolderRecord, UserRecord
from profilesync_sandbox.canvas.throttle import refused
from profilesync_sandbox.routing import Route, RouteMatch
from profilesync_sandbox.wire import (
    Part,
    Request,
    Response,
    empty_response,
    encode_json,
    json_response,
    redirect,
)

ON_DUPLICATE = frozenset({"overwrite", "rename"})
LOCAL_FILE_FIELDS = ("attachment[uploaded_data]", "file")  # local storage takes either (docs/canvas.md §12.3)


# -- signing


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_jwt(state: SandboxData, payload: dict[str, Any]) -> str:
    """An HS256 JWT, like the inst-fs upload token."""
    head = _b64(json.dumps({"typ": "JWT", "alg": "HS256"}, separators=(",", ":")).encode())
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    signature = hmac.new(state.secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(signature)}"


def verify_jwt(state: SandboxData, token: str) -> dict[str, Any] | None:
    """The payload if the signature holds and it has not expired; None otherwise."""
    try:
        head, body, signature = token.split(".")
        expected = hmac.new(state.secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(signature)):
            return None
        payload: dict[str, Any] = json.loads(_unb64(body))
    except (ValueError, TypeError):
        return None
    return payload if float(payload.get("exp", 0)) > state.clock.time() else None


def _policy_signature(state: SandboxData, policy: str) -> str:
    return base64.b64encode(hmac.new(state.secret, policy.encode(), hashlib.sha1).digest()).decode()


# -- Canvas host: preflight (docs/canvas.md §12.1, §12.2)


def preflight(ctx: Ctx, args: dict[str, str]) -> Response:
    """POST /api/v1/users/:user_id/files: only the user themself (admins must masquerade, docs/canvas.md §12.1)."""
    target = ctx.find_user(args["user_id"])
    # UsersController's before_action check_limited_access_for_students runs before create_file's own checks
    if refusals.limited_access(ctx.state, target):
        raise ctx.unauthorized()
    if ctx.me().id != target.id:
        raise ctx.unauthorized()  # manage_files_add on a User is granted to that user only
    params = ctx.params
    folder_path = params.get("parent_folder_path")
    if folder_path is None:
        folder_path = params.get("folder")  # the deprecated alias
    folder_id = params.get("parent_folder_id")
    if folder_path is not None and folder_id is not None:
        raise errors.message_error(400, "Can't set folder path and folder id")
    on_duplicate = params.get("on_duplicate")
    if on_duplicate is not None and on_duplicate not in ON_DUPLICATE:
        raise errors.message_error(400, "invalid on_duplicate option")
    size = params.get("size")
    state = ctx.state
    if size is not None and storage.quota(state, target) < storage.quota_used(state, target) + ruby_to_i(size):
        raise errors.message_error(400, "file size exceeds quota")
    folder = _folder(state, target, folder_path, folder_id)
    name = params.get("name") or params.get("filename")
    if not name:
        raise errors.message_error(400, "No filename provided")
    content_type = params.get("content_type") or ""
    if not content_type or content_type == "unknown/unknown":
        content_type = storage.guess_content_type(name)
    if ctx.config.upload_mode == "instfs":
        return json_response(200, _instfs_preflight(state, target, folder.id, name, content_type, on_duplicate))
    return json_response(200, _local_preflight(state, target, folder.id, name, content_type, on_duplicate))


def _folder(state: SandboxData, user: UserRecord, folder_path: str | None, folder_id: str | None) -> FolderRecord:
    if folder_id is not None:
        folder = state.folders.get(ruby_to_i(folder_id))
        if folder is None or folder.user_id != user.id or folder.deleted:
            # top-level "message", not errors[] (docs/canvas.md §12.2)
            raise errors.message_error(404, NOT_FOUND_MESSAGE)
        return folder
    if folder_path is not None:
        return storage.assert_path(state, user, folder_path)
    return storage.unfiled_folder(state, user)


def _instfs_preflight(
    state: SandboxData, user: UserRecord, folder_id: int, name: str, content_type: str, on_duplicate: str | None
) -> dict[str, Any]:
    token = sign_jwt(
        state,
        {
            "user_id": user.id,
            "folder_id": folder_id,
            "filename": name,
            "content_type": content_type,
            "on_duplicate": on_duplicate or "overwrite",
            "exp": state.clock.time() + state.config.upload_expiry_s,
            "jti": state.new_uuid(),
        },
    )
    return {
        "file_param": "file",
        "progress": None,
        "upload_url": f"{state.upload_base_url}/files?token={token}",
        "upload_params": {"filename": name, "content_type": content_type},
    }


def _local_preflight(
    state: SandboxData, user: UserRecord, folder_id: int, name: str, content_type: str, on_duplicate: str | None
) -> dict[str, Any]:
    record = storage.new_file(state, user, folder_id, name, content_type, b"", on_duplicate=on_duplicate or "overwrite")
    record.expires_at = state.clock.time() + state.config.upload_expiry_s
    policy = base64.b64encode(
        json.dumps(
            {
                "expiration": state.clock.now().isoformat(),
                "conditions": [{"bucket": "local"}, {"attachment_id": record.id}, {"acl": "private"}],
            }
        ).encode()
    ).decode()
    params = {
        "Filename": name,
        "key": f"attachments/{record.id}/{name}",
        "acl": "private",
        "Policy": policy,
        "Signature": _policy_signature(state, policy),
        "content-type": content_type,
    }
    record.expected_params = dict(params)
    upload_url = f"{state.upload_base_url}/files_api"
    return {"upload_url": upload_url, "upload_params": params, "file_param": LOCAL_FILE_FIELDS[0]}


# -- Canvas host: confirm, file, quota (docs/canvas.md §12.4, §12.6, §13)


def _file_by_id(state: SandboxData, raw: str) -> FileRecord | None:
    return state.file_records.get(int(raw)) if raw.isascii() and raw.isdigit() else None


def create_success(ctx: Ctx, args: dict[str, str]) -> Response:
    """GET|POST /api/v1/files/:id/create_success?uuid=: no permission check, and one-shot (docs/canvas.md §12.4)."""
    record = _file_by_id(ctx.state, args["id"])
    if record is None or record.uuid != ctx.params.get("uuid") or record.state != "pending" or not record.data:
        raise errors.empty(400)  # already confirmed (or never uploaded): 400 with an empty body
    owner = ctx.state.user_records[record.user_id]
    if storage.exceeds_quota(ctx.state, owner, record.size):
        raise errors.message_error(400, "file size exceeds quota limits")
    storage.finalize_file(ctx.state, record, thumbnail_lag=ctx.config.thumbnail_lag_s)
    body = storage.file_json(ctx.state, record, ctx.base)
    if "avatar" in ctx.params.getlist("include[]"):
        # the token is computed for whoever calls create_success, not for the file's owner (docs/canvas.md §17 #5)
        caller_id = ctx.user.id if ctx.user else 0
        body["avatar"] = avatars.attachment_option(ctx, record, caller_id)
    return json_response(200, body)


def show_file(ctx: Ctx, args: dict[str, str]) -> Response:
    """GET /api/v1/files/:id: the owner or an admin (read_files); pending or deleted files are 404."""
    record = _file_by_id(ctx.state, args["id"])
    if record is None or record.state != "available":
        raise errors.not_found()
    if ctx.me().id != record.user_id and not ctx.perms:
        raise ctx.unauthorized()
    return json_response(200, storage.file_json(ctx.state, record, ctx.base))


def show_quota(ctx: Ctx, args: dict[str, str]) -> Response:
    """GET /api/v1/users/:user_id/files/quota (docs/canvas.md §13): files count at least 512 bytes each."""
    target = ctx.find_user(args["user_id"])
    if ctx.me().id != target.id and not ctx.perms:
        raise ctx.unauthorized()
    state = ctx.state
    return json_response(200, {"quota": storage.quota(state, target), "quota_used": storage.quota_used(state, target)})


def list_folders(ctx: Ctx, args: dict[str, str]) -> Response:
    """GET /api/v1/users/:user_id/folders: FoldersController#list_all_folders — every active folder of the
    user, flat, by name, paginated (10 by default); the user or an admin (read_files)."""
    target = ctx.find_user(args["user_id"])
    if ctx.me().id != target.id and not ctx.perms:
        raise ctx.unauthorized()
    state = ctx.state
    folders = sorted(
        (f for f in state.user_folders.get(target.id, []) if not f.deleted), key=lambda f: (f.name.casefold(), f.id)
    )
    per_page, page = per_page_for(ctx.params), page_number(ctx.params)
    rows = folders[(page - 1) * per_page : page * per_page]
    body = [
        {
            "id": f.id,
            "name": f.name,
            "full_name": storage.full_name(state, f),
            "parent_folder_id": f.parent_id,
            "context_type": "User",
            "context_id": target.id,
        }
        for f in rows
    ]
    links = known_total_links(page, per_page, len(folders))
    link = link_header(ctx.base + ctx.request.raw_path, ctx.request.query, links, per_page)
    return json_response(200, body, [("Link", link)] if link else [])


ROUTES = [
    Route("POST", "/api/v1/users/:user_id/files", preflight),
    Route("GET", "/api/v1/users/:user_id/folders", list_folders),
    Route("GET", "/api/v1/users/:user_id/files/quota", show_quota),
    Route("GET", "/api/v1/files/:id", show_file),
    Route("GET", "/api/v1/files/:id/create_success", create_success, needs_user=False),
    Route("POST", "/api/v1/files/:id/create_success", create_success, needs_user=False),
]


# -- the upload host


def _fields_before_file(parts: list[Part], file_fields: tuple[str, ...]) -> tuple[dict[str, str], Part | None]:
    """Form fields up to the file part, and the file. Like S3, anything after the file is ignored."""
    fields: dict[str, str] = {}
    for part in parts:
        if part.name in file_fields:
            return fields, part
        fields[part.name] = part.data.decode("utf-8", "replace")
    return fields, None


class UploadApp:
    """The separate upload host (inst-fs / ``/files_api``)."""

    host_name = "upload"

    def __init__(self, state: SandboxData) -> None:
        self.state = state

    def match(self, request: Request) -> RouteMatch | None:
        if request.method == "POST" and request.raw_path in ("/files", "/files_api"):
            return RouteMatch(f"POST {request.raw_path}", {}, None, needs_user=False)
        return None

    def token(self, request: Request) -> str:
        """The upload throttle's bucket (when ``upload_throttle`` is on): the client address, as RequestThrottle
        keys a request with no token."""
        return f"ip:{request.client}"

    def refusal(self, remaining: float) -> Response:
        """The upload host's "slow down": Canvas's own 403 on local storage, 429/503 + Retry-After on inst-fs."""
        config = self.state.config
        if config.upload_mode == "local":
            return refused(403, remaining)  # RequestThrottle#rate_limit_exceeded
        # room for one more reservation once the bucket leaked down to hwm - up_front_cost
        wait = max(1, math.ceil((config.up_front_cost - remaining) / max(config.outflow, 0.1)))
        status = config.upload_throttle_status
        body = {"error": "Too Many Requests" if status == 429 else "Service Unavailable", "retry_after": wait}
        response = Response(status, encode_json(body), "application/json; charset=utf-8")
        response.headers.append(("Retry-After", str(wait)))
        return response

    def handle(self, request: Request, match: RouteMatch | None) -> Response:
        authorization = request.header("authorization")
        if authorization is not None:
            self.state.record_upload_auth(authorization)  # the client leaked its Canvas token (docs/canvas.md §12.3)
        if match is None:
            return empty_response(404)
        if not request.multipart:
            return empty_response(400)
        try:
            if request.raw_path == "/files":
                return self._instfs(request)
            return self._local(request)
        except ApiError as exc:
            response = exc.response
            if response.is_json:
                return Response(response.status, encode_json(response.payload), "application/json; charset=utf-8")
            return response

    def fault_response(self, request: Request, status: int, body: Any) -> Response:
        if body is None:
            return Response(status, encode_json({"error": "upload service error"}), "application/json; charset=utf-8")
        if isinstance(body, dict | list):
            return Response(status, encode_json(body), "application/json; charset=utf-8")
        return Response(status, body.encode() if isinstance(body, str) else bytes(body), "text/plain; charset=utf-8")

    def _instfs(self, request: Request) -> Response:
        state = self.state
        payload = verify_jwt(state, request.params.get("token") or "")
        if payload is None:
            return empty_response(400)
        fields, file_part = _fields_before_file(request.parts, ("file",))
        for key in ("filename", "content_type"):
            if fields.get(key) != payload[key]:
                raise errors.message_error(400, f"upload param {key} is missing or changed")
        if file_part is None:
            raise errors.message_error(400, "no file part named file")
        with state.lock:
            user = state.user_records[int(payload["user_id"])]
            if storage.exceeds_quota(state, user, len(file_part.data)):
                # inst-fs relays the capture call's post-upload quota failure (docs/canvas.md §12.4)
                raise errors.message_error(400, "file size exceeds quota limits")
            folder = state.folders.get(int(payload["folder_id"]))
            folder_id = folder.id if folder and not folder.deleted else storage.unfiled_folder(state, user).id
            record = storage.new_file(
                state,
                user,
                folder_id,
                str(payload["filename"]),
                str(payload["content_type"]),
                file_part.data,
                on_duplicate=str(payload["on_duplicate"]),
            )
            storage.finalize_file(state, record, thumbnail_lag=state.config.thumbnail_lag_s)
            location = f"{state.canvas_base_url}/api/v1/files/{record.id}?include%5B%5D=enhanced_preview_url"
            body: dict[str, Any] = {"location": location}
            if state.config.instfs_body_ids:
                body.update(storage.file_json(state, record, state.canvas_base_url))
        return Response(201, encode_json(body), "application/json; charset=utf-8")

    def _local(self, request: Request) -> Response:
        state = self.state
        fields, file_part = _fields_before_file(request.parts, LOCAL_FILE_FIELDS)
        policy, signature = fields.get("Policy"), fields.get("Signature")
        if not policy or not signature or not hmac.compare_digest(_policy_signature(state, policy), signature):
            return empty_response(400)  # invalid policy: 400, empty body (docs/canvas.md §12.3)
        try:
            conditions = json.loads(base64.b64decode(policy))["conditions"]
            attachment_id = next(int(c["attachment_id"]) for c in conditions if "attachment_id" in c)
        except (ValueError, KeyError, StopIteration, TypeError):
            return empty_response(400)
        with state.lock:
            record = state.file_records.get(attachment_id)
            if record is None or record.state != "pending" or record.expires_at < state.clock.time():
                return empty_response(400)
            if any(fields.get(k) != v for k, v in record.expected_params.items()) or file_part is None:
                return empty_response(400)
            record.data = file_part.data
            record.size = len(file_part.data)
            owner = state.user_records[record.user_id]
            location = f"{state.canvas_base_url}/api/v1/files/{record.id}/create_success?uuid={record.uuid}"
            if record.folder_id == storage.profile_pics_folder(state, owner).id:
                location += "&include%5B%5D=avatar"  # the uploader's own profile pictures folder (docs/canvas.md §12.3)
        return redirect(302, location)
