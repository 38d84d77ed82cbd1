"""`profilesync init`: the commented .env template (mode 600) and this installation's scheduling recipes.

The recipes it prints are run for real against the sandbox, with the .env it wrote.
"""

from __future__ import annotations

import os
import re
import shlex
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from profilesync.cli import cli
from profilesync.init import fill
from support.world import World

REPO = Path(__file__).resolve().parents[2]
JOB_WORDS = {
    "avatars": ["avatars", "sync"],
    "observers": ["observers", "sync"],
    "guru": ["avatars", "sync", "--target", "guru"],
}


def run(world: World, *args: str, expect: int = 0) -> Result:
    """The CLI with none of the world's variables in the environment: only the .env file speaks."""
    result = CliRunner().invoke(cli, list(args), env={k: None for k in world.env()}, catch_exceptions=False)
    assert result.exit_code == expect, result.output
    return result


def filled_env(world: World, path: Path) -> None:
    """What the admin does after init: fill in the Canvas address, the token and the photo folder."""
    text = fill(
        path.read_text(),
        {
            "CANVAS_BASE_URL": world.sandbox.base_url,
            "CANVAS_API_TOKEN": world.sandbox.admin_token,
            "PROFILESYNC_PHOTOS_DIR": str(world.photos),
        },
    )
    path.write_text(text)


def recipe_commands(output: str, scheduler: str) -> list[list[str]]:
    """The command lines (program first) of the recipe ``init --scheduler`` printed, one per job."""
    if scheduler == "cron":
        lines = [line.removeprefix("# ") for line in output.splitlines() if re.match(r"^(# )?\d+ \d+ \* \* \*", line)]
        return [shlex.split(line.split(" && ", 1)[1]) for line in lines]
    if scheduler == "systemd":
        return [shlex.split(line.removeprefix("ExecStart=")) for line in output.splitlines() if "ExecStart=" in line]
    found = re.findall(r"-Execute '([^']*)' -Argument '([^']*)'", output)
    return [[exe, *shlex.split(arguments)] for exe, arguments in found]


def test_init_writes_the_template_readable_by_its_owner_only(world: World, tmp_path: Path) -> None:
    """`init` writes ./.env: the shipped template (= the repository's config.example.env) with the history and
    the photo folder set to absolute paths beside it; mode 600."""
    result = run(world, "init", "--scheduler", "cron")
    env = tmp_path / ".env"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    expected = fill(
        (REPO / "config.example.env").read_text(),
        {
            "PROFILESYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'history.sqlite3'}",
            "PROFILESYNC_PHOTOS_DIR": str(tmp_path / "photos"),
        },
    )
    assert env.read_text() == expected
    assert f"wrote {env} " in result.stdout
    assert f"history: sqlite:///{tmp_path / 'history.sqlite3'}" in result.stdout


def test_init_never_overwrites_without_force(world: World, tmp_path: Path) -> None:
    """An existing file (it may hold a token) is left alone: exit 2 with advice; --force replaces it, mode 600."""
    env = tmp_path / ".env"
    env.write_text("CANVAS_API_TOKEN=keep-me\n")
    env.chmod(0o644)
    result = run(world, "init", expect=2)
    assert "already exists" in result.stderr and "--force" in result.stderr
    assert env.read_text() == "CANVAS_API_TOKEN=keep-me\n"
    run(world, "init", "--force")
    assert "keep-me" not in env.read_text() and stat.S_IMODE(env.stat().st_mode) == 0o600


@pytest.mark.parametrize("scheduler", ["cron", "systemd", "windows"])
def test_recipe_calls_the_console_script_by_absolute_path_for_each_job(
    scheduler: str, world: World, tmp_path: Path
) -> None:
    """Each scheduler's recipe has the three jobs, each calling this installation's console script by its
    absolute path with the absolute --env-file, -q and a --log-file of its own."""
    env = tmp_path / "conf" / "profilesync.env"
    output = run(world, "--env-file", str(env), "init", "--scheduler", scheduler).stdout
    commands = recipe_commands(output, scheduler)
    assert len(commands) == 3, output
    logs = set()
    for argv, (job, words) in zip(commands, JOB_WORDS.items(), strict=True):
        program = Path(argv[0])
        assert program.is_absolute() and program.is_file() and os.access(program, os.X_OK), argv
        assert argv[argv.index("--env-file") + 1] == str(env) and "-q" in argv
        log_file = Path(argv[argv.index("--log-file") + 1])
        assert log_file == tmp_path / "conf" / "logs" / f"{job}.log"
        logs.add(log_file)
        assert argv[argv.index("-q") + 3 :][: len(words)] == words
    assert len(logs) == 3


@pytest.mark.parametrize("scheduler", ["cron", "systemd", "windows"])
def test_recipe_runs_the_sync_with_the_history_init_named(scheduler: str, world: World, tmp_path: Path) -> None:
    """The avatars job of the printed recipe, run as printed (env cleared), syncs the sandbox into the history
    file init named; `avatars runs` and `doctor` with the same .env show that same history."""
    env = tmp_path / "conf" / "profilesync.env"
    database = tmp_path / "shared" / "history.sqlite3"
    output = run(world, "--env-file", str(env), "init", "--database", str(database), "--scheduler", scheduler).stdout
    filled_env(world, env)
    avatars_job = recipe_commands(output, scheduler)[0]
    result = run(world, *avatars_job[1:])
    assert result.stdout == "" and result.stderr == ""  # -q, nothing failed
    assert database.is_file()
    log_file = Path(avatars_job[avatars_job.index("--log-file") + 1])
    assert "exit 0 (done): profilesync avatars sync" in log_file.read_text()
    runs = run(world, "--env-file", str(env), "avatars", "runs").stdout
    assert runs.splitlines()[0] == f"history: sqlite:///{database}"
    assert "avatars sync" in runs and "0 ok" in runs
    doctor = run(world, "--env-file", str(env), "doctor").stdout
    assert f"sqlite:///{database} (PROFILESYNC_DATABASE_URL): the same for every account" in doctor


def test_systemd_recipe_lets_the_service_write_its_history_and_logs(world: World, tmp_path: Path) -> None:
    """The systemd units are read-only but for the folders of the history and the logs init chose."""
    env = tmp_path / "etc" / "profilesync.env"
    database = tmp_path / "state" / "history.sqlite3"
    output = run(world, "--env-file", str(env), "init", "--database", str(database), "--scheduler", "systemd").stdout
    paths = re.findall(r"^ReadWritePaths=(.*)$", output, re.M)
    assert len(paths) == 3
    for line in paths:
        assert set(line.split()) >= {str(database.parent), str(tmp_path / "etc" / "logs")}
    assert output.count("SuccessExitStatus=5") == 3 and output.count("OnCalendar=") == 3
