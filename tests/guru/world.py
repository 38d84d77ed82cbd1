"""The Guru end-to-end harness: the real CLI (``--target guru``) against the Guru sandbox over loopback, real SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from profilesync_sandbox.guru import GuruSandbox, GuruSandboxConfig, MemberView
from profilesync_sandbox.samples import make_portrait
from support.world import RunsCli

MEMBERS = 36
PAGE_SIZE = 10
WRITES = ("POST /app/picture", "GET /api/v1/people/:id", "PUT /api/v1/people/:id")


@dataclass
class GuruWorld(RunsCli):
    """A Guru sandbox, a photo folder named by email, a history database, and a way to run the CLI."""

    guru: GuruSandbox
    photos: Path
    database_url: str
    extra_env: dict[str, str] = field(default_factory=dict)
    persons_before: dict[str, dict[str, Any]] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        return {
            "GURU_BASE_URL": self.guru.base_url,
            "GURU_USER": self.guru.user,
            "GURU_API_TOKEN": self.guru.token,
            "PROFILESYNC_PHOTOS_DIR": str(self.photos),
            "PROFILESYNC_DATABASE_URL": self.database_url,
            **self.extra_env,
        }

    def avatars(self, command: str, *args: str, expect: int | None = 0) -> Any:
        """``avatars COMMAND --target guru ARGS --format json``, parsed."""
        return self.json("avatars", command, "--target", "guru", *args, expect=expect)

    def members(self) -> list[MemberView]:
        return self.guru.state.members()

    def member(self, key: str) -> MemberView:
        return self.guru.state.member_by_email(key)

    def expected_uploads(self) -> set[str]:
        """Folded emails of active members with a photo."""
        photos = {p.stem.casefold() for p in self.photos.iterdir()}
        return {m.email.casefold() for m in self.members() if m.active} & photos

    def write_photo(self, name: str, variant: int = 0) -> None:
        """Write (or overwrite, whatever the case of its file name) the photo for ``name``."""
        existing = [p for p in self.photos.iterdir() if p.stem.casefold() == name.casefold()]
        path = existing[0] if existing else self.photos / f"{name}.jpg"
        path.write_bytes(make_portrait(name, variant=variant, size=300))

    def writes(self) -> dict[str, int]:
        counts = self.guru.state.counts()
        return {route: counts[route] for route in WRITES}

    def assert_no_field_lost(self) -> None:
        """Every PUT kept the person exactly, except profilePicUrl."""
        assert self.guru.state.put_problems == []
        for member in self.members():
            before = dict(self.persons_before[member.user_id], profilePicUrl=None)
            after = dict(self.guru.state.person(member.user_id), profilePicUrl=None)
            assert after == before and list(after) == list(before), member.email


def make_guru_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config: GuruSandboxConfig) -> Iterator[GuruWorld]:
    """Photos for all but every sixth member (some named in upper case), inactive members included."""
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's checkout
    with GuruSandbox(config) as guru:
        world = GuruWorld(guru, tmp_path / "photos", f"sqlite:///{tmp_path / 'history.sqlite3'}")
        world.photos.mkdir()
        for i, member in enumerate(world.members()):
            if i % 6 != 5:
                world.write_photo(member.email.upper() if i % 4 == 0 else member.email)
        world.persons_before = {m.user_id: guru.state.person(m.user_id) for m in world.members()}
        yield world
        # Whatever a test did, the public picture host never saw the credentials.
        assert guru.state.picture_auth_headers_seen == []
