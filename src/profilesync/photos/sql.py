"""Photos straight from the SIS database: a SQLAlchemy URL and a query returning one row per person.

The admin's query must return three columns, named by these aliases (unquoted, so that every database
reports them in the same case): ``photo_key`` (the match value, e.g. the SIS id), ``photo_bytes`` (the image)
and ``changed_at`` (anything that changes when the photo does: a timestamp, a version number, SQL Server's
rowversion). The query is never edited, only wrapped as a derived table, ``SELECT q.photo_key, ... FROM
(<query>) AS q``, which SQLite, PostgreSQL and SQL Server all accept:

- the scan reads only ``photo_key`` and ``changed_at`` (streamed): the database leaves the image column alone;
- a row's bytes are read and hashed only when its (key, stamp) is not in the fingerprint cache (the folder's
  cache table, under a ``sql:<source>:<key>`` locator, the stamp's digest in place of the mtime);
- at upload time one photo is read again by key, with a bound parameter (``WHERE q.photo_key = :photo_key``).

So 100,000 photos × 50 KB are never held at once: an unchanged night reads keys and stamps only, a first run
streams the bytes through SHA-256 a hundred rows at a time. Nothing a row holds stops the scan: a NULL or
blank key, NULL or non-image bytes and a key two rows share become photo problems, as a folder's files do.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from profilesync.domain import Secret, photo_fingerprint
from profilesync.engine.model import Fingerprint, Photo, PhotoSet
from profilesync.errors import ConfigError, SafetyValveError
from profilesync.photos.image import MAX_FILE_BYTES, InvalidPhoto, check_image, too_large_reason
from profilesync.photos.scan import CACHE_BATCH, Lookup, ScanResult
from profilesync.photos.source import NULL_KEY
from profilesync.scrub import Scrubber

KEY, BYTES, STAMP = "photo_key", "photo_bytes", "changed_at"
COLUMNS = (KEY, BYTES, STAMP)
#: rows fetched per round trip from a server-side cursor: keys and stamps are small, photos are not (100 × 50 KB
#: = 5 MB held at once, about as much again in the driver's buffer)
KEY_ROWS = 5000
PHOTO_ROWS = 100
#: changed photos read one by one (an indexed lookup each) up to this many; more are read in one streamed pass
BY_KEY_LIMIT = 500
#: where a database photo "lives", for reports (``Photo.path.name`` is its key) and the cache locator
ROOT = Path("sql")
NULL_PHOTO = "the row's photo_bytes is NULL (no photo in the SIS)"
GONE = "the row is no longer returned by the photo query"
QUERY_ADVICE = (
    f"PROFILESYNC_PHOTOS_SQL_QUERY must be one SELECT returning the columns {', '.join(COLUMNS)} "
    "(unquoted aliases, no ORDER BY, no trailing stored-procedure call)"
)
_CACHE_PATH_MAX = 1024  # photo_fingerprints.path


class SqlSource:
    """The SIS database as a photo source (see the module docstring)."""

    advice = "check PROFILESYNC_PHOTOS_SQL_URL and that the SIS database accepts this machine; nothing was changed"
    by_key = True

    def __init__(self, url: Secret, query: str) -> None:
        self._url = url
        self.query = query.strip().rstrip(";").rstrip()
        # Colons escaped: the query is the admin's text, not ours; only our own :photo_key is a parameter.
        # Line breaks around it: a query ending in a -- comment must not comment out ") AS q".
        self._derived = f"(\n{self.query.replace(':', chr(92) + ':')}\n) AS q"
        try:
            parsed = make_url(url.reveal())
        except ArgumentError:
            raise ConfigError(["PROFILESYNC_PHOTOS_SQL_URL is not a SQLAlchemy URL like dialect+driver://…"]) from None
        secrets = [url.reveal()] + ([str(parsed.password)] if parsed.password else [])
        self.scrub = Scrubber(secrets)
        # The cache is per source: another database or query may reuse keys and stamps for other photos.
        shown = parsed.render_as_string(hide_password=True)
        self.source_id = hashlib.sha256(f"{shown}\n{self.query}".encode()).hexdigest()[:12]
        self._engine: Engine | None = None
        self._reachable: str | bool | None = False  # False: not tried yet

    # -- the PhotoSource protocol ---------------------------------------------------------------------------
    def unavailable(self) -> str | None:
        if self._reachable is False:
            try:
                with self._engine_().connect():
                    self._reachable = None
            except SQLAlchemyError as exc:
                self._reachable = f"the photo database cannot be reached: {self._reason(exc)}"
        return self._reachable if isinstance(self._reachable, str) else None

    def empty_problem(self) -> str:
        return "the photo query (PROFILESYNC_PHOTOS_SQL_QUERY) returned no rows"

    def scan(
        self, *, fold_key: Callable[[str], str], cache: Mapping[str, Fingerprint] | Lookup, keys: Collection[str] | None
    ) -> ScanResult:
        """Every row by match key (``keys``: only those, one indexed lookup each, for ``--user``)."""
        claims: dict[str, list[tuple[str, str | None]]] = {}  # key → (raw key, stamp) of each row naming it
        photos: dict[str, Photo] = {}
        rows_seen = 0
        with self._connected() as conn:
            for n, (value, stamp) in enumerate(self._key_rows(conn, fold_key, keys), 1):
                rows_seen = n
                raw = _text(value)
                if not raw:
                    key = f"<row {n}: {KEY} NULL>"
                    photos[key] = Photo.at(key, ROOT / key, None, NULL_KEY)
                    continue
                claims.setdefault(_fold(raw, fold_key), []).append((raw, _stamp(stamp)))
            ambiguous: dict[str, tuple[Path, ...]] = {}
            stale: dict[str, tuple[str, str | None]] = {}
            known = self._cached(cache, [rows[0][0] for rows in claims.values() if len(rows) == 1])
            for key, rows in claims.items():
                if len(rows) > 1:  # two rows for one person: which photo is meant is the admin's call
                    shown = (_path(f"{raw} (row {i} of {len(rows)})") for i, (raw, _) in enumerate(rows, 1))
                    ambiguous[key] = tuple(shown)
                    continue
                raw, stamp = rows[0]
                cached = known.get(self._locator(raw))
                if stamp is not None and cached is not None and cached.mtime_ns == _digest(stamp):
                    photos[key] = Photo.at(key, _path(raw), cached.sha256, cached.problem)
                else:
                    stale[key] = (raw, stamp)
            fresh = self._fingerprint(conn, stale, photos, fold_key)
        return ScanResult(PhotoSet(photos, ambiguous), fresh, files=rows_seen)

    def _cached(self, cache: Mapping[str, Fingerprint] | Lookup, raws: list[str]) -> dict[str, Fingerprint]:
        """The cache entries of these rows' keys, asked a batch at a time as the folder's scan does."""
        locators = [self._locator(raw) for raw in raws]
        if not callable(cache):
            return {locator: cache[locator] for locator in locators if locator in cache}
        known: dict[str, Fingerprint] = {}
        for start in range(0, len(locators), CACHE_BATCH):
            known.update(cache(locators[start : start + CACHE_BATCH]))
        return known

    def read(self, photo: Photo) -> bytes:
        raw = unquote(photo.path.name)  # the key as the database spells it (see _path)
        try:
            with self._engine_().connect() as conn:
                rows = list(conn.execute(self._by_key(), {KEY: raw}))
        except SQLAlchemyError as exc:
            raise InvalidPhoto(f"the photo database could not be read: {self._reason(exc)}") from None
        if len(rows) != 1:
            raise InvalidPhoto(GONE if not rows else f"{len(rows)} rows of the photo query have this key")
        data, problem = _bytes(rows[0][0])
        if data is None:
            raise InvalidPhoto(problem or NULL_PHOTO)
        return data

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()

    # -- doctor ---------------------------------------------------------------------------------------------
    def probe(self) -> int:
        """How many rows the query returns, once its columns are checked. ConfigError when they are not there."""
        with self._connected() as conn:
            try:
                columns = conn.execute(text(f"SELECT * FROM {self._derived} WHERE 1 = 0")).keys()
                names = {c.lower() for c in columns}
                missing = [c for c in COLUMNS if c not in names]
                if missing:
                    raise ConfigError([f"the photo query returns no column {', '.join(missing)}; {QUERY_ADVICE}"])
                return int(conn.execute(text(f"SELECT COUNT(*) FROM {self._derived}")).scalar_one())
            except DBAPIError as exc:
                raise self._query_error(exc) from None

    # -- internals ------------------------------------------------------------------------------------------
    def _engine_(self) -> Engine:
        if self._engine is None:
            try:
                # pre-ping: a nightly run may wait on the listing long enough for the server to drop a connection.
                url = make_url(self._url.reveal())
                # pre-ping: a sync reads photos while it uploads, long after the scan's connection was made.
                # Every sync worker may read a photo at once: no waiting for a pooled connection (SQLite's
                # pools take no overflow setting, and a local file needs none).
                pool = {} if url.get_backend_name() == "sqlite" else {"max_overflow": -1}
                self._engine = create_engine(url, pool_pre_ping=True, **pool)
            except (ArgumentError, NoSuchModuleError, ImportError) as exc:
                problem = f"PROFILESYNC_PHOTOS_SQL_URL cannot be used ({self._reason(exc)})"
                advice = "is its database driver installed? (README: Photos straight from the SIS database)"
                raise ConfigError([f"{problem}: {advice}"]) from None
        return self._engine

    @contextmanager
    def _connected(self) -> Iterator[Connection]:
        """A connection, its failure to open being the safety valve's (like an unmounted photo share)."""
        problem = self.unavailable()
        if problem is None:
            try:
                conn = self._engine_().connect()
            except SQLAlchemyError as exc:  # gone since unavailable() looked
                problem = f"the photo database cannot be reached: {self._reason(exc)}"
        if problem is not None:
            raise SafetyValveError(problem, advice=self.advice)
        with conn:
            yield conn

    def _key_rows(
        self, conn: Connection, fold_key: Callable[[str], str], keys: Collection[str] | None
    ) -> Iterator[Any]:
        """(photo_key, changed_at) of every row, streamed; or of the rows naming ``keys``."""
        try:
            if keys is None:
                streamed = conn.execution_options(stream_results=True, yield_per=KEY_ROWS)
                yield from streamed.execute(text(f"SELECT q.{KEY}, q.{STAMP} FROM {self._derived}"))
                return
            # Emails and logins match case-insensitively: LOWER() finds "Ann@School.org" for "ann@school.org".
            column = f"LOWER(q.{KEY})" if fold_key("A") != "A" else f"q.{KEY}"
            one = text(f"SELECT q.{KEY}, q.{STAMP} FROM {self._derived} WHERE {column} = :{KEY}")
            for key in keys:
                yield from conn.execute(one, {KEY: key})
        except DBAPIError as exc:
            raise self._query_error(exc) from None

    def _fingerprint(
        self,
        conn: Connection,
        stale: dict[str, tuple[str, str | None]],
        photos: dict[str, Photo],
        fold_key: Callable[[str], str],
    ) -> list[Fingerprint]:
        """Read and hash the rows whose (key, stamp) the cache does not know; return their cache entries."""
        fresh: list[Fingerprint] = []

        def judge(key: str, raw: str, value: object, stamp: str | None) -> None:
            data, problem = _bytes(value)
            sha256 = None
            if data is not None:
                sha256 = photo_fingerprint(data)
                problem = check_image(data)
            photos[key] = Photo.at(key, _path(raw), sha256, problem)
            locator = self._locator(raw)
            if stamp is not None and len(locator) <= _CACHE_PATH_MAX:  # no stamp: read again next time
                fresh.append(Fingerprint(locator, len(data or b""), _digest(stamp), sha256, problem))

        try:
            if len(stale) <= BY_KEY_LIMIT:
                for key, (raw, _) in stale.items():
                    rows = list(conn.execute(self._by_key(), {KEY: raw}))
                    if len(rows) == 1:
                        judge(key, raw, rows[0][0], _stamp(rows[0][1]))
            else:  # a first run: one pass over the whole query, a hundred rows in memory at a time
                streamed = conn.execution_options(stream_results=True, yield_per=PHOTO_ROWS)
                every = text(f"SELECT q.{KEY}, q.{BYTES}, q.{STAMP} FROM {self._derived}")
                for value, data, stamp in streamed.execute(every):
                    raw = _text(value)
                    key = _fold(raw, fold_key) if raw else ""
                    if key in stale and stale[key][0] == raw and key not in photos:
                        judge(key, raw, data, _stamp(stamp))
        except DBAPIError as exc:
            raise self._query_error(exc) from None
        for key, (raw, _) in stale.items():
            if key not in photos:  # deleted (or re-keyed) between the two reads
                photos[key] = Photo.at(key, _path(raw), None, GONE)
        return fresh

    def _by_key(self) -> Any:
        return text(f"SELECT q.{BYTES}, q.{STAMP} FROM {self._derived} WHERE q.{KEY} = :{KEY}")

    def _locator(self, raw: str) -> str:
        # Never an absolute file path, so folder and database entries share the cache table without clashing.
        return f"sql:{self.source_id}:{raw}"

    def _reason(self, exc: BaseException) -> str:
        """The driver's own words, first line only, secrets hidden (SQLAlchemy's text adds the statement)."""
        orig = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
        lines = str(orig).strip().splitlines() or [type(orig).__name__]
        return self.scrub(lines[0])[:300]

    def _query_error(self, exc: DBAPIError) -> ConfigError:
        return ConfigError([f"the photo query failed: {self._reason(exc)}; {QUERY_ADVICE}"])


