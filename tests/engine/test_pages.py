"""PagedRecords: a sync's history read one page of listed users at a time, and the same plan as a whole read."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from itertools import islice
from typing import cast

from tests.engine.test_planner import MAX_AGE, NOW, OURS, photo, photos, record, user

from profilesync.engine.model import Policy, RemoteUser, SyncRecord
from profilesync.engine.pages import PagedRecords
from profilesync.engine.planner import plan
from profilesync.engine.ports import AvatarTarget
from profilesync.engine.recognise import mark_own_avatars

HISTORY = {f"S{i}": record(f"S{i}", user_id=str(i)) for i in range(10)}


class Reader:
    """The history store's ``records(target, keys)``, counting the keys asked per query."""

    def __init__(self) -> None:
        self.asked: list[set[str]] = []

    def __call__(self, keys: Collection[str]) -> dict[str, SyncRecord]:
        self.asked.append(set(keys))
        return {k: HISTORY[k] for k in keys if k in HISTORY}


def test_records_are_read_once_per_page_of_users() -> None:
    """One query per page, for exactly that page's keys; keyless users ask nothing."""
    reader = Reader()
    paged = PagedRecords(reader, page_keys=4)
    users = [user(f"S{i}", user_id=str(i)) for i in range(10)] + [user(None, user_id="x")]
    seen = [paged.get(u.key) if u.key else None for u in paged.pages(users)]
    assert reader.asked == [{"S0", "S1", "S2", "S3"}, {"S4", "S5", "S6", "S7"}, {"S8", "S9"}]
    assert seen[:10] == [HISTORY[f"S{i}"] for i in range(10)]


def test_the_previous_page_stays_answerable() -> None:
    """A consumer one page behind (the respect rule's recognition batches) still finds its records unasked."""
    reader = Reader()
    paged = PagedRecords(reader, page_keys=2)
    stream = paged.pages([user(f"S{i}", user_id=str(i)) for i in range(6)])
    first = [next(stream), next(stream), next(stream)]  # the second page has been read
    assert [paged.get(u.key or "") for u in first] == [HISTORY["S0"], HISTORY["S1"], HISTORY["S2"]]
    assert len(reader.asked) == 2


def test_a_key_not_listed_lately_is_read_on_its_own() -> None:
    """Never a false "no record": a key outside the recent pages is looked up by itself."""
    reader = Reader()
    paged = PagedRecords(reader, page_keys=2)
    list(paged.pages([user("S0", user_id="0"), user("S1", user_id="1")]))
    assert paged.get("S7") == HISTORY["S7"] and reader.asked[-1] == {"S7"}
    assert paged.get("S99") is None and "S99" not in paged


class Nobody:
    """A target that recognises no avatar as its own upload."""

    def own_avatars(self, users: list[RemoteUser]) -> set[str]:
        return set()


def _respect_plan(users: Iterator[RemoteUser], records: Mapping[str, SyncRecord]) -> list[tuple[str | None, str]]:
    """Recognition in batches of 3 (as app._recognised batches), then the planner under respect."""
    ps = photos(*(photo(f"S{i}") for i in range(10)))

    def recognised() -> Iterator[RemoteUser]:
        while batch := list(islice(users, 3)):
            yield from mark_own_avatars(cast(AvatarTarget, Nobody()), batch, ps, records)

    result = plan(recognised(), ps, records, target_id="t", now=NOW, policy=Policy.RESPECT, max_age=MAX_AGE)
    return [(a.key, a.reason.value) for a in result.actions]


def test_a_paged_plan_equals_the_plan_over_the_whole_history() -> None:
    """Under respect, the recognition a batch behind the pages: the same decisions as a whole read."""
    users = [user(f"S{i}", avatar_ref=OURS if i % 2 else "other", user_id=str(i)) for i in range(10)]
    paged = PagedRecords(Reader(), page_keys=3)
    assert _respect_plan(paged.pages(users), paged) == _respect_plan(iter(users), HISTORY)
