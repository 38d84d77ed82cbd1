"""The observers harness: the real CLI against a sandbox Canvas built from a scenario, over HTTP on loopback.

Until the lead registers the ``observers`` group in cli.py, the tests run the real top-level group with the
stub replaced by :data:`profilesync.observers.command.observers` (the same thing once it is registered).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, select, update

from profilesync.cli import cli
from profilesync.observers.command import observers
from profilesync.store.schema import runs
from profilesync_sandbox import RequestRecord, Sandbox, SandboxConfig

THROTTLED = (403, 429)  # the sandbox's throttle answers (no test here expects a permission 403)


def observers_cli() -> click.Group:
    group = copy.copy(cli)
    group.commands = {**cli.commands, "observers": observers}
    return group


@dataclass
class ObsWorld:
    """A sandbox, a history database, a working folder, and a way to run ``profilesync``."""

    sandbox: Sandbox
    folder: Path
    database_url: str
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        return {
            "CANVAS_BASE_URL": self.sandbox.base_url,
            "CANVAS_API_TOKEN": self.sandbox.admin_token,
            "PROFILESYNC_DATABASE_URL": self.database_url,
            **self.extra_env,
        }

    def cli(self, *args: str, expect: int | None = 0) -> Result:
        """Run ``profilesync ARGS`` in-process with this world's environment; check the exit code."""
        result = CliRunner().invoke(observers_cli(), list(args), env=self.env(), catch_exceptions=False)
        if expect is not None:
            assert result.exit_code == expect, f"exit {result.exit_code}\n{result.output}"
        return result

    def json(self, *args: str, expect: int | None = 0) -> Any:
        return json.loads(self.cli(*args, "--format", "json", expect=expect).stdout)

    def write_csv(self, lines: list[str], name: str = "parents.csv", *, encoding: str = "utf-8") -> str:
        path = self.folder / name
        path.write_text("\n".join(lines) + "\n", encoding=encoding)
        return str(path)

    def requests(self) -> int:
        """API requests Canvas answered, not counting throttled ones (retried by the client)."""
        return len(self.answered())

    def answered(self, route: str | None = None) -> list[RequestRecord]:
        """The Canvas host's requests that were not throttled, optionally of one route."""
        return [
            r
            for r in self.sandbox.state.requests("canvas")
            if r.status not in THROTTLED and (route is None or r.route == route)
        ]

    def days_pass(self, days: int) -> None:
        """Make every recorded run ``days`` days older, as if they had run that long ago."""
        engine = create_engine(self.database_url)
        with engine.begin() as conn:
            for run_id, started_at in conn.execute(select(runs.c.id, runs.c.started_at)).all():
                older = started_at - timedelta(days=days)
                conn.execute(update(runs).where(runs.c.id == run_id).values(started_at=older))
        engine.dispose()

    def writes(self) -> dict[str, int]:
        """Requests per route that change something in Canvas."""
        counts = self.sandbox.state.counts("canvas")
        return {route: n for route, n in counts.items() if not route.startswith("GET ")}


MakeWorld = Callable[..., ObsWorld]


@contextmanager
def running_world(folder: Path, scenario: Mapping[str, Any], **overrides: Any) -> Iterator[ObsWorld]:
    """A sandbox built from a scenario (a mapping) with config overrides, working in ``folder``."""
    with pytest.MonkeyPatch.context() as patch, Sandbox(SandboxConfig(scenario=scenario, **overrides)) as sandbox:
        patch.chdir(folder)  # no stray .env from the developer's checkout
        yield ObsWorld(sandbox, folder, f"sqlite:///{folder / 'history.sqlite3'}")
        # The observers job never uploads: the upload host must not have seen the token either way.
        assert sandbox.state.upload_auth_headers_seen == []


@pytest.fixture
def make_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MakeWorld]:
    """Start worlds for one test (each in its own folder); stopped after it."""
    with ExitStack() as stack:

        def factory(scenario: Mapping[str, Any], **overrides: Any) -> ObsWorld:
            return stack.enter_context(running_world(tmp_path_factory.mktemp("world"), scenario, **overrides))

        yield factory
