"""Start-up: what the CLI imports before it does anything (issue 14). A behaviour test, not a timing test.

Each case runs in a fresh interpreter, because this test process has long since imported everything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

import profilesync
from profilesync.cli import cli
from profilesync_sandbox import SandboxConfig
from support.world import World, make_world

SRC = str(Path(profilesync.__file__).resolve().parents[1])

#: libraries (and our own heavy modules) that listing commands and options never needs
HEAVY = (
    "sqlalchemy",
    "PIL",
    "pillow_heif",
    "jinja2",
    "requests",
    "urllib3",
    "tenacity",
    "dotenv",
    "platformdirs",
    "profilesync_sandbox",
    "profilesync.app",
    "profilesync.doctor",
    "profilesync.observers",
    "profilesync.store",
    "profilesync.targets",
    "profilesync.photos",
    "cv2",  # the faces extra (PROFILESYNC_CROP=face): loaded when a photo is cut, never before
    "numpy",
)

RUN_CLI = """
import json, sys
from profilesync.cli import cli
try:
    cli.main(sys.argv[1:], prog_name="profilesync")
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def imported_by(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> set[str]:
    """The modules loaded by ``profilesync ARGS`` in a fresh interpreter (reported on its stderr's last line)."""
    env = {**os.environ, **(env or {}), "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-c", RUN_CLI, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60, check=True
    )
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def heavy_in(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(f"{h}.") for h in HEAVY))


@pytest.mark.parametrize(
    "args",
    [("--help",), ("--version",), ("avatars", "--help"), ("avatars", "plan", "--help"), ("avatars", "sync", "--help")],
    ids=" ".join,
)
def test_help_imports_no_heavy_library(args: tuple[str, ...]) -> None:
    """Help and version load click and profilesync's shell only: no database, HTTP, image or template library."""
    modules = imported_by(*args)
    assert "profilesync.cli" in modules  # the probe did run the CLI
    assert heavy_in(modules) == []


def test_a_lazy_command_is_imported_when_its_help_is_asked_for() -> None:
    """The probe can see a heavy import: ``doctor --help`` loads the doctor (and what it needs)."""
    assert "profilesync.doctor.command" in imported_by("doctor", "--help")


@pytest.mark.parametrize("name", sorted(cli.LAZY))
def test_lazy_summary_is_the_commands_own_first_paragraph(name: str) -> None:
    """The listing shows a lazy command's summary without importing it: it must be what its docstring says."""
    command = cli.get_command(click.Context(cli), name)
    assert command is not None and command.help is not None
    assert cli.LAZY[name].summary == command.help.split("\n\n")[0].replace("\n", " ").strip()
    assert command.get_short_help_str() == cli.LAZY[name].summary  # the same line once loaded


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    yield from make_world(tmp_path, monkeypatch, SandboxConfig(users=6))


def test_a_no_op_plan_imports_what_it_uses_and_nothing_else(world: World, tmp_path: Path) -> None:
    """``avatars plan --user X`` after a sync: the history (SQLite) and HTTP, but no photo is decoded (the
    verdict is cached), so no Pillow image module or HEIC plugin; no review page (Jinja2), no PostgreSQL
    dialect, no sandbox, doctor or observers code."""
    world.cli("avatars", "sync")
    key = world.students()[0].sis_user_id
    assert key is not None
    modules = imported_by(
        "avatars", "plan", "--user", key, env={**world.env(), "PROFILESYNC_CROP": "face"}, cwd=tmp_path
    )
    assert {"profilesync.app", "sqlalchemy.dialects.sqlite", "requests"} <= modules  # the plan did run
    unused = ("PIL.Image", "pillow_heif", "jinja2", "sqlalchemy.dialects.postgresql", "profilesync_sandbox")
    unused += ("profilesync.doctor", "profilesync.observers", "profilesync.report_html", "platformdirs")
    unused += ("cv2", "numpy")  # even with the face cut asked for: it is needed when a photo is cut
    assert sorted(m for m in modules if m.startswith(unused)) == []
