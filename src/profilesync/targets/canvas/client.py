"""Canvas's dialect of HTTP: its error bodies, its throttle signals, its page sizes, its token wording — and the
one place a Canvas API client is built.

``profilesync.http`` knows only plain HTTP; everything here is what Canvas adds to it. Every Canvas client
(the avatar target, the observers client, doctor's probes) talks through ``connect``, so a Canvas answer means
the same thing wherever it arrives.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from profilesync.domain import Secret
from profilesync.errors import FatalRemoteError
from profilesync.http import Api, Dialect, Retry, make_session, raise_for_status, text_snippet
from profilesync.rategate import RateGate
from profilesync.targets.canvas.account import TOKEN_ADVICE, normalise_base_url

# The messages of Canvas's 401 for a token that cannot be used at all: every later request would fail too.
BAD_TOKEN = re.compile(r"(invalid|revoked|expired) access token|insufficient scopes", re.IGNORECASE)
#: the prefix Canvas may put before a JSON body against JSON hijacking (a CSRF guard)
CSRF_PREFIX = "while(1);"
#: the largest per_page Canvas applies to a listing, whatever we ask for
MAX_PER_PAGE = 100


def parse_json(response: requests.Response) -> Any:
    """The JSON body whatever the Content-Type says, tolerating Canvas's ``while(1);`` CSRF prefix."""
    text = response.content.decode("utf-8")  # JSON is UTF-8 (RFC 8259), whatever the charset says
    text = text.removeprefix(CSRF_PREFIX)
    return json.loads(text) if text.strip() else None


def json_or_none(response: requests.Response) -> Any:
    """The JSON body, or None when the answer is not JSON (an HTML error page, a proxy's text)."""
    try:
        return parse_json(response)
    except ValueError:
        return None


def error_message(response: requests.Response) -> str:
    """The human part of a Canvas error body, in any of its shapes: ``message``, or ``errors`` as a string, a list
    of ``{"message": ...}``, or a model's errors by attribute (the shapes ``lib/api/v1`` and the controllers use)."""
    try:
        body = parse_json(response)
    except ValueError:
        return text_snippet(response)
    if isinstance(body, dict):
        if isinstance(body.get("message"), str):
            return str(body["message"])
        errors = body.get("errors")
        if isinstance(errors, str):
            return errors
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return "; ".join(str(e.get("message", e)) for e in errors)
        if isinstance(errors, dict):
            return _flatten_errors(errors) or str(errors)
    return f"HTTP {response.status_code}"


def _flatten_errors(errors: Mapping[str, Any], prefix: str = "") -> str:
    found: list[str] = []
    for key, value in errors.items():
        if isinstance(value, list):
            for item in value:
                if isinstance(item, dict) and "message" in item:
                    found.append(f"{prefix}{key}: {item['message']}")
        elif isinstance(value, dict):
            nested = _flatten_errors(value, f"{prefix}{key}.")
            if nested:
                found.append(nested)
    return "; ".join(found)


def names_bad_token(response: requests.Response) -> bool:
    """Whether a refusal is about the token itself (invalid, revoked, expired, under-scoped), not one request."""
    return BAD_TOKEN.search(error_message(response)) is not None


def is_throttled(response: requests.Response) -> bool:
    """Canvas throttling: 429 (hosted, since 2025) or 403 with a text body
    (app/middleware/request_throttle.rb#rate_limit_exceeded)."""
    if response.status_code == 429:
        return True
    return response.status_code == 403 and "rate limit exceeded" in response.text[:200].lower()


def remaining_of(response: requests.Response) -> float | None:
    """The room left in the token's leaky bucket, as the answer reports it."""
    value = response.headers.get("X-Rate-Limit-Remaining")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def applied_per_page(response: requests.Response) -> int | None:
    """The per_page the server really used, read from its own ``current`` (or any) link."""
    for rel in ("current", "next", "first"):
        link = response.links.get(rel, {}).get("url")
        if link:
            values = parse_qs(urlsplit(link).query).get("per_page")
            if values and values[0].isdigit():
                return int(values[0])
    return None


class CanvasDialect(Dialect):
    """Canvas's statuses, throttle signals, bodies and page sizes, for ``http.Api``."""

    name = "Canvas"

    def check(self, response: requests.Response, what: str) -> None:
        """A bad token stops the run with advice; every other status as plain HTTP, with Canvas's message."""
        if response.status_code == 401 and names_bad_token(response):
            raise FatalRemoteError(f"Canvas rejected the API token: {error_message(response)}", advice=TOKEN_ADVICE)
        raise_for_status(response, what, error_message)

    def throttled(self, response: requests.Response) -> bool:
        return is_throttled(response)

    def remaining(self, response: requests.Response) -> float | None:
        return remaining_of(response)

    def parse(self, response: requests.Response) -> Any:
        return parse_json(response)

    def full_page(self, response: requests.Response, per_page: int) -> int:
        """Canvas clamps ``per_page`` silently (to 100 by default); its own links say what it applied."""
        return applied_per_page(response) or min(per_page, MAX_PER_PAGE)


CANVAS = CanvasDialect()


def connect(
    base_url: str,
    token: Secret,
    *,
    max_in_flight: int = 16,
    timeout_s: float = 60.0,
    retry: Retry | None = None,
) -> Api:
    """The Canvas API at ``base_url`` (one spelling: case, port, trailing slash), with the token as a bearer, a
    session pooled for ``max_in_flight`` requests and a rate gate steered by Canvas's bucket."""
    return Api(
        normalise_base_url(base_url),
        lambda: f"Bearer {token.reveal()}",
        dialect=CANVAS,
        session=make_session(max_in_flight),
        gate=RateGate(max_in_flight),
        retry=retry,
        timeout_s=timeout_s,
    )
