"""Requests and responses as the emulated hosts see them: Rails-style params, multipart parts, JSON rendering.

Rails parses query strings, form bodies, multipart bodies and JSON bodies into one ``params`` hash
(docs/canvas.md §1.5). The emulator keeps them flat, in bracket syntax (``user[avatar][token]``,
``include[]``), with body values after query values so that ``get`` (last wins) prefers the body like Rails.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import default
from typing import Any
from urllib.parse import parse_qsl

_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})


class Params:
    """Flat Rails params: repeated keys kept in order; ``get`` returns the last value like Rails does."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self.pairs = list(pairs)

    def get(self, key: str) -> str | None:
        value = None
        for k, v in self.pairs:
            if k == key:
                value = v
        return value

    def getlist(self, key: str) -> list[str]:
        return [v for k, v in self.pairs if k == key]

    def __contains__(self, key: object) -> bool:
        return any(k == key for k, _ in self.pairs)

    def has_prefix(self, prefix: str) -> bool:
        return any(k.startswith(prefix) for k, _ in self.pairs)

    def keys_under(self, prefix: str) -> set[str]:
        """``user[name]`` and ``user[avatar][url]`` under ``user`` give ``{"name", "avatar"}``."""
        out: set[str] = set()
        for k, _ in self.pairs:
            if k.startswith(prefix + "[") and "]" in k:
                out.add(k[len(prefix) + 1 : k.index("]", len(prefix))])
        return out

    def flag(self, key: str) -> bool:
        """``value_to_boolean``."""
        value = self.get(key)
        return value is not None and value.strip().lower() in _TRUE


@dataclass(frozen=True)
class Part:
    """One multipart part; ``filename`` is None for plain fields."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class Request:
    """One parsed HTTP request."""

    method: str
    raw_path: str  # undecoded, no query
    query_string: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    client: str
    query: list[tuple[str, str]] = field(default_factory=list)
    body_pairs: list[tuple[str, str]] = field(default_factory=list)
    parts: list[Part] = field(default_factory=list)
    multipart: bool = False
    body_error: str | None = None  # an unparseable JSON body

    @classmethod
    def parse(cls, method: str, target: str, headers: dict[str, str], body: bytes, client: str) -> Request:
        raw_path, _, query_string = target.partition("?")
        request = cls(method, raw_path, query_string, headers, body, client)
        request.query = parse_qsl(query_string, keep_blank_values=True)
        request._parse_body()
        return request

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def params(self) -> Params:
        return Params(self.query + self.body_pairs)

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()

    def base_url(self, fallback: str) -> str:
        """The scheme and host the client used (Canvas builds absolute URLs from the request host)."""
        host = self.header("host")
        return f"http://{host}" if host else fallback

    def _parse_body(self) -> None:
        kind = self.content_type
        if not self.body:
            return
        if kind == "application/x-www-form-urlencoded":
            self.body_pairs = parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        elif kind == "multipart/form-data":
            self.multipart = True
            self.parts = parse_multipart(self.body, self.header("content-type") or "")
            self.body_pairs = [(p.name, p.data.decode("utf-8", "replace")) for p in self.parts if p.filename is None]
        elif kind in ("application/json", "text/json"):
            try:
                data = json.loads(self.body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as exc:
                self.body_error = f"invalid JSON body: {exc}"
                return
            if isinstance(data, dict):
                self.body_pairs = flatten_json(data)


def flatten_json(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """``{"user": {"avatar": {"token": "x"}}}`` → ``[("user[avatar][token]", "x")]``; lists become ``key[]``."""
    if isinstance(value, dict):
        out: list[tuple[str, str]] = []
        for key, item in value.items():
            out.extend(flatten_json(item, f"{prefix}[{key}]" if prefix else str(key)))
        return out
    if isinstance(value, list):
        return [pair for item in value for pair in flatten_json(item, f"{prefix}[]")]
    if value is None:
        return [(prefix, "")]
    if isinstance(value, bool):
        return [(prefix, "true" if value else "false")]
    return [(prefix, str(value))]


def parse_multipart(body: bytes, content_type: str) -> list[Part]:
    """The named parts of a multipart/form-data body, in order; none when the body has no usable boundary.

    The standard library's MIME parser does the splitting and the header decoding (quoted names, RFC 2231
    ``filename*``); payloads come back byte for byte, since form-data parts carry no transfer encoding.
    """
    head = f"Content-Type: {content_type}\r\n\r\n".encode("utf-8", "surrogateescape")
    message = BytesParser(policy=default).parsebytes(head + body)
    if not message.is_multipart():
        return []
    parts: list[Part] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue  # a part with no form field name is not a field
        filename = part.get_filename()
        data = part.get_payload(decode=True)
        part_type = part.get("content-type")
        parts.append(
            Part(
                _header_text(name),
                None if filename is None else _header_text(filename),
                None if part_type is None else str(part_type),
                data if isinstance(data, bytes) else b"",
            )
        )
    return parts


def _header_text(value: str) -> str:
    """Browsers send non-ASCII names as raw UTF-8, which the parser keeps as surrogate escapes: decode them."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


@dataclass
class Response:
    """An answer before rendering; ``payload`` is JSON-encoded late so the docs/canvas.md §1.4 rules can apply."""

    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    payload: Any = None
    is_json: bool = False
    close: bool = False  # close the connection after answering

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


def json_response(status: int, payload: Any, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, payload=payload, is_json=True, headers=list(headers or []))


def text_response(status: int, text: str, content_type: str = "text/plain; charset=utf-8") -> Response:
    return Response(status, text.encode("utf-8"), content_type)


def empty_response(status: int) -> Response:
    return Response(status, b"", None)


def redirect(status: int, location: str) -> Response:
    return Response(status, b"", "text/html; charset=utf-8", [("Location", location)])


def encode_json(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
