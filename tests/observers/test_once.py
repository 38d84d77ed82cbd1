"""The once-per-key lookup cache the executor shares between parent tasks."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from profilesync.observers.executor import Once


def test_concurrent_callers_share_one_computation() -> None:
    """Eight threads asking for the same key at once cause one call, and all get its result."""
    calls: list[str] = []
    lock = threading.Lock()

    def slow(key: str) -> str:
        with lock:
            calls.append(key)
        time.sleep(0.05)
        return key.upper()

    once = Once(slow)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(once, ["s1"] * 8))
    assert (results, calls) == (["S1"] * 8, ["s1"])


def test_each_key_computed_separately() -> None:
    """Different keys are computed once each."""
    calls: list[int] = []

    def double(n: int) -> int:
        calls.append(n)
        return n * 2

    once = Once(double)
    assert [once(1), once(2), once(1)] == [2, 4, 2] and calls == [1, 2]


def test_error_is_kept_for_the_key() -> None:
    """A failed computation raises its error to every caller of that key, without a second try."""
    calls: list[str] = []

    def failing(key: str) -> str:
        calls.append(key)
        raise LookupError(key)

    once = Once(failing)
    for _ in range(2):
        with pytest.raises(LookupError):
            once("s1")
    assert calls == ["s1"]
