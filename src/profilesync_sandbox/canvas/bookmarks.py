"""Canvas's bookmark pagination of the account users listing (``GET /accounts/:id/users?sort=id``).

Read from canvas-lms:

- ``UsersController#api_index``: ``sort=id`` (unless the internal ``include[]=ui_invoked``) wraps the users in
  ``BookmarkedCollection.wrap(UserSearch::Bookmarker.new(order: params[:order]), users)``, with or without a
  ``search_term``.
- ``UserSearch::Bookmarker`` (lib/user_search.rb): the bookmark is ``user.id.to_s``; ``validate`` accepts only
  ``/^\\d+$/``; ``restrict_scope`` keeps ``users.id > bookmark`` ordered by id (``<`` and descending with
  ``order=desc``).
- ``BookmarkedCollection::Collection`` (gems/bookmarked_collection): the page value is
  ``"bookmark:" + JSONToken.encode(bookmark)`` — base64 of the bookmark's JSON (for users a JSON *string*,
  ``"1234"``), ``+/`` → ``-_``, ``=`` and newlines removed — and the first page is ``first``. A bookmark that
  cannot be decoded or fails ``validate`` is silently the first page again; a numeric ``page`` above 1 raises
  ``BookmarkedCollection::InvalidPage``, which ``Api.paginate_collection!`` lets propagate (a 404).
- ``BookmarkedCollection::WrapProxy`` counts the restricted scope and calls ``has_more!`` only when
  ``next_page`` exists, i.e. when more rows remain than fit this page: a last page that is exactly full has
  **no** ``next`` (unlike the numbered listing, docs/canvas.md §3.3).
- ``Folio::Page`` (gem folio, lib/folio/page.rb): ``previous_page`` is never set (no ``prev``), ``last_page``
  is the current page when there is no next page and nil otherwise — so only the final page has ``last``,
  pointing at itself.

``Api.build_links_hash`` puts the page value into the URL as it is (``page=bookmark:IjEwMjQi``), after the
other query parameters.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from profilesync_sandbox.canvas import errors

FIRST_PAGE = "first"  # BookmarkedCollection::Collection::FIRST_TOKEN
_DIGITS = re.compile(r"^\d+$")


class HasId(Protocol):
    @property
    def id(self) -> int: ...


def encode_bookmark(value: Any) -> str:
    """``JSONToken.encode``: URL-safe base64 of the value's JSON, without padding."""
    data = json.dumps(value, separators=(",", ":")).encode()
    return base64.b64encode(data).decode().translate(str.maketrans("+/", "-_")).replace("=", "")


def decode_bookmark(token: str) -> Any:
    """``JSONToken.decode``; raises ValueError when the token is not base64 of one JSON value."""
    padded = token.translate(str.maketrans("-_", "+/"))
    padded += "=" * (-len(padded) % 4)
    try:
        return json.loads(base64.b64decode(padded))
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError(str(exc)) from None


def page_value(user_id: int) -> str:
    """The ``page`` value of the page that starts after this user (``bookmark_to_page(bookmark_for(user))``)."""
    return "bookmark:" + encode_bookmark(str(user_id))


def current_bookmark(raw_page: str | None) -> int | None:
    """``page_to_bookmark`` then ``validate``: the user id this page starts after, or None for the first page."""
    if raw_page is None or raw_page == FIRST_PAGE:
        return None
    if raw_page.startswith("bookmark:"):
        try:
            value = decode_bookmark(raw_page[len("bookmark:") :])
        except ValueError:
            return None  # "bookmark value could not be decoded": the first page
        return int(value) if isinstance(value, str) and _DIGITS.match(value) else None
    if _DIGITS.match(raw_page) and int(raw_page) > 1:
        raise errors.not_found()  # BookmarkedCollection::InvalidPage
    return None


@dataclass(frozen=True)
class BookmarkPage:
    rows: list[Any]
    links: dict[str, str]


class _ByIdCache:
    """The account's users ordered by id, kept while the state hands out the same listing list.

    The sandbox is the benchmark's measuring device: re-sorting 20,000 users on each of 200 pages would add its
    own CPU time to every bookmark page and hide what the protocol costs.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[int, tuple[Sequence[HasId], list[HasId], list[int]]] = {}

    def get(self, users: Sequence[HasId]) -> tuple[list[HasId], list[int]]:
        with self._lock:
            hit = self._entries.get(id(users))
            if hit is not None and hit[0] is users:  # the entry holds `users`, so its id cannot be reused
                return hit[1], hit[2]
        ordered = sorted(users, key=lambda u: u.id)
        ids = [u.id for u in ordered]
        with self._lock:
            if len(self._entries) >= 8:  # filtered listings (search, enrollment type) are one-off lists
                self._entries.clear()
            self._entries[id(users)] = (users, ordered, ids)
        return ordered, ids


_BY_ID = _ByIdCache()


def bookmark_page(users: Sequence[HasId], raw_page: str | None, per_page: int, *, descending: bool) -> BookmarkPage:
    """One page of ``users`` ordered by id, and its links (current, next, first, last)."""
    after = current_bookmark(raw_page)
    ordered, ids = _BY_ID.get(users)
    if descending:
        end = len(ids) if after is None else bisect.bisect_left(ids, after)  # ids < after
        rows = ordered[max(0, end - per_page) : end][::-1]
        remaining = end
    else:
        start = 0 if after is None else bisect.bisect_right(ids, after)  # ids > after
        rows = ordered[start : start + per_page]
        remaining = len(ids) - start
    current = page_value(after) if after is not None else FIRST_PAGE
    links = {"current": current, "first": FIRST_PAGE}
    if remaining > per_page:
        links["next"] = page_value(rows[-1].id)  # has_more!: the bookmark of the page's last row
    else:
        links["last"] = current  # Folio::Page#last_page with no next page
    return BookmarkPage(rows, links)
