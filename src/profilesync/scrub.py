"""Secrets hidden from text: one rule for errors, log lines and doctor's details, whichever vendor they belong to.

Error messages quote what a remote answered, and a server (or a proxy in front of it) may echo the request back,
Authorization header included. Each adapter gives a ``Scrubber`` the secrets it sends (Canvas: the token; Guru: the
token, ``user:token`` and its base64) and cleans what it raises; the log filter is the last line of defence.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from profilesync.errors import ConfigError, ProfilesyncError

P = ParamSpec("P")
R = TypeVar("R")

HIDDEN = "<hidden>"
#: shorter values are never masked: hiding "abc" everywhere would garble the text and protect nothing
MIN_SECRET_LENGTH = 6


class Scrubber:
    """Replaces every secret value in a text with ``<hidden>``."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first: a secret that contains another (``user:token`` holds the token) is hidden whole.
        self.secrets = sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, HIDDEN)
        return text

    def found_in(self, text: str) -> bool:
        """Whether a text shows any of the secrets."""
        return any(secret in text for secret in self.secrets)

    def error(self, exc: ProfilesyncError) -> ProfilesyncError:
        """Hide the secrets in an error's message, advice and args, in place. Errors go to stdout (the sync
        report), the history and stderr, none of which passes through the log filter."""
        if self.secrets:
            exc.message = self(exc.message)
            exc.advice = self(exc.advice) if exc.advice is not None else None
            exc.args = tuple(self(a) if isinstance(a, str) else a for a in exc.args)
            if isinstance(exc, ConfigError):
                exc.problems = [self(p) for p in exc.problems]
        return exc

    @contextmanager
    def errors_hidden(self) -> Iterator[None]:
        """Hide the secrets in any ProfilesyncError raised inside the block, then let it go on."""
        try:
            yield
        except ProfilesyncError as exc:
            self.error(exc)
            raise


class Scrubbing(Protocol):
    """An adapter that holds secrets, and the scrubber that hides them."""

    scrub: Scrubber


S = TypeVar("S", bound=Scrubbing)


def errors_scrubbed(method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
    """A method whose errors leave with the adapter's secrets hidden (``scrub.errors_hidden`` around its body)."""

    @functools.wraps(method)
    def scrubbed(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self.scrub.errors_hidden():
            return method(self, *args, **kwargs)

    return scrubbed
