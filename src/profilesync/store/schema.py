"""The current tables, as the queries see them (SQLAlchemy Core).

These describe the schema *after* every migration in :mod:`profilesync.store.migrations`; a test checks
that a freshly migrated database matches them. To change the schema, add a migration and update these.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
)
from sqlalchemy.types import TypeDecorator

from profilesync.store.utc import to_utc

# Named constraints keep later ALTERs (and SQLite batch rebuilds) predictable on every backend.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC and always returns aware UTC ones.

    PostgreSQL keeps the zone (timestamptz); SQLite and most others keep a naive value, so it is written as
    naive UTC and given its zone back on read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = to_utc(value)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


metadata = MetaData(naming_convention=NAMING)

schema_migrations = Table(
    "schema_migrations",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("description", String(255), nullable=False),
    Column("applied_at", UtcDateTime, nullable=False),
)

sync_records = Table(
    "sync_records",
    metadata,
    Column("target_id", String(255), primary_key=True),
    Column("key", String(255), primary_key=True, index=True),  # alone: ``avatars history --user``
    Column("user_id", String(255), nullable=False),
    Column("photo_sha256", String(64)),
    Column("file_id", Text),
    Column("file_uuid", String(255)),
    Column("avatar_url", Text),
    Column("avatar_ref", Text),
    Column("synced_at", UtcDateTime),
    Column("last_error", Text),
    Column("last_error_at", UtcDateTime),
    Column("file_name", Text),
    Column("locked", Boolean, nullable=False, server_default=false()),
)

photo_fingerprints = Table(
    "photo_fingerprints",
    metadata,
    Column("path", String(1024), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("mtime_ns", BigInteger, nullable=False),
    Column("sha256", String(64)),
    Column("problem", Text),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("target_id", String(255), nullable=False, index=True),
    Column("command", String(255), nullable=False),
    Column("started_at", UtcDateTime, nullable=False, index=True),  # ``avatars runs``; pruning old runs
    Column("ended_at", UtcDateTime),
    Column("counts", Text, nullable=False),  # JSON object of outcome -> n
    Column("exit_code", Integer),
)

run_events = Table(
    "run_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("key", String(255), nullable=False, index=True),
    Column("user_id", String(255)),
    Column("outcome", String(64), nullable=False),
    Column("reason", String(64)),
    Column("message", Text),
    Column("at", UtcDateTime, nullable=False),
)

run_lock = Table(
    "run_lock",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("token", String(64), nullable=False),
    Column("owner", String(255), nullable=False),
    Column("hostname", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("acquired_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
)

observer_links = Table(
    "observer_links",
    metadata,
    Column("target_id", String(255), primary_key=True),
    Column("student_key", String(255), primary_key=True),
    Column("parent_email", String(255), primary_key=True),  # lower-cased: Canvas compares logins with LOWER()
    Column("student_id", String(255), nullable=False),
    Column("parent_id", String(255), nullable=False),
    Column("method", String(32), nullable=False),
    Column("linked_at", UtcDateTime, nullable=False, index=True),
)
