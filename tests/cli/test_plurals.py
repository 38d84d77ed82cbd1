"""Count messages say "1 photo" and "2 photos": one helper, used by every count message."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from profilesync.text import plural
from profilesync_sandbox import SandboxConfig
from support.world import World, make_world


def test_plural_helper() -> None:
    """One is singular; zero and many are plural; irregular nouns and an explicit plural are honoured."""
    assert plural(1, "photo") == "1 photo"
    assert plural(0, "photo") == "0 photos"
    assert plural(2, "API request") == "2 API requests"
    assert plural(3, "match") == "3 matches"
    assert plural(2, "person", "people") == "2 people"


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    yield from make_world(tmp_path, monkeypatch, SandboxConfig(users=12))


def test_one_of_everything_is_singular_in_plan_sync_and_doctor(world: World) -> None:
    """A folder with one matching photo and one stray: "1 user", "1 photo matches no user", "1 upload" and
    "1 matches no user" (doctor) — never "1 photos"."""
    keep = world.students()[0].sis_user_id
    for photo in world.photos.iterdir():
        if photo.stem != keep:
            photo.unlink()
    shutil.copy(world.photos / f"{keep}.jpg", world.photos / "NOBODY-1.jpg")
    plan = world.cli("avatars", "plan", "--user", keep).stdout
    assert re.search(r": 1 user: ", plan), plan
    plan = world.cli("avatars", "plan").stdout
    assert "1 photo matches no user: NOBODY-1.jpg" in plan
    sync = world.cli("avatars", "sync", "--user", keep).stdout
    assert "1 upload)" in sync
    doctor = world.cli("doctor").stdout
    assert "2 usable photos in " in doctor and "1 matches no user: NOBODY-1.jpg" in doctor
    for output in (plan, sync, doctor):
        assert not re.search(r"\b1 (photos|users|uploads|rows|API requests|warnings)\b", output), output
