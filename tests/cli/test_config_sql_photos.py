"""The SIS database photo settings: both or neither, the URL a secret, Guru's own folder wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from profilesync.config import load_settings
from profilesync.domain import Secret
from profilesync.errors import ConfigError

URL = "postgresql+psycopg://reader:p%40ss-w0rd!@sis-db/sis"
QUERY = "SELECT id AS photo_key, pic AS photo_bytes, ts AS changed_at FROM pics"


@pytest.fixture(autouse=True)
def _no_stray_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """load_settings reads ./.env: run where there is none."""
    monkeypatch.chdir(tmp_path)


def test_url_and_query_are_read_and_the_url_is_a_secret() -> None:
    """The URL becomes a Secret (its repr hides it); the query is kept as written."""
    settings = load_settings(None, environ={"PROFILESYNC_PHOTOS_SQL_URL": URL, "PROFILESYNC_PHOTOS_SQL_QUERY": QUERY})
    assert settings.photos_sql_url == Secret(URL) and settings.photos_sql_query == QUERY
    assert "p%40ss" not in repr(settings)


def test_the_url_and_its_password_are_masked_in_logs() -> None:
    """The log filter hides the whole URL and its password, as written and URL-decoded."""
    settings = load_settings(None, environ={"PROFILESYNC_PHOTOS_SQL_URL": URL, "PROFILESYNC_PHOTOS_SQL_QUERY": QUERY})
    assert {URL, "p%40ss-w0rd!", "p@ss-w0rd!"} <= set(settings.secret_values())


@pytest.mark.parametrize("name", ["PROFILESYNC_PHOTOS_SQL_URL", "PROFILESYNC_PHOTOS_SQL_QUERY"])
def test_one_without_the_other_is_a_configuration_error(name: str) -> None:
    """Half a database source is a mistake, not "use the folder"."""
    value = URL if name.endswith("URL") else QUERY
    with pytest.raises(ConfigError, match="go together"):
        load_settings(None, environ={name: value})


def test_guru_with_its_own_folder_reads_that_folder(tmp_path: Path) -> None:
    """GURU_PHOTOS_DIR set: the Guru job reads it, not the SIS query; Canvas still reads the query."""
    both = {"PROFILESYNC_PHOTOS_SQL_URL": URL, "PROFILESYNC_PHOTOS_SQL_QUERY": QUERY}
    settings = load_settings(None, environ={**both, "GURU_PHOTOS_DIR": str(tmp_path)})
    assert settings.for_target("guru").photos_sql_url is None
    assert settings.for_target("canvas").photos_sql_url == Secret(URL)
