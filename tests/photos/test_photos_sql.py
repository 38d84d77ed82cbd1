"""The SQL photo source against real databases: SQLite (BLOB) and PostgreSQL (bytea)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from profilesync.domain import Secret, photo_fingerprint
from profilesync.engine.model import Fingerprint
from profilesync.errors import ConfigError, SafetyValveError
from profilesync.photos import InvalidPhoto, ScanResult
from profilesync.photos import sql as sqlphotos
from profilesync.photos.source import NULL_KEY, FolderSource, open_source
from profilesync.photos.sql import GONE, NULL_PHOTO, SqlSource
from profilesync_sandbox.samples import make_portrait

from .sisdb import KINDS, QUERY, SisDatabase, sis_database


@pytest.fixture(params=KINDS)
def sis(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SisDatabase]:
    """An empty picture table on each database the source is tested on."""
    with sis_database(request.param, tmp_path) as db:
        yield db


_opened: list[SqlSource] = []


@pytest.fixture(autouse=True)
def _close_sources() -> Iterator[None]:
    """Every source a test opens is closed after it (pooled connections left open are a ResourceWarning)."""
    yield
    while _opened:
        _opened.pop().close()


def source(db: SisDatabase, query: str = QUERY) -> SqlSource:
    opened = SqlSource(Secret(db.url), query)
    _opened.append(opened)
    return opened


def scan(
    src: SqlSource,
    cache: dict[str, Fingerprint] | None = None,
    *,
    fold_key: Callable[[str], str] = str,
    keys: list[str] | None = None,
) -> ScanResult:
    return src.scan(fold_key=fold_key, cache=cache or {}, keys=keys)


def test_rows_become_photos_fingerprinted_by_their_bytes(sis: SisDatabase) -> None:
    """Each row is a photo keyed by photo_key whose fingerprint is the SHA-256 of photo_bytes."""
    portraits = {key: make_portrait(key, size=120) for key in ("S1", "S2")}
    for key, data in portraits.items():
        sis.put(key, data)
    result = scan(source(sis))
    assert {k: p.sha256 for k, p in result.photos.photos.items()} == {
        k: photo_fingerprint(d) for k, d in portraits.items()
    }
    assert all(p.problem is None for p in result.photos.photos.values())
    assert result.photos.photos["S1"].path.name == "S1"


def test_bad_rows_are_photo_problems_and_do_not_stop_the_scan(sis: SisDatabase) -> None:
    """NULL bytes, non-image bytes, a NULL key and a key two rows share each become a problem of their own."""
    sis.put("OK", make_portrait("OK", size=120))
    sis.put("NOPHOTO", None)
    sis.put("GARBAGE", b"this is not a picture")
    sis.put(None, make_portrait("x", size=120))
    sis.put("TWICE", make_portrait("a", size=120))
    sis.put("TWICE", make_portrait("b", size=120))
    result = scan(source(sis))
    photos = result.photos.photos
    assert photos["OK"].problem is None
    assert photos["NOPHOTO"].problem == NULL_PHOTO
    assert "not an image" in (photos["GARBAGE"].problem or "")
    (null_key,) = [p for p in photos.values() if p.problem == NULL_KEY]
    assert "NULL" in null_key.key
    assert set(result.photos.ambiguous) == {"TWICE"} and "TWICE" not in photos


def test_unchanged_stamps_are_not_read_again(sis: SisDatabase) -> None:
    """A second scan with the first one's cache reads no bytes; a changed stamp reads that one row."""
    for key in ("S1", "S2", "S3"):
        sis.put(key, make_portrait(key, size=120))
    first = scan(source(sis))
    assert len(first.fresh) == 3
    cache = {f.path: f for f in first.fresh}
    again = scan(source(sis), cache)
    assert again.fresh == [] and again.photos == first.photos

    new = make_portrait("S2", size=120, variant=1)
    sis.change("S2", new, version=2)
    changed = scan(source(sis), cache)
    assert [f.path.rsplit(":", 1)[1] for f in changed.fresh] == ["S2"]
    assert changed.photos.photos["S2"].sha256 == photo_fingerprint(new)


def test_the_cache_is_per_query(sis: SisDatabase) -> None:
    """Another query (here: one ending in a comment) may reuse keys and stamps for other photos: its own cache."""
    sis.put("S1", make_portrait("S1", size=120))
    first = scan(source(sis))
    commented = QUERY.rstrip(";") + " -- the nightly export"
    other = scan(source(sis, commented), {f.path: f for f in first.fresh})
    assert len(other.fresh) == 1 and other.photos == first.photos


