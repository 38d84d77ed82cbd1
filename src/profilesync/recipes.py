"""Scheduling recipes with this installation's absolute paths: cron lines, systemd units, Task Scheduler commands.

``profilesync init`` prints them, because a ``pip install`` brings no scheduling files. Every recipe calls the
console script by its absolute path (cron's PATH and Task Scheduler's do not hold a virtualenv), names the same
``--env-file`` as the admin's own commands (so every account reads the same history, which that file names)
and logs to a file. The three jobs are scheduled separately: each has a lock of its own.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath

SCHEDULERS = ("cron", "systemd", "windows")


@dataclass(frozen=True)
class Job:
    """One scheduled job: its name (used for files, units and tasks), what it does and the command's words."""

    name: str
    title: str
    args: tuple[str, ...]
    at: str  # HH:MM, spread so the jobs do not start together
    optional: bool = False  # scheduled only by those who use it (recipes show it commented out or marked)


@dataclass(frozen=True)
class Installation:
    """The absolute paths a recipe needs."""

    command: tuple[str, ...]  # the console script, or the interpreter and ``-m profilesync``
    env_file: PurePath
    workdir: PurePath
    log_dir: PurePath
    observers_csv: PurePath
    history_dir: PurePath  # a SQLite history's folder: the job writes there

    def jobs(self) -> list[Job]:
        return [
            Job("avatars", "Canvas avatars from the photo folder", ("avatars", "sync"), "02:15"),
            Job(
                "observers",
                "Canvas parent (observer) accounts from the SIS export",
                ("observers", "sync", str(self.observers_csv)),
                "02:45",
                optional=True,
            ),
            Job("guru", "Guru avatars", ("avatars", "sync", "--target", "guru"), "03:15", optional=True),
        ]

    def argv(self, job: Job) -> list[str]:
        """The job's full command line: quiet unless something failed, the whole story in its log file."""
        log_file = self.log_dir / f"{job.name}.log"
        return [*self.command, "--env-file", str(self.env_file), "-q", "--log-file", str(log_file), *job.args]


def default_scheduler() -> str:
    """This OS's scheduler: Task Scheduler on Windows, systemd where it runs, cron elsewhere."""
    if sys.platform == "win32":
        return "windows"
    if sys.platform.startswith("linux") and os.path.isdir("/run/systemd/system"):
        return "systemd"
    return "cron"


def render(scheduler: str, install: Installation) -> str:
    return {"cron": cron, "systemd": systemd, "windows": windows}[scheduler](install)


def cron(install: Installation) -> str:
    lines = [
        "# crontab -e, as the account that runs profilesync. -q: cron mails only when something failed;",
        "# each job logs to its own file and has its own lock. Uncomment the jobs you use.",
    ]
    for job in install.jobs():
        minute, hour = job.at.split(":")[1], job.at.split(":")[0].lstrip("0") or "0"
        command = f"cd {shlex.quote(str(install.workdir))} && {shlex.join(install.argv(job))}"
        lines.append(f"{'# ' if job.optional else ''}{int(minute)} {hour} * * *  {command}")
    return "\n".join(lines)


def _systemd_quote(words: Sequence[str]) -> str:
    # systemd.service(5), "Command lines": double quotes group words; backslashes and quotes are escaped.
    def one(word: str) -> str:
        if word and not any(c in word for c in " \t\"\\'$%;"):
            return word
        return '"' + word.replace("\\", "\\\\").replace('"', '\\"').replace("$", "$$").replace("%", "%%") + '"'

    return " ".join(one(w) for w in words)


def systemd(install: Installation) -> str:
    parts = [
        "# One service and one timer per job, in /etc/systemd/system/; then:",
        "#   sudo systemctl daemon-reload && sudo systemctl enable --now profilesync-avatars.timer",
        "# Add User=/Group= for a service account that may read the env file and the photo folder.",
    ]
    # ProtectSystem=strict: the job writes only its working folder, its logs and the history's folder (SQLite
    # keeps its WAL beside the file).
    paths = sorted({str(install.workdir), str(install.log_dir), str(install.history_dir)})
    for job in install.jobs():
        parts += [
            "",
            f"# --- profilesync-{job.name}.service" + (" (only if you use this job)" if job.optional else ""),
            "[Unit]",
            f"Description=profilesync: {job.title}",
            "Wants=network-online.target",
            "After=network-online.target",
            "[Service]",
            "Type=oneshot",
            f"WorkingDirectory={install.workdir}",
            f"ExecStart={_systemd_quote(install.argv(job))}",
            "# Exit 5: another run of this job holds its lock, and is doing the work.",
            "SuccessExitStatus=5",
            "TimeoutStartSec=4h",
            "ProtectSystem=strict",
            f"ReadWritePaths={' '.join(paths)}",
            "UMask=0077",
            f"# --- profilesync-{job.name}.timer",
            "[Unit]",
            f"Description=Nightly profilesync {job.name} job",
            "[Timer]",
            f"OnCalendar=*-*-* {job.at}:00",
            "RandomizedDelaySec=10min",
            "Persistent=true",
            "[Install]",
            "WantedBy=timers.target",
        ]
    return "\n".join(parts)


def _ps(text: str) -> str:
    """A PowerShell single-quoted string (a quote inside is doubled)."""
    return "'" + text.replace("'", "''") + "'"


def windows(install: Installation) -> str:
    parts = [
        "# In an elevated PowerShell. The tasks run as SYSTEM (use -User/-Password for a service account that",
        "# can read a network photo share). LastTaskResult is profilesync's exit code. Keep the jobs you use.",
        "$settings = New-ScheduledTaskSettingsSet -MultipleInstances IgnoreNew -StartWhenAvailable "
        "-ExecutionTimeLimit (New-TimeSpan -Hours 4)",
        "$principal = New-ScheduledTaskPrincipal -UserId 'SYSTEM' -LogonType ServiceAccount -RunLevel Limited",
    ]
    for job in install.jobs():
        argv = install.argv(job)
        # Task Scheduler hands the arguments to the program as one Windows command line.
        arguments = subprocess.list2cmdline(argv[1:])
        parts += [
            "",
            f"# profilesync {job.name}: {job.title}" + (" (only if you use this job)" if job.optional else ""),
            f"$action = New-ScheduledTaskAction -Execute {_ps(argv[0])} -Argument {_ps(arguments)} "
            f"-WorkingDirectory {_ps(str(install.workdir))}",
            f"Register-ScheduledTask -TaskName {_ps('profilesync ' + job.name)} -Action $action "
            f"-Trigger (New-ScheduledTaskTrigger -Daily -At {_ps(job.at)}) "
            "-Settings $settings -Principal $principal -Force",
        ]
    return "\n".join(parts)


def console_script() -> tuple[str, ...]:
    """The absolute command that runs this installation's profilesync.

    The script being run, if it is the console script; else the one installed beside this interpreter (a
    virtualenv's bin/ or Scripts\\); else the one on PATH; else the interpreter with ``-m profilesync``.
    """
    name = "profilesync.exe" if sys.platform == "win32" else "profilesync"
    running = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if running is not None and running.stem == "profilesync" and running.is_file():
        return (os.path.abspath(running),)
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return (str(beside),)
    found = shutil.which("profilesync")
    if found:
        return (os.path.abspath(found),)
    return (os.path.abspath(sys.executable), "-m", "profilesync")
