"""The answers a target gives to ``profilesync doctor``'s questions, whichever vendor it is.

Each question a target's questions module answers (``targets.canvas.questions``, ``targets.guru_questions``)
returns one of these small values, or a vendor's own (a Canvas identity, a users page): the facts, in words fit
to print, and the advice the client gives for them. Whoever asks reads no HTTP status or body: what a status
means stays with the vendor's client.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import Enum
from typing import Any

import requests

from profilesync.errors import ProfilesyncError
from profilesync.http import Api, Dialect


class Unreached(Enum):
    """Why the first request did not reach the vendor's API."""

    UNREACHABLE = "unreachable"  # no answer: connection refused, DNS, timeout, TLS
    REDIRECTED = "redirected"  # the address redirects the API (a token must not follow it)
    NOT_THE_API = "not the API"  # an HTML page, other JSON, a 404: some other server
    FAILING = "failing"  # the API answers with server errors


@dataclass(frozen=True)
class NotReached:
    """The address does not answer as the vendor's API; ``detail`` says what it answered instead."""

    why: Unreached
    detail: str
    advice: str | None


@dataclass(frozen=True)
class Rejected:
    """The API answered (in ``elapsed_ms``) and refused the credentials."""

    detail: str
    advice: str
    elapsed_ms: float


@dataclass(frozen=True)
class Unanswered:
    """A question the API would not or could not answer: the client's error message and its advice."""

    message: str
    advice: str | None


NOT_JSON = object()


def json_or_not(response: requests.Response, dialect: Dialect) -> Any:
    """The body as the vendor's ``dialect`` parses it, or NOT_JSON (an HTML page, a proxy's text): told apart from
    a JSON ``null``."""
    try:
        return dialect.parse(response)
    except ValueError:  # UnicodeDecodeError is one
        return NOT_JSON


@dataclass(frozen=True)
class Contact:
    """The first answer of a vendor's API to doctor, and how long it took."""

    response: requests.Response
    elapsed_ms: float


def first_contact(api: Api, path: str, *, what: str, advice: str) -> Contact | NotReached:
    """One timed ``GET path``: the answer, or NotReached (with ``advice``) when nothing answered at all."""
    started = time.monotonic()
    try:
        response = api.request("GET", path, what=what)
    except ProfilesyncError as exc:  # connection refused, DNS, timeout, TLS
        return NotReached(Unreached.UNREACHABLE, exc.message, advice)
    return Contact(response, (time.monotonic() - started) * 1000)
