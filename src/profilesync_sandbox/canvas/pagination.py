"""Canvas pagination: ``per_page`` clamping, Folio's next/last rules and the exact Link header (docs/canvas.md §3).

The Link header is ``Api.build_links_from_hash``: ``<url>; rel="x"`` joined by ``,`` with no space, in the
order current, next, prev, first, last. Each URL is the endpoint URL, ``?``, the request's *query* params
minus page/per_page/access_token/api_key encoded like Rails ``to_query`` (pieces sorted, ``[]`` → ``%5B%5D``),
then ``page=N&per_page=M`` last.
"""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import quote_plus

from profilesync_sandbox.canvas import errors
from profilesync_sandbox.wire import Params

DEFAULT_PER_PAGE = 10
MAX_PER_PAGE = 100
_EXCLUDED = frozenset({"page", "per_page", "access_token", "api_key"})
_ORDER = ("current", "next", "prev", "first", "last")
_PRIORITY = ("next", "last", "prev", "current", "first")  # what survives when the header gets too long
MAX_LINK_BYTES = 6000
_RUBY_TO_I = re.compile(r"^\s*([+-]?\d+)")
_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def ruby_to_i(text: str | None) -> int:
    """``String#to_i``: leading digits, else 0 (so ``per_page=abc`` becomes 0, then 1)."""
    match = _RUBY_TO_I.match(text or "")
    return int(match.group(1)) if match else 0


def per_page_for(params: Params, default: int = DEFAULT_PER_PAGE, maximum: int = MAX_PER_PAGE) -> int:
    """``per_page_requested.to_i.clamp(1, max)``: silently clamped, never an error (docs/canvas.md §3.1)."""
    raw = params.get("per_page")
    if raw is None or raw == "":
        return default
    return max(1, min(ruby_to_i(raw), maximum))


def page_number(params: Params) -> int:
    """The ordinal page; 0, negative or non-numeric pages raise Folio::InvalidPage → 404 (docs/canvas.md §3.1)."""
    raw = params.get("page")
    if raw is None or raw == "":
        return 1
    try:
        page = int(raw.strip())
    except ValueError:
        raise errors.not_found() from None
    if page < 1:
        raise errors.not_found()
    return page


def unknown_total_links(page: int, per_page: int, count: int) -> dict[str, Any]:
    """Folio with ``total_entries: nil`` (docs/canvas.md §3.3): full pages and empty pages past 1 always get
    ``next``."""
    links: dict[str, Any] = {"current": page, "first": 1}
    short = count < per_page and (page == 1 or count >= 1)
    if short:
        links["last"] = page  # total = offset + length is now known
    else:
        links["next"] = page + 1  # even when no more rows exist
    if page > 1:
        links["prev"] = page - 1
    return links


def known_total_links(page: int, per_page: int, total: int) -> dict[str, Any]:
    """Folio with a counted total: ``next`` iff not on the last page, ``last`` always (docs/canvas.md §3.3)."""
    total_pages = max(1, math.ceil(total / per_page))
    links: dict[str, Any] = {"current": page, "first": 1, "last": total_pages}
    if page < total_pages:
        links["next"] = page + 1
    if page > 1:
        links["prev"] = page - 1
    return links


def _nest(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Rails' params nesting, enough for ``a``, ``a[]``, ``a[b][c]`` and ``a[b][]``."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        match = _KEY.match(key)
        path = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))] if match else [key]
        node: dict[str, Any] = root
        for i, part in enumerate(path):
            last = i == len(path) - 1
            if not last and path[i + 1] == "":
                existing = node.get(part)
                if not isinstance(existing, list):
                    existing = node[part] = []
                existing.append(value)
                break
            if last:
                node[part] = value
            else:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = node[part] = {}
                node = child
    return root


def to_query(value: Any, namespace: str | None = None) -> str:
    """Rails ``Object#to_query`` (CGI.escape: space → ``+``, only ``A-Za-z0-9_.-~`` left bare)."""
    if isinstance(value, dict):
        pieces = [to_query(v, f"{namespace}[{k}]" if namespace else str(k)) for k, v in value.items()]
        pieces = [p for p in pieces if p]
        if namespace is None or "[]" not in namespace:
            pieces.sort()
        return "&".join(pieces)
    if isinstance(value, list):
        prefix = f"{namespace}[]"
        if not value:
            return f"{quote_plus(prefix)}="
        return "&".join(to_query(v, prefix) for v in value)
    return f"{quote_plus(namespace or '')}={quote_plus(str(value))}"


def link_header(endpoint_url: str, query: list[tuple[str, str]], links: dict[str, Any], per_page: int) -> str | None:
    """The Link header value, or None when there are no links (the header is then omitted)."""
    kept = [(k, v) for k, v in query if k not in _EXCLUDED]
    base = endpoint_url + ("&" if "?" in endpoint_url else "?")
    if kept:
        base += to_query(_nest(kept)) + "&"
    rendered: dict[str, str] = {}
    size = 0
    for rel in _PRIORITY:
        if rel not in links:
            continue
        entry = f'<{base}page={links[rel]}&per_page={per_page}>; rel="{rel}"'
        if size + len(entry) > MAX_LINK_BYTES:
            break
        rendered[rel] = entry
        size += len(entry) + 1
    if not rendered:
        return None
    return ",".join(rendered[rel] for rel in _ORDER if rel in rendered)
