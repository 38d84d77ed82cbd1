"""PROFILESYNC_LOCK_AVATARS: off by default, read like the other on/off settings, and named by doctor when on."""

from __future__ import annotations

from pathlib import Path

import pytest

from profilesync.config import load_settings
from profilesync.doctor.canvas import check_config

CANVAS = {"CANVAS_BASE_URL": "https://school.instructure.com", "CANVAS_API_TOKEN": "t"}


@pytest.fixture(autouse=True)
def no_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env from the checkout


def test_locking_is_off_by_default() -> None:
    """Unset: no avatar is locked."""
    assert load_settings(environ={}).lock_avatars is False


@pytest.mark.parametrize(("text", "on"), [("true", True), ("YES", True), ("1", True), ("false", False), ("0", False)])
def test_locking_reads_the_usual_flag_spellings(text: str, on: bool) -> None:
    """true/yes/1/on turn it on; anything else off."""
    assert load_settings(environ={"PROFILESYNC_LOCK_AVATARS": text}).lock_avatars is on


def test_doctor_names_locking_when_on() -> None:
    """The configuration line says avatars are locked, and says nothing of it when off."""
    on = load_settings(environ={**CANVAS, "PROFILESYNC_LOCK_AVATARS": "true"})
    assert "PROFILESYNC_LOCK_AVATARS" in check_config(on).detail
    assert "LOCK" not in check_config(load_settings(environ=CANVAS)).detail
