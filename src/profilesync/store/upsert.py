"""Insert-or-update of many rows, in the native form where the backend has one."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import islice
from typing import Any

from sqlalchemy import Connection, Table, and_

BATCH = 5_000  # rows per executemany: bounds memory for big generators, still few round trips

Row = Mapping[str, Any]


def _batches(rows: Iterable[Row], size: int) -> Iterable[list[Row]]:
    it = iter(rows)
    while batch := list(islice(it, size)):
        yield batch


def upsert(conn: Connection, table: Table, rows: Iterable[Row], keys: Sequence[str], update: Sequence[str]) -> None:
    """Insert each row, or on a conflict on ``keys`` overwrite only the ``update`` columns."""
    dialect = conn.dialect.name
    for batch in _batches(rows, BATCH):
        if dialect in ("sqlite", "postgresql"):
            # Both spell it INSERT ... ON CONFLICT (keys) DO UPDATE SET col = excluded.col.
            ins = _native_insert(dialect, table)
            stmt = ins.on_conflict_do_update(index_elements=list(keys), set_={c: ins.excluded[c] for c in update})
            conn.execute(stmt, batch)
        else:
            _update_then_insert(conn, table, batch, keys, update)


def _native_insert(dialect: str, table: Table) -> Any:
    """The dialect's INSERT, its module imported on first use: a SQLite history never loads PostgreSQL's."""
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)
    from sqlalchemy.dialects.postgresql import insert as pg_insert

    return pg_insert(table)


def _update_then_insert(
    conn: Connection, table: Table, batch: list[Row], keys: Sequence[str], update: Sequence[str]
) -> None:
    # Portable fallback for other backends; correct within our serialised writers, slower.
    for row in batch:
        where = and_(*(table.c[k] == row[k] for k in keys))
        if conn.execute(table.update().where(where).values({c: row[c] for c in update})).rowcount == 0:
            conn.execute(table.insert().values(dict(row)))
