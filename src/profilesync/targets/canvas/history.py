"""Which history belongs to a target: its own name, plus what an earlier profilesync recorded under another.

profilesync used to name a Canvas in the history by the spelling of its base URL (``canvas:<URL>``); a
different spelling forgot everything and re-uploaded the whole school. A Canvas is now named by its root
account's uuid (``targets.canvas.account``). Records under an old URL-based name that spells the same address
(case, trailing slash, default port) are adopted: ``sync`` re-files them under the new name once, ``plan``
(which writes nothing) reads them where they are.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence

from profilesync.engine.model import ObserverLink, RemoteUser, SyncRecord
from profilesync.engine.ports import AvatarTarget, HistoryStore
from profilesync.targets.canvas.account import former_target_ids, same_environment
from profilesync.targets.canvas.target import CanvasTarget

#: a URL-named history under another host name is taken for this Canvas only when at least this many of its
#: keys belong to users listed now, and (nearly) all of them to the same Canvas user ids: ids are per instance
MIN_SHARED_KEYS = 5
SAME_IDS_SHARE = 0.95

log = logging.getLogger(__name__)


def former_names(store: HistoryStore, target: AvatarTarget) -> list[str]:
    """Earlier names of this target in the history (only Canvas was ever renamed)."""
    if not isinstance(target, CanvasTarget):
        return []
    return _former_ids(store, target.target_id, target.base_url)


def _former_ids(store: HistoryStore, target_id: str, base_url: str) -> list[str]:
    """The URL-based names of ``base_url`` in the history, other than ``target_id`` (sorted)."""
    return [t for t in former_target_ids(base_url, store.target_ids()) if t != target_id]


def adopt_former(store: HistoryStore, current: str, former: list[str]) -> None:
    """Re-file everything recorded under the former names under ``current`` (once: afterwards none is left)."""
    for old in former:
        moved = store.adopt_target(old, current)
        log.info("history of %s adopted as %s (%d users)", old, current, moved)


def known_links(store: HistoryStore, target_id: str, base_url: str, *, apply: bool) -> list[ObserverLink]:
    """The observer links recorded for this Canvas, under its name or a former one (adopted when ``apply``)."""
    former = _former_ids(store, target_id, base_url)
    if apply:
        adopt_former(store, target_id, former)
        return store.observer_links(target_id)
    return [link for name in (*former, target_id) for link in store.observer_links(name)]


def known_records(
    store: HistoryStore, target: AvatarTarget, *, adopt: bool, keys: Collection[str] | None = None
) -> dict[str, SyncRecord]:
    """The target's history, by key (only ``keys``' when given); with ``adopt``, records under a former name are
    re-filed under the new one."""
    return records_reader(store, target, adopt=adopt)(keys)


def records_reader(
    store: HistoryStore, target: AvatarTarget, *, adopt: bool
) -> Callable[[Collection[str] | None], dict[str, SyncRecord]]:
    """Reads the target's records for some keys (None: all), the former names found (and, with ``adopt``,
    re-filed) once: a sync asks once per page of its listing."""
    current = target.target_id
    former = former_names(store, target)
    if adopt and former:
        adopt_former(store, current, former)
        former = []

    def read(keys: Collection[str] | None) -> dict[str, SyncRecord]:
        if not former:
            return store.records(current, keys)
        merged: dict[str, SyncRecord] = {}
        for old in former:
            merged.update(store.records(old, keys))
        merged.update(store.records(current, keys))  # a record under the new name is the newer one
        return merged

    return read


def renamed_host_records(
    store: HistoryStore, target: AvatarTarget, users: Sequence[RemoteUser], *, adopt: bool
) -> dict[str, SyncRecord]:
    """For a Canvas with no history yet: a history an earlier profilesync kept under ``canvas:<URL>`` of another
    host name (a vanity domain, an old address) is this Canvas's when its keys name the same Canvas user ids as
    the listing does now — user ids belong to one Canvas instance. Exactly one such history is adopted (re-filed
    when ``adopt``); none, or several, leave the history empty."""
    if not isinstance(target, CanvasTarget) or len(users) < MIN_SHARED_KEYS:
        return {}
    listed = {u.key: u.user_id for u in users if u.key is not None}
    matches: list[tuple[str, dict[str, SyncRecord]]] = []
    for name in _renamed_host_candidates(store, target):
        records = store.records(name)
        shared = [key for key in records if key in listed]
        same = sum(1 for key in shared if records[key].user_id == listed[key])
        if len(shared) >= MIN_SHARED_KEYS and same >= SAME_IDS_SHARE * len(shared):
            matches.append((name, records))
    if len(matches) != 1:
        return {}
    name, records = matches[0]
    if adopt:
        adopt_former(store, target.target_id, [name])
        return store.records(target.target_id)
    return records


def renamed_host_possible(store: HistoryStore, target: AvatarTarget) -> bool:
    """Could :func:`renamed_host_records` find a history for this target? Only then does it need the whole
    listing at once (a sync otherwise plans users as they are listed)."""
    return isinstance(target, CanvasTarget) and bool(_renamed_host_candidates(store, target))


def _renamed_host_candidates(store: HistoryStore, target: CanvasTarget) -> list[str]:
    """The histories another host name of this Canvas may have kept (never production's for its test copy)."""
    return [name for name in sorted(store.target_ids()) if same_environment(name, target.base_url)]
