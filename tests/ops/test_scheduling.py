"""The shipped cron, systemd and Task Scheduler files run commands that really work (against the sandbox).

Every job (Canvas avatars, observers, Guru avatars) is scheduled by each of them, by absolute path, with the same
env file as the admin's own commands, quietly (-q) and with a log file of its own.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from profilesync.cli import cli
from profilesync_sandbox.guru import GuruSandbox, GuruSandboxConfig
from support.world import World

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
INSTALLED = "/opt/profilesync/venv/bin/profilesync"
ENV_FILE = "/etc/profilesync/profilesync.env"
CSV_FILE = "/srv/sis/parents.csv"
JOB_WORDS = {
    "avatars": ["avatars", "sync"],
    "observers": ["observers", "sync"],
    "guru": ["avatars", "sync", "--target", "guru"],
    "doctor": ["doctor"],
}


def cron_commands() -> dict[str, list[str]]:
    """The cron file's jobs (commented-out ones too), each as program + arguments."""
    commands = {}
    for line in (SCRIPTS / "cron" / "profilesync.cron").read_text().splitlines():
        if not re.match(r"^#?\d+\s+\d+\s+\*", line):
            continue
        command = line.split(" && ", 1)[1].split(" >", 1)[0]
        argv = shlex.split(command)
        log_name = Path(argv[argv.index("--log-file") + 1]).stem
        commands[log_name] = argv
    return commands


def systemd_commands() -> dict[str, list[str]]:
    commands = {}
    for unit in sorted((SCRIPTS / "systemd").glob("profilesync-*.service")):
        (exec_start,) = re.findall(r"^ExecStart=(.*)$", unit.read_text(), re.MULTILINE)
        commands[unit.stem.removeprefix("profilesync-")] = shlex.split(exec_start)
    return commands


def windows_commands() -> dict[str, list[str]]:
    """register-task.ps1's command line for each -Job, its parameters in capitals."""
    text = (SCRIPTS / "windows" / "register-task.ps1").read_text()
    (arguments,) = re.findall(r'^\$arguments = "(.*)"$', text, re.MULTILINE)
    table = text[text.index("$jobArguments = @{") : text.index("}[$Job]")]
    commands = {}
    for job, words in re.findall(r"^\s+'(\w+)'\s+= \"(.*)\"$", table, re.MULTILINE):
        line = arguments.replace("$jobArguments", words)
        for name in ("EnvFile", "LogFile", "CsvFile"):
            line = line.replace(f"$(Quote ${name})", name.upper())
        commands[job] = ["PROFILESYNCEXE", *shlex.split(line)]
    return commands


SCHEDULERS = {"cron": cron_commands, "systemd": systemd_commands, "windows": windows_commands}


def test_every_scheduler_has_every_job() -> None:
    """cron, systemd and Task Scheduler each schedule the three jobs (and cron the weekly doctor too)."""
    assert set(cron_commands()) == {"avatars", "observers", "guru", "doctor"}
    assert set(systemd_commands()) == {"avatars", "observers", "guru"}
    assert set(windows_commands()) == {"avatars", "observers", "guru"}
    timers = {p.stem for p in (SCRIPTS / "systemd").glob("*.timer")}
    assert timers == {"profilesync-avatars", "profilesync-observers", "profilesync-guru"}


@pytest.mark.parametrize("scheduler", ["cron", "systemd"])
def test_posix_recipes_call_the_console_script_by_absolute_path(scheduler: str) -> None:
    """cron's PATH does not hold a virtualenv: every line names the installed script by its absolute path."""
    for argv in SCHEDULERS[scheduler]().values():
        assert argv[0] == INSTALLED


def test_windows_script_checks_the_history_is_named() -> None:
    """register-task.ps1 refuses an env file without PROFILESYNC_DATABASE_URL (SYSTEM's data folder is not the
    admin's) and runs the task's program by the absolute path it was given."""
    text = (SCRIPTS / "windows" / "register-task.ps1").read_text()
    assert "PROFILESYNC_DATABASE_URL" in text and "-Execute $ProfilesyncExe" in text
    assert re.search(r"\[string\] \$ProfilesyncExe = 'C:\\[^']+\\profilesync\.exe'", text)


@pytest.fixture
def guru() -> Iterator[GuruSandbox]:
    with GuruSandbox(GuruSandboxConfig(members=8, page_size=5)) as sandbox:
        yield sandbox


@pytest.mark.parametrize(
    ("scheduler", "job"),
    [(s, j) for s in SCHEDULERS for j in JOB_WORDS if not (j == "doctor" and s != "cron")],
)
def test_scheduled_command_runs_and_logs_to_its_file(
    scheduler: str, job: str, world: World, guru: GuruSandbox, tmp_path: Path
) -> None:
    """Each scheduler's command line for each job, with its paths pointed at a test folder, exits 0 quietly
    (nothing printed) and ends its own log file with its exit code."""
    argv = SCHEDULERS[scheduler]()[job]
    env = {**world.env(), "GURU_BASE_URL": guru.base_url, "GURU_USER": guru.user, "GURU_API_TOKEN": guru.token}
    env_file = tmp_path / "profilesync.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    env_file.chmod(0o600)
    csv_file = tmp_path / "parents.csv"
    student = world.students()[0].sis_user_id
    csv_file.write_text(f"student_sis_id,parent_email,first_name,last_name\n{student},p@home.example.net,Pat,Doe\n")
    log_file = tmp_path / "logs" / f"{job}.log"
    paths = {ENV_FILE: env_file, "ENVFILE": env_file, CSV_FILE: csv_file, "CSVFILE": csv_file, "LOGFILE": log_file}
    args = [str(paths.get(a, log_file if a.startswith("/var/log/profilesync/") else a)) for a in argv[1:]]
    assert args[:2] == ["--env-file", str(env_file)] and "-q" in args and str(log_file) in args
    assert args[args.index(str(log_file)) + 1 :][: len(JOB_WORDS[job])] == JOB_WORDS[job]
    result = CliRunner().invoke(cli, args, env={k: None for k in env}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    # Nothing on stdout either, but for a JSON document the recipe asked for (and sends to a file).
    assert result.stdout == "" or ("--format" in args and result.stdout.startswith("{"))
    assert log_file.read_text().splitlines()[-1].endswith(f"exit 0 (done): profilesync {' '.join(JOB_WORDS[job][:2])}")
