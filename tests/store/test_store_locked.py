"""The history remembers whether the avatar we set was locked (PROFILESYNC_LOCK_AVATARS; schema version 5)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import create_engine, text

from profilesync.engine.model import Uploaded
from profilesync.store import SqlStore
from profilesync.store.migrations import MIGRATIONS, migrate

if TYPE_CHECKING:
    from conftest import Backend

T0 = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
UP = Uploaded("101", "uuid-101", "https://x.test/images/thumbnails/101/uuid-101", "attachment:101/uuid-101")


def test_the_lock_round_trips(backend: Backend) -> None:
    """A locked success reads back locked; a later unlocked success and a failure keep what each says."""
    store = backend.open()
    store.record_success("canvas:t", "S1", "u1", "a" * 64, replace(UP, locked=True), T0)
    store.record_success("canvas:t", "S2", "u2", "b" * 64, UP, T0)
    store.record_failure("canvas:t", "S3", "u3", "boom", T0)
    records = store.records("canvas:t")
    assert (records["S1"].locked, records["S2"].locked, records["S3"].locked) == (True, False, False)
    assert [r.locked for r in store.history(key="S1")] == [True]
    store.record_failure("canvas:t", "S1", "u1", "later", T0)  # the last verified sync is kept as it was
    assert store.records("canvas:t")["S1"].locked is True
    store.record_success("canvas:t", "S1", "u1", "a" * 64, UP, T0)
    assert store.records("canvas:t")["S1"].locked is False


def test_records_from_before_the_option_read_as_not_locked(sql_backend: Backend) -> None:
    """A version-4 database's rows gain locked = false on open: turning the option on locks them once."""
    assert sql_backend.url is not None
    engine = create_engine(sql_backend.url)
    migrate(engine, MIGRATIONS[:4])
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO sync_records (target_id, key, user_id, photo_sha256) VALUES ('canvas:t', 'S1', 'u1', 'a')"
            )
        )
    engine.dispose()
    store = sql_backend.open()
    assert store.records("canvas:t")["S1"].locked is False
    assert isinstance(store, SqlStore)
