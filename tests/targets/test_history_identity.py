"""Which earlier history is this Canvas's: decided on evidence, never on a guess between two."""

from __future__ import annotations

from datetime import UTC, datetime

import responses

from profilesync.domain import Secret
from profilesync.engine.model import RemoteUser, Uploaded
from profilesync.store import MemoryStore
from profilesync.targets.canvas.build import avatar_target
from profilesync.targets.canvas.history import known_records, renamed_host_records
from profilesync.targets.canvas.target import CanvasTarget

T0 = datetime(2026, 1, 1, tzinfo=UTC)
UP = Uploaded(file_id="1", file_uuid="u", avatar_url="https://x/images/thumbnails/1/u", avatar_ref="attachment:1/u")
USERS = [RemoteUser(user_id=str(1000 + i), key=f"S{i}", name=f"User {i}", avatar_ref=None) for i in range(8)]


def target() -> CanvasTarget:
    return avatar_target("https://canvas.school.example.edu", Secret("7~" + "x" * 40))


def history(store: MemoryStore, name: str, id_offset: int = 0) -> None:
    for user in USERS:
        store.record_success(name, str(user.key), str(int(user.user_id) + id_offset), "f" * 64, UP, T0)


def test_one_matching_history_under_another_host_is_read() -> None:
    """One old history whose keys name the listed user ids is this Canvas's (plan reads it, writes nothing)."""
    store = MemoryStore()
    history(store, "canvas:https://old.school.example.edu")
    history(store, "canvas:https://elsewhere.example.org", id_offset=5000)  # another Canvas: other ids
    found = renamed_host_records(store, target(), USERS, adopt=False)
    assert set(found) == {u.key for u in USERS}
    assert store.target_ids() == {"canvas:https://old.school.example.edu", "canvas:https://elsewhere.example.org"}


def test_two_matching_histories_are_not_guessed_between() -> None:
    """Two old histories that both match: neither is taken."""
    store = MemoryStore()
    history(store, "canvas:https://old.school.example.edu")
    history(store, "canvas:https://older.school.example.edu")
    assert renamed_host_records(store, target(), USERS, adopt=False) == {}


def test_too_few_shared_keys_are_no_evidence() -> None:
    """Fewer than five shared keys (e.g. a --user run) never adopt another host's history."""
    store = MemoryStore()
    history(store, "canvas:https://old.school.example.edu")
    assert renamed_host_records(store, target(), USERS[:3], adopt=False) == {}


def test_plan_reads_a_respelled_history_without_moving_it() -> None:
    """known_records without adopt merges the old spelling's records and leaves them filed where they were."""
    store = MemoryStore()
    history(store, "canvas:HTTPS://Canvas.School.example.edu/")
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        root = {"id": 1, "name": "School", "uuid": "U" * 40}
        rsps.add(responses.GET, "https://canvas.school.example.edu/api/v1/accounts/self", json=root)
        found = known_records(store, target(), adopt=False)
    assert set(found) == {u.key for u in USERS}
    assert store.target_ids() == {"canvas:HTTPS://Canvas.School.example.edu/"}
