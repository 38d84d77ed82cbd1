"""The shipped cron, systemd and Task Scheduler files run commands that really work (against the sandbox)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from profilesync.cli import cli
from support.world import World

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def cron_commands() -> list[list[str]]:
    commands = []
    for line in (SCRIPTS / "cron" / "profilesync.cron").read_text().splitlines():
        if line.startswith("#") or "bin/profilesync " not in line:
            continue
        after = line.split("bin/profilesync ", 1)[1]
        commands.append(shlex.split(after.split(" >", 1)[0]))
    return commands


def systemd_command() -> list[str]:
    text = (SCRIPTS / "systemd" / "profilesync.service").read_text()
    (exec_start,) = re.findall(r"^ExecStart=(.*)$", text, re.MULTILINE)
    return shlex.split(exec_start)[1:]


def windows_command() -> list[str]:
    text = (SCRIPTS / "windows" / "register-task.ps1").read_text()
    (arguments,) = re.findall(r'^\$arguments = "(.*)"$', text, re.MULTILINE)
    arguments = arguments.replace("$(Quote $EnvFile)", "ENVFILE").replace("$(Quote $LogFile)", "LOGFILE")
    return shlex.split(arguments)


COMMANDS = {
    "cron sync": lambda: cron_commands()[0],
    "cron doctor": lambda: cron_commands()[1],
    "systemd": systemd_command,
    "windows": windows_command,
}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_scheduled_command_runs_and_logs_to_its_file(name: str, world: World, tmp_path: Path) -> None:
    """Each scheduler's command line, with its paths pointed at a test folder, exits 0 and writes its log file."""
    env_file = tmp_path / "profilesync.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in world.env().items()))
    log_file = tmp_path / "logs" / "sync.log"
    args = [str(env_file) if a in ("/etc/profilesync/profilesync.env", "ENVFILE") else a for a in COMMANDS[name]()]
    args = [str(log_file) if a == "LOGFILE" or a.startswith("/var/log/profilesync/") else a for a in args]
    assert str(env_file) in args and str(log_file) in args and "-q" in args
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert log_file.stat().st_size > 0
