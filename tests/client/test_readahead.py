"""The listing's read-ahead: one page ahead of its reader, in its own thread, errors raised where the reader is."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import responses

from profilesync.errors import FatalRemoteError
from profilesync.http import Api
from profilesync.readahead import read_ahead

from .conftest import BASE


def counted(pages: int, made: list[int], threads: set[str] | None = None) -> Iterator[int]:
    for number in range(pages):
        made.append(number)
        if threads is not None:
            threads.add(threading.current_thread().name)
        yield number


def test_items_come_in_order_from_another_thread() -> None:
    """Every item, in order, computed by the read-ahead thread rather than the reader's."""
    made: list[int] = []
    threads: set[str] = set()
    assert list(read_ahead(lambda: counted(5, made, threads))) == [0, 1, 2, 3, 4]
    assert threads == {"page"}


def eventually(condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + 5
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.001)
    return condition()


def test_a_reader_that_stops_early_costs_one_item_ahead_at_most() -> None:
    """Stopping after the first item: the second was read ahead (as a prefetch would), the third never."""
    made: list[int] = []
    items = read_ahead(lambda: counted(10, made))
    assert next(items) == 0
    assert eventually(lambda: len(made) == 2)
    time.sleep(0.05)  # room for a wrong third item
    items.close()
    assert made == [0, 1]


def test_the_next_item_is_read_while_the_reader_works_on_this_one() -> None:
    """Item 1 is computed before the reader asks for it: the reader's work and the next request overlap."""
    second_made = threading.Event()

    def produce() -> Iterator[int]:
        yield 0
        second_made.set()
        yield 1

    items = read_ahead(produce)
    assert next(items) == 0
    assert second_made.wait(5)  # made while the reader still holds item 0
    assert list(items) == [1]


def test_an_error_in_the_producer_is_raised_in_the_reader() -> None:
    """The producer's exception reaches the reader after the items before it."""

    def produce() -> Iterator[int]:
        yield 0
        raise FatalRemoteError("listing broke")

    items = read_ahead(produce)
    assert next(items) == 0
    with pytest.raises(FatalRemoteError, match="listing broke"):
        next(items)


def page_link(page: int) -> str:
    return f'<{BASE}/api/v1/things?page={page}&per_page=2>; rel="next"'


def test_paginate_reads_one_page_ahead_and_no_further(rsps: responses.RequestsMock, api: Api) -> None:
    """A reader that stops after page 1 of 3 full pages costs 2 requests, as the prefetch it replaces did."""
    rows: list[dict[str, Any]] = [{"id": 1}, {"id": 2}]
    rsps.add(responses.GET, f"{BASE}/api/v1/things?per_page=2", json=rows, headers={"Link": page_link(2)})
    # page 3 is not registered: asking for it would be recorded as a call (and fail)
    rsps.add(responses.GET, f"{BASE}/api/v1/things?page=2&per_page=2", json=rows, headers={"Link": page_link(3)})
    pages = api.paginate("/api/v1/things", what="listing things", params=[], per_page=2)
    assert next(pages) == rows
    assert eventually(lambda: len(rsps.calls) == 2)
    time.sleep(0.05)  # room for a wrong third request
    pages.close()
    assert [c.request.url for c in rsps.calls] == [
        f"{BASE}/api/v1/things?per_page=2",
        f"{BASE}/api/v1/things?page=2&per_page=2",
    ]
