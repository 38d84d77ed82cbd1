"""Routes as both emulated APIs declare them: ``Route("GET", "/api/v1/users/:id", handler)``, matched in order.

``:name`` matches one path segment, handed to the handler still percent-encoded unless the host decodes it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

H = TypeVar("H", covariant=True)  # a route table of specific handlers is one of general handlers


@dataclass(frozen=True)
class RouteMatch:
    """Which route a request hit: its key (``"GET /api/v1/users/:id"``) and its path arguments."""

    key: str
    args: dict[str, str]
    handler: Any
    needs_user: bool = True  # False: the host serves it without credentials


@dataclass(frozen=True)
class Route(Generic[H]):
    """One endpoint: a method, a path pattern and the handler the host calls with its own arguments."""

    method: str
    pattern: str
    handler: H
    needs_user: bool = True

    @property
    def key(self) -> str:
        return f"{self.method} {self.pattern}"


class Routes(Generic[H]):
    """A host's route table.

    ``trailing_slash``: ``/members/`` matches ``/members`` (Guru); ``head_as_get``: a HEAD request runs the GET
    route (Rails does so for Canvas); ``decode``: applied to every path argument.
    """

    def __init__(
        self,
        routes: Iterable[Route[H]],
        *,
        trailing_slash: bool = False,
        head_as_get: bool = False,
        decode: Callable[[str], str] = str,
    ) -> None:
        end = "/?$" if trailing_slash else "$"
        self._routes = [(route, re.compile("^" + _pattern(route.pattern) + end)) for route in routes]
        self._head_as_get = head_as_get
        self._decode = decode

    def match(self, method: str, path: str) -> RouteMatch | None:
        """The first route for this method whose pattern matches the whole path."""
        for route, regex in self._routes:
            if route.method != method and not (self._head_as_get and route.method == "GET" and method == "HEAD"):
                continue
            found = regex.match(path)
            if found:
                args = {name: self._decode(value) for name, value in found.groupdict().items()}
                return RouteMatch(route.key, args, route.handler, route.needs_user)
        return None


def _pattern(pattern: str) -> str:
    return "/".join(f"(?P<{p[1:]}>[^/]+)" if p.startswith(":") else re.escape(p) for p in pattern.split("/"))
