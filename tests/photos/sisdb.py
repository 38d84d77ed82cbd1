"""A SIS database holding photos, for the SQL photo source's tests: SQLite (BLOB) or PostgreSQL (bytea).

PostgreSQL runs when PROFILESYNC_TEST_POSTGRES_URL is set (``eval "$(bash scripts/ci-postgres.sh)"``), each
test in a fresh schema of its own (the server is shared); without it the PostgreSQL variants are skipped,
except under CI=true, where they fail.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Column, Engine, Integer, LargeBinary, MetaData, String, Table, create_engine, make_url, text

from support.postgres import postgres_url_or_skip

#: the admin's query, as the README shows it: the SIS's own column names, aliased
QUERY = "SELECT sis_id AS photo_key, picture AS photo_bytes, version AS changed_at FROM student_pictures;"

_metadata = MetaData()
pictures = Table(
    "student_pictures",
    _metadata,
    Column("row_id", Integer, primary_key=True, autoincrement=True),
    Column("sis_id", String(64)),
    Column("picture", LargeBinary),  # BLOB in SQLite, bytea in PostgreSQL
    Column("version", Integer),
)


@dataclass
class SisDatabase:
    """The SIS's picture table; ``url`` is what PROFILESYNC_PHOTOS_SQL_URL is set to."""

    kind: str
    url: str
    engine: Engine

    def put(self, key: str | None, data: bytes | None, version: int = 1) -> None:
        with self.engine.begin() as conn:
            conn.execute(pictures.insert().values(sis_id=key, picture=data, version=version))

    def change(self, key: str, data: bytes | None, version: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(pictures.update().where(pictures.c.sis_id == key).values(picture=data, version=version))

    def clear(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(pictures.delete())


@contextmanager
def sis_database(kind: str, tmp_path: Path) -> Iterator[SisDatabase]:
    """An empty picture table in a fresh SQLite file or PostgreSQL schema."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'sis.sqlite3'}"
        engine = create_engine(url)
        _metadata.create_all(engine)
        try:
            yield SisDatabase(kind, url, engine)
        finally:
            engine.dispose()
        return
    base = postgres_url_or_skip()
    schema = f"sisphotos_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    engine = create_engine(url)
    try:
        _metadata.create_all(engine)
        yield SisDatabase(kind, url, engine)
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


KINDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
