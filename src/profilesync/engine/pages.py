"""The history of a streamed listing, read one page of users at a time.

At 100,000 users the whole history is about 90 MB of records, most of a steady sync's memory; a sync decides each
user as the listing streams it, so it needs only the records of the users in hand. ``PagedRecords`` reads them
per page of keys (one indexed query each) as the users pass through ``pages``, and keeps the current and the
previous page: the planner and the respect rule's recognition both look a user up right after it passed.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from itertools import islice

from profilesync.engine.model import RemoteUser, SyncRecord

#: users whose records are read in one query; a listing page is 100, the recognition's batch 500
PAGE_KEYS = 500
#: ... except the first query, one listing page: a pipelined first sync decides (and writes) from the first page
#: on, not after five
FIRST_PAGE_KEYS = 100

Reader = Callable[[Collection[str]], Mapping[str, SyncRecord]]


class PagedRecords(Mapping[str, SyncRecord]):
    """A Mapping of the records of the users that ``pages`` has yielded lately, by key.

    A key of a user that did not pass through ``pages`` lately is read on its own (correct, only slower): the
    mapping never answers "no record" for a key it did not ask the history about.
    """

    def __init__(self, read: Reader, *, page_keys: int = PAGE_KEYS) -> None:
        self._read = read
        self._page_keys = page_keys
        self._asked: set[str] = set()  # keys of the current and the previous page
        self._found: dict[str, SyncRecord] = {}
        self.queries = 0

    def pages(self, users: Iterable[RemoteUser]) -> Iterator[RemoteUser]:
        """The users unchanged, their records read a page ahead of the caller."""
        it = iter(users)
        previous: set[str] = set()
        size = min(FIRST_PAGE_KEYS, self._page_keys)
        while page := list(islice(it, size)):
            size = self._page_keys
            keys = {u.key for u in page if u.key is not None}
            found = self._query(keys)
            # The previous page stays: a consumer batching by the same size looks its last users up after
            # the next page was asked for (chain of generators, each a page behind).
            self._found = {k: r for k, r in self._found.items() if k in previous} | dict(found)
            self._asked = previous | keys
            previous = keys
            yield from page

    def _query(self, keys: Collection[str]) -> Mapping[str, SyncRecord]:
        self.queries += 1
        return self._read(keys) if keys else {}

    def get(self, key: str, default: SyncRecord | None = None) -> SyncRecord | None:  # type: ignore[override]
        if key not in self._asked:
            return self._query([key]).get(key, default)
        return self._found.get(key, default)

    def __getitem__(self, key: str) -> SyncRecord:
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        return found

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self._found)

    def __len__(self) -> int:
        return len(self._found)
