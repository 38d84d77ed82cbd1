"""The Guru settings: Guru's own photo folder, and every form of its credentials known as a secret."""

from __future__ import annotations

import base64
from pathlib import Path

from profilesync.config import load_settings


def test_guru_photos_dir_is_guru_s_and_only_guru_s() -> None:
    """GURU_PHOTOS_DIR replaces the photo folder for Guru; Canvas keeps PROFILESYNC_PHOTOS_DIR."""
    settings = load_settings(environ={"PROFILESYNC_PHOTOS_DIR": "/srv/sis", "GURU_PHOTOS_DIR": "/srv/staff"})
    assert settings.for_target("guru").photos_dir == Path("/srv/staff")
    assert settings.for_target("canvas").photos_dir == Path("/srv/sis")


def test_without_guru_photos_dir_guru_shares_the_folder() -> None:
    """No (or an empty) GURU_PHOTOS_DIR: Guru reads the shared folder."""
    for environ in (
        {"PROFILESYNC_PHOTOS_DIR": "/srv/sis"},
        {"PROFILESYNC_PHOTOS_DIR": "/srv/sis", "GURU_PHOTOS_DIR": " "},
    ):
        assert load_settings(environ=environ).for_target("guru").photos_dir == Path("/srv/sis")


def test_secret_values_include_the_basic_authorization_value() -> None:
    """The log filter hides the Guru token and base64(user:token), which is what the Authorization header holds."""
    settings = load_settings(
        environ={"GURU_USER": "admin@school.test", "GURU_API_TOKEN": "guru-token-123", "CANVAS_API_TOKEN": "7~abcdef"}
    )
    basic = base64.b64encode(b"admin@school.test:guru-token-123").decode()
    assert set(settings.secret_values()) == {"7~abcdef", "guru-token-123", basic}