def test_a_first_run_reads_the_bytes_in_one_streamed_pass(sis: SisDatabase, monkeypatch: pytest.MonkeyPatch) -> None:
    """Over BY_KEY_LIMIT new rows, the bytes come from one pass over the query, a few rows at a time."""
    monkeypatch.setattr(sqlphotos, "BY_KEY_LIMIT", 1)
    monkeypatch.setattr(sqlphotos, "PHOTO_ROWS", 2)
    portraits = {f"S{n}": make_portrait(f"S{n}", size=80) for n in range(5)}
    for key, data in portraits.items():
        sis.put(key, data)
    sis.put("BAD", b"garbage")
    result = scan(source(sis))
    assert {k: p.sha256 for k, p in result.photos.photos.items() if k != "BAD"} == {
        k: photo_fingerprint(d) for k, d in portraits.items()
    }
    assert result.photos.photos["BAD"].problem is not None
    assert len(result.fresh) == 6


def test_read_fetches_one_photo_by_its_key(sis: SisDatabase) -> None:
    """At upload time a photo's bytes are read again by key, even an email in mixed case with a slash."""
    data = make_portrait("x", size=120)
    sis.put("Ann.Lee/2@School.org", data)
    src = source(sis)
    (photo,) = scan(src, fold_key=str.casefold).photos.photos.values()
    assert photo.key == "ann.lee/2@school.org"
    assert source(sis).read(photo) == data  # another source instance: the key travels in the photo


def test_read_of_a_row_gone_since_the_scan_is_an_invalid_photo(sis: SisDatabase) -> None:
    """A row deleted after the scan fails that photo only."""
    sis.put("S1", make_portrait("S1", size=120))
    src = source(sis)
    photo = scan(src).photos.photos["S1"]
    sis.clear()
    with pytest.raises(InvalidPhoto, match=GONE):
        src.read(photo)


def test_keys_limit_the_scan_to_those_rows(sis: SisDatabase) -> None:
    """``plan --user``: only the named key is asked for; emails match case-insensitively."""
    sis.put("Ann@School.org", make_portrait("a", size=120))
    sis.put("bob@school.org", make_portrait("b", size=120))
    result = scan(source(sis), fold_key=str.casefold, keys=["ann@school.org"])
    assert list(result.photos.photos) == ["ann@school.org"]


def test_a_bad_query_is_a_configuration_error(sis: SisDatabase) -> None:
    """A query that fails or lacks a column is exit 2, naming the columns it must return."""
    with pytest.raises(ConfigError, match="photo_key, photo_bytes, changed_at"):
        scan(source(sis, "SELECT sis_id, picture FROM student_pictures"))
    with pytest.raises(ConfigError, match="photo query failed"):
        scan(source(sis, "SELECT * FROM no_such_table"))


def test_probe_checks_the_columns_and_counts_the_rows(sis: SisDatabase) -> None:
    """doctor's probe: the three columns are there, and how many rows there are."""
    sis.put("S1", b"x")
    assert source(sis).probe() == 1
    with pytest.raises(ConfigError, match="no column changed_at"):
        source(sis, "SELECT sis_id AS photo_key, picture AS photo_bytes FROM student_pictures").probe()


def test_an_unreachable_database_is_the_safety_valve_and_hides_the_password() -> None:
    """No server: unavailable() says why, scanning trips the valve (exit 4); the password is never shown."""
    src = SqlSource(Secret("postgresql+psycopg://sis:Sup3rSecretPw@127.0.0.1:1/sis?connect_timeout=5"), QUERY)
    _opened.append(src)
    problem = src.unavailable()
    assert problem is not None and "cannot be reached" in problem and "Sup3rSecretPw" not in problem
    with pytest.raises(SafetyValveError) as caught:
        scan(src)
    assert "Sup3rSecretPw" not in str(caught.value)


def test_a_url_without_its_driver_is_a_configuration_error() -> None:
    """An unknown dialect (pyodbc not installed, a typo) is exit 2 with the README's pointer."""
    with pytest.raises(ConfigError, match="driver"):
        SqlSource(Secret("nosuchdb+nodriver://u:pw123456@host/db"), QUERY).unavailable()


def test_open_source_picks_the_database_only_when_its_url_is_set(tmp_path: Path) -> None:
    """No URL: the folder, as before."""
    assert isinstance(open_source(tmp_path), FolderSource)
    opened = open_source(tmp_path, Secret(f"sqlite:///{tmp_path}/x.db"), QUERY)
    assert isinstance(opened, SqlSource)
    opened.close()
