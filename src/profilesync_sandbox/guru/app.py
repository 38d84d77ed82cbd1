"""The emulated Guru host: basic auth, routing, the four documented endpoints and the public picture host.

Routes (seed 001, plus the picture URLs it hands out):

- ``GET /api/v1/members`` — pages of ``page_size`` with ``Link: <...?token=...>; rel="next-page"`` while more
  follow (developer.getguru.com/docs/paging); ``search`` filters by email or name, case-insensitively.
- ``GET /api/v1/members/:email`` — one member, as a listing row, by email in any letter case
  (developer.getguru.com/docs/updating-profiles, step 1); 404 when there is none.
- ``GET /api/v1/people/:id`` / ``PUT /api/v1/people/:id`` — the person by ``user.id``; the PUT replaces it whole
  and records every field it lost, invented, changed or reordered (``state.put_problems``).
- ``POST /app/picture`` — multipart ``profilePic``; answers ``{"uploadedPictureUrl": ...}`` (the field's name is
  the ``picture_answer_field`` knob).
- ``GET|HEAD /pp/:name`` — the pictures, public (like pp.getguru.com); an Authorization header is recorded.

Credentials: the User token (``user`` + ``token``) reads and writes; the Collection token (``collection_id`` +
``collection_token``) only reads, so writes answer 403. Anything else is a 401. Error bodies are
``{"description": ...}`` — an assumption, Guru does not document them.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote, unquote

from profilesync_sandbox.guru.data import GuruData, picture_type
from profilesync_sandbox.routing import Route, RouteMatch, Routes
from profilesync_sandbox.wire import Request, Response, empty_response, encode_json

JSON_TYPE = "application/json;charset=UTF-8"


@dataclass(frozen=True)
class Caller:
    """Who sent the request, after basic auth."""

    name: str
    can_write: bool


Handler = Callable[[GuruData, Request, Caller, dict[str, str]], Response]


def json_answer(status: int, payload: Any, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, encode_json(payload), JSON_TYPE, list(headers or []))


def error(status: int, description: str, headers: list[tuple[str, str]] | None = None) -> Response:
    return json_answer(status, {"description": description}, headers)


def encode_page_token(offset: int, search: str | None) -> str:
    raw = json.dumps({"o": offset, "s": search or ""}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str) -> tuple[int, str] | None:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        return int(data["o"]), str(data["s"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None


# -- handlers (called with state.lock held)


def list_members(state: GuruData, request: Request, caller: Caller, args: dict[str, str]) -> Response:
    search = request.params.get("search")
    offset = 0
    token = request.params.get("token")
    if token is not None:
        decoded = decode_page_token(token)
        if decoded is None:
            return error(400, "Invalid paging token")
        offset, search = decoded
    members = state.listing(search)
    size = state.config.page_size
    page = members[offset : offset + size]
    headers = []
    if offset + size < len(members):
        nxt = f"{state.base_url}/api/v1/members?token={quote(encode_page_token(offset + size, search))}"
        headers.append(("Link", f'<{nxt}>; rel="{state.config.next_rel}"'))
    return json_answer(200, page, headers)


def get_member(state: GuruData, request: Request, caller: Caller, args: dict[str, str]) -> Response:
    member = state.member_row(unquote(args["email"]))
    if member is None:
        return error(404, "Member not found")
    return json_answer(200, member)


def get_person(state: GuruData, request: Request, caller: Caller, args: dict[str, str]) -> Response:
    member = state.members_by_id.get(args["id"])
    if member is None:
        return error(404, "User not found")
    return json_answer(200, member.person)


def put_person(state: GuruData, request: Request, caller: Caller, args: dict[str, str]) -> Response:
    if not caller.can_write:
        return error(403, "Collection tokens are read-only")
    if args["id"] not in state.members_by_id:
        return error(404, "User not found")
    if request.content_type not in ("application/json", "text/json"):
        return error(415, "Content-Type must be application/json")
    try:
        body = json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return error(400, "Request body is not valid JSON")
    if not isinstance(body, dict):
        return error(400, "Request body must be a person object")
    if not isinstance(body.get("profilePicUrl", ""), str):
        return error(400, "profilePicUrl must be a string")
    person = state.put_person(args["id"], body)
    if not state.config.put_echoes_person:
        return empty_response(204)
    return json_answer(200, person)


def upload_picture(state: GuruData, request: Request, caller: Caller, args: dict[str, str]) -> Response:
    if not caller.can_write:
        return error(403, "Collection tokens are read-only")
    if not request.multipart:
        return error(400, "Expected multipart/form-data with a profilePic file")
    part = next((p for p in request.parts if p.name == "profilePic" and p.filename is not None), None)
    if part is None:
        return error(400, "Missing file field profilePic")
    if len(part.data) > state.config.max_picture_bytes:
        return error(413, "Picture too large")
    if picture_type(part.data) is None:
        return error(400, "profilePic is not an image")
    return json_answer(200, {state.config.picture_answer_field: state.add_picture(part.data)})


def serve_picture(state: GuruData, request: Request, caller: Caller, args: dict[str, str]) -> Response:
    authorization = request.header("authorization")
    if authorization is not None:
        state.record_picture_auth(authorization)
    picture = state.pictures.get(args["name"])
    if picture is None or picture.deleted:
        return Response(404, b"Not Found", "text/plain")
    return Response(200, picture.data, picture.content_type, [("Cache-Control", "public, max-age=31536000")])


ROUTES = (
    Route("GET", "/api/v1/members", list_members),
    Route("GET", "/api/v1/members/:email", get_member),
    Route("GET", "/api/v1/people/:id", get_person),
    Route("PUT", "/api/v1/people/:id", put_person),
    Route("POST", "/app/picture", upload_picture),
    Route("GET", "/pp/:name", serve_picture, needs_user=False),
    Route("HEAD", "/pp/:name", serve_picture, needs_user=False),
)


class GuruApp:
    """The Guru host (``host_name = "guru"``), served by the sandbox's shared ``Pipeline``."""

    host_name = "guru"

    def __init__(self, state: GuruData, *, user: str, token: str, collection_id: str, collection_token: str) -> None:
        self.state = state
        self._routes = Routes(ROUTES, trailing_slash=True)
        self._credentials = {
            (user, token): Caller(user, can_write=True),
            (collection_id, collection_token): Caller(collection_id, can_write=False),
        }

    # -- App protocol

    def match(self, request: Request) -> RouteMatch | None:
        return self._routes.match(request.method, request.raw_path)

    def handle(self, request: Request, match: RouteMatch | None) -> Response:
        return self._echo(request, self._handle(request, match))

    def _handle(self, request: Request, match: RouteMatch | None) -> Response:
        if match is None:
            return error(404, "Not Found")
        caller = Caller("anonymous", can_write=False)
        with self.state.lock:
            if match.needs_user:
                found = self._caller(request)
                if found is None:
                    return error(401, "Unauthorized", [("WWW-Authenticate", 'Basic realm="Guru"')])
                caller = found
                wait = self.state.take_rate_token(caller.name)
                if wait is not None:
                    return error(429, "Too Many Requests", [("Retry-After", str(max(1, math.ceil(wait))))])
            handler: Handler = match.handler
            return handler(self.state, request, caller, match.args)

    def fault_response(self, request: Request, status: int, body: Any) -> Response:
        if isinstance(body, bytes):
            response = Response(status, body, "text/plain")
        elif isinstance(body, str):
            response = Response(status, body.encode(), "text/plain")
        else:
            response = json_answer(status, body if body is not None else {"description": f"Injected error {status}"})
        return self._echo(request, response)

    def _echo(self, request: Request, response: Response) -> Response:
        """With ``echo_credentials_in_errors``, an error answer quotes the credentials it was sent."""
        if not self.state.config.echo_credentials_in_errors or response.status < 400:
            return response
        header = request.header("authorization") or ""
        try:
            decoded = base64.b64decode(header.partition(" ")[2].strip()).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            decoded = ""
        echo = f"request had Authorization: {header} ({decoded})"
        try:
            body = json.loads(response.body.decode("utf-8")) if response.body else None
        except (UnicodeDecodeError, ValueError):
            body = None
        if isinstance(body, dict) and isinstance(body.get("description"), str):
            return replace(response, body=encode_json({**body, "description": f"{body['description']}; {echo}"}))
        return replace(response, body=(response.body.decode("utf-8", "replace") + f" ({echo})").encode())

    def _caller(self, request: Request) -> Caller | None:
        header = request.header("authorization") or ""
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            name, _, secret = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return self._credentials.get((name, secret))
