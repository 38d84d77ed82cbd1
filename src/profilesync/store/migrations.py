"""Versioned schema changes, applied in order on every open.

Each migration is a numbered function of a Connection, run inside its own transaction together with the
row in ``schema_migrations`` that records it, so a crash leaves the database at a whole version.
Migrations are frozen once released: each defines the tables it creates itself (never through
:mod:`profilesync.store.schema`, which always describes the newest version).

To change the schema, append ``Migration(N + 1, "what", _vN_plus_1)`` to ``MIGRATIONS`` and update
``schema.py`` to match (``_v2`` below is the pattern).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    inspect,
    select,
    text,
)

from profilesync.errors import ConfigError
from profilesync.store.connect import write_transaction
from profilesync.store.schema import NAMING, UtcDateTime, schema_migrations


class SchemaTooNewError(ConfigError):
    """The database was written by a newer profilesync whose schema this one does not know."""

    def __init__(self, found: int, known: int) -> None:
        super().__init__(
            [
                f"the history database is at schema version {found}, "
                f"newer than this profilesync understands (version {known})"
            ]
        )
        self.advice = "upgrade profilesync, or point PROFILESYNC_DATABASE_URL at another database"


@dataclass(frozen=True)
class Migration:
    """One numbered schema change."""

    version: int
    description: str
    apply: Callable[[Connection], None]


def _v1(conn: Connection) -> None:
    """Sync records, the photo fingerprint cache, runs and their events, and the run lock."""
    md = MetaData(naming_convention=NAMING)
    Table(
        "sync_records",
        md,
        Column("target_id", String(255), primary_key=True),
        Column("key", String(255), primary_key=True),
        Column("user_id", String(255), nullable=False),
        Column("photo_sha256", String(64)),
        Column("file_id", Text),
        Column("file_uuid", String(255)),
        Column("avatar_url", Text),
        Column("avatar_ref", Text),
        Column("synced_at", UtcDateTime),
        Column("last_error", Text),
        Column("last_error_at", UtcDateTime),
    )
    Table(
        "photo_fingerprints",
        md,
        Column("path", String(1024), primary_key=True),
        Column("size", BigInteger, nullable=False),
        Column("mtime_ns", BigInteger, nullable=False),
        Column("sha256", String(64)),
        Column("problem", Text),
    )
    Table(
        "runs",
        md,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("target_id", String(255), nullable=False),
        Column("command", String(255), nullable=False),
        Column("started_at", UtcDateTime, nullable=False, index=True),
        Column("ended_at", UtcDateTime),
        Column("counts", Text, nullable=False),
        Column("exit_code", Integer),
    )
    Table(
        "run_events",
        md,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False, index=True),
        Column("key", String(255), nullable=False, index=True),
        Column("user_id", String(255)),
        Column("outcome", String(64), nullable=False),
        Column("reason", String(64)),
        Column("message", Text),
        Column("at", UtcDateTime, nullable=False),
    )
    Table(
        "run_lock",
        md,
        Column("name", String(64), primary_key=True),
        Column("token", String(64), nullable=False),
        Column("owner", String(255), nullable=False),
        Column("hostname", String(255), nullable=False),
        Column("pid", Integer, nullable=False),
        Column("acquired_at", UtcDateTime, nullable=False),
        Column("expires_at", UtcDateTime, nullable=False),
    )
    md.create_all(conn)


def _v2(conn: Connection) -> None:
    """Observer (parent) links made by ``observers sync``."""
    Table(
        "observer_links",
        MetaData(naming_convention=NAMING),
        Column("target_id", String(255), primary_key=True),
        Column("student_key", String(255), primary_key=True),
        Column("parent_email", String(255), primary_key=True),
        Column("student_id", String(255), nullable=False),
        Column("parent_id", String(255), nullable=False),
        Column("method", String(32), nullable=False),
        Column("linked_at", UtcDateTime, nullable=False, index=True),
    ).create(conn)


def _v3(conn: Connection) -> None:
    """The name our uploaded file has on the target: Canvas alternates two names so that the file a
    re-upload overwrites is never the one shown. Existing rows keep NULL, read as the single old name."""
    conn.execute(text("ALTER TABLE sync_records ADD COLUMN file_name TEXT"))


def _v4(conn: Connection) -> None:
    """Indexes for the lookups by key and by target that the primary keys do not serve: ``avatars history
    --user`` (sync records by key alone; the primary key leads with the target) and a target's runs (the
    target names in the history, ``adopt_target``). The pruning of old runs uses ix_runs_started_at (v1)."""
    conn.execute(text("CREATE INDEX ix_sync_records_key ON sync_records (key)"))
    conn.execute(text("CREATE INDEX ix_runs_target_id ON runs (target_id)"))


def _v5(conn: Connection) -> None:
    """Whether the avatar we set was locked (PROFILESYNC_LOCK_AVATARS): existing rows read as not locked, so
    turning the option on locks each synced user once."""
    conn.execute(text("ALTER TABLE sync_records ADD COLUMN locked BOOLEAN NOT NULL DEFAULT FALSE"))


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "sync records, fingerprints, runs, events, run lock", _v1),
    Migration(2, "observer links", _v2),
    Migration(3, "sync records remember the uploaded file's name", _v3),
    Migration(4, "indexes for the lookups by key and by target", _v4),
    Migration(5, "sync records remember whether the avatar was locked", _v5),
)

# PostgreSQL: an advisory lock serialises first opens racing to migrate (any constant, ours by convention).
_PG_MIGRATION_LOCK = 0x70726F66


def current_version(conn: Connection) -> int:
    """The highest applied migration; 0 for an empty database."""
    if not inspect(conn).has_table(schema_migrations.name):
        return 0
    return int(conn.execute(select(func.coalesce(func.max(schema_migrations.c.version), 0))).scalar_one())


def migrate(engine: Engine, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Bring the database up to the newest migration; returns the version it is at."""
    if [m.version for m in migrations] != list(range(1, len(migrations) + 1)):
        raise ValueError("migrations must be numbered 1, 2, 3, ... in order")
    latest = len(migrations)
    with engine.connect() as conn:
        found = current_version(conn)
    if found > latest:
        raise SchemaTooNewError(found, latest)
    for migration in migrations[found:]:
        with write_transaction(engine) as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            schema_migrations.create(conn, checkfirst=True)
            # Re-read under the write lock: another process may have migrated since we looked.
            found = current_version(conn)
            if found > latest:
                raise SchemaTooNewError(found, latest)
            if found >= migration.version:
                continue
            migration.apply(conn)
            conn.execute(
                schema_migrations.insert().values(
                    version=migration.version,
                    description=migration.description,
                    applied_at=datetime.now(timezone.utc),
                )
            )
    return latest