def _text(value: object) -> str:
    """A key as text: SIS ids may be numbers; CHAR(n) columns pad with spaces."""
    return "" if value is None else str(value).strip()


def _fold(raw: str, fold_key: Callable[[str], str]) -> str:
    # Like a file name: composed (NFC), then folded as the match field compares (emails case-insensitively).
    return fold_key(raw if raw.isascii() else unicodedata.normalize("NFC", raw))


def _stamp(value: object) -> str | None:
    """The change stamp as text: a timestamp, a number, or SQL Server's rowversion (8 bytes, as hex)."""
    if value is None:
        return None
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _digest(stamp: str) -> int:
    """The stamp as a signed 64-bit number, stored where the folder's cache keeps the mtime."""
    return int.from_bytes(hashlib.sha256(stamp.encode()).digest()[:8], "big", signed=True)


def _bytes(value: object) -> tuple[bytes | None, str | None]:
    """The image bytes of a row, or None and why not (NULL, text instead of binary, too large)."""
    if value is None:
        return None, NULL_PHOTO
    if not isinstance(value, bytes | bytearray | memoryview):
        return None, f"{BYTES} is {type(value).__name__}, not binary: select the image column (BLOB, bytea, varbinary)"
    data = bytes(value)
    if len(data) > MAX_FILE_BYTES:
        return None, too_large_reason(len(data))
    return data, None


def _path(raw: str) -> Path:
    """A database photo's path: its key under ``sql``, escaped so that the name is exactly the key again
    (``unquote``) whatever it holds ("/", "..": the match key may be case-folded, the database's key is not)."""
    name = quote(raw, safe=" @+_.~-(),")
    return ROOT / (name if name.strip(".") else name.replace(".", "%2E"))
