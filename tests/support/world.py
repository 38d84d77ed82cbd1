"""The end-to-end harness: the real CLI against the project's Canvas sandbox over HTTP on loopback, real SQLite."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from PIL import Image

from profilesync.cli import cli
from profilesync_sandbox import Sandbox, SandboxConfig
from profilesync_sandbox.canvas.records import UserView
from profilesync_sandbox.samples import make_portrait, write_sample_photos

USERS = 300


class RunsCli:
    """Runs the real CLI in-process with the environment a world describes."""

    def env(self) -> dict[str, str]:
        raise NotImplementedError

    def cli(self, *args: str, expect: int | None = 0) -> Result:
        """Run ``profilesync ARGS`` in-process with this world's environment; check the exit code."""
        result = CliRunner().invoke(cli, list(args), env=self.env(), catch_exceptions=False)
        if expect is not None:
            assert result.exit_code == expect, f"exit {result.exit_code}\n{result.output}"
        return result

    def json(self, *args: str, expect: int | None = 0) -> Any:
        return json.loads(self.cli(*args, "--format", "json", expect=expect).stdout)


@dataclass
class World(RunsCli):
    """A sandbox Canvas, a photo folder for most of its users, a history database, and a way to run the CLI."""

    sandbox: Sandbox
    photos: Path
    database_url: str
    extra_env: dict[str, str]

    def env(self) -> dict[str, str]:
        return {
            "CANVAS_BASE_URL": self.sandbox.base_url,
            "CANVAS_API_TOKEN": self.sandbox.admin_token,
            "PROFILESYNC_PHOTOS_DIR": str(self.photos),
            "PROFILESYNC_DATABASE_URL": self.database_url,
            **self.extra_env,
        }

    def students(self) -> list[UserView]:
        """Sandbox users that have an SIS id (the ones a photo can name)."""
        return [u for u in self.sandbox.state.users() if u.sis_user_id]

    def user(self, key: str) -> UserView:
        return next(u for u in self.sandbox.state.users() if u.sis_user_id == key)

    def write_photo(self, key: str, variant: int = 0) -> None:
        (self.photos / f"{key}.jpg").write_bytes(make_portrait(key, variant=variant, size=400))

    def api_requests(self) -> int:
        return sum(self.sandbox.state.counts("canvas").values())

    def upload_requests(self) -> int:
        return len(self.sandbox.state.requests("upload"))


def make_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config: SandboxConfig) -> Iterator[World]:
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's checkout
    with Sandbox(config) as sandbox:
        photos = tmp_path / "photos"
        world = World(sandbox, photos, f"sqlite:///{tmp_path / 'history.sqlite3'}", {})
        keys = [u.sis_user_id for u in world.students() if u.sis_user_id]
        write_sample_photos(photos, keys[: len(keys) * 5 // 6], size=400)
        yield world
        # Whatever a test did, the upload host must never have seen the Canvas token.
        assert sandbox.state.upload_auth_headers_seen == []


MakeWorld = Callable[..., World]


@contextmanager
def world_maker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MakeWorld]:
    """``build(**config)`` (SandboxConfig's fields): a started sandbox world; each is closed when the block ends,
    which runs the harness's own end-of-test checks. A test's ``make`` fixture yields ``build``."""
    with ExitStack() as stack:

        def build(**config: Any) -> World:
            worlds = make_world(tmp_path, monkeypatch, SandboxConfig(**config))
            stack.callback(lambda: next(worlds, None))  # runs the harness's own end-of-test checks
            return next(worlds)

        yield build


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image
