"""The native upsert per dialect, its module imported on first use (a SQLite history never loads PostgreSQL's)."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from profilesync.store.upsert import _native_insert

TABLE = Table("t", MetaData(), Column("k", String, primary_key=True), Column("v", Integer))


@pytest.mark.parametrize("name, dialect", [("sqlite", sqlite.dialect()), ("postgresql", postgresql.dialect())])
def test_native_insert_is_insert_on_conflict_do_update(name: str, dialect: Dialect) -> None:
    """Both backends get INSERT ... ON CONFLICT (k) DO UPDATE SET v = excluded.v (no server needed to check)."""
    ins = _native_insert(name, TABLE)
    sql = str(ins.on_conflict_do_update(index_elements=["k"], set_={"v": ins.excluded["v"]}).compile(dialect=dialect))
    assert "ON CONFLICT (k) DO UPDATE SET v = excluded.v" in sql
