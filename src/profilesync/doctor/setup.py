"""``doctor``'s set-up checks: which settings file was read, whether others can read its token, where the history is.

Kept apart from doctor/canvas.py's Canvas checks: these look only at this machine (files, modes, the environment).
"""

from __future__ import annotations

import getpass
import os
import stat
from pathlib import Path

from dotenv import dotenv_values
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from profilesync.config import Settings, env_file_read, read_environment
from profilesync.doctor.checks import Check, Diagnosis, passed, warned
from profilesync.errors import ConfigError
from profilesync.store import MEMORY_URL, default_database_path

SETTINGS_FILE = "settings file"
HISTORY_LOCATION = "history location"
REPORTS = "reports"
TOKENS = ("CANVAS_API_TOKEN", "GURU_API_TOKEN")


def add_setup_checks(diagnosis: Diagnosis, env_file: Path | None) -> None:
    """Put the settings file first (everything else depends on it) and the history location last."""
    try:
        source = env_file_read(env_file)
    except ConfigError:
        return  # a named --env-file that does not exist: the configuration check already says so
    diagnosis.checks.insert(0, check_settings_file(source))
    diagnosis.checks.append(check_history_location(env_file))


def check_settings_file(source: Path | None) -> Check:
    """Which ``.env`` was read (or that none was), and whether other users can read the token in it."""
    if source is None:
        return warned(
            SETTINGS_FILE,
            f"no .env in {Path.cwd()} and no --env-file: settings come from the environment only",
            "run 'profilesync init' to write a commented template, or pass --env-file PATH",
        )
    where = os.path.abspath(source)
    try:
        mode = source.stat().st_mode
        holds_token = any((dotenv_values(source).get(name) or "").strip() for name in TOKENS)
    except OSError as exc:
        return warned(SETTINGS_FILE, f"read {where}, but cannot look at it again: {exc.strerror or exc}")
    # POSIX permission bits only: on Windows st_mode says nothing about who may read (that is the file's ACL).
    readable_by_others = os.name != "nt" and bool(mode & (stat.S_IRGRP | stat.S_IROTH))
    if holds_token and readable_by_others:
        who = "everyone on this machine" if mode & stat.S_IROTH else "its group"
        return warned(
            SETTINGS_FILE,
            f"read {where}; it holds an API token and {who} can read it (mode {stat.S_IMODE(mode):03o})",
            f"chmod 600 {where} (and chown it to the account that runs profilesync)",
        )
    return passed(SETTINGS_FILE, f"read {where}")


def history_location(database_url: str | None) -> tuple[str, bool]:
    """Where the history is, fit to print (password hidden), and whether it was named explicitly."""
    if not database_url:
        return f"sqlite:///{default_database_path().as_posix()}", False
    if database_url == MEMORY_URL:
        return database_url, True
    try:
        return make_url(database_url).render_as_string(hide_password=True), True
    except ArgumentError:
        return "(PROFILESYNC_DATABASE_URL is not a database URL)", True


def check_history_location(env_file: Path | None) -> Check:
    """The history must be one place for every account: the scheduled job's and the admin's."""
    try:
        url = read_environment(env_file).get("PROFILESYNC_DATABASE_URL", "").strip() or None
    except ConfigError:
        url = None
    shown, explicit = history_location(url)
    if explicit:
        return passed(HISTORY_LOCATION, f"{shown} (PROFILESYNC_DATABASE_URL): the same for every account")
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "this user"
    return warned(
        HISTORY_LOCATION,
        f"{shown}: PROFILESYNC_DATABASE_URL is not set, so this is {user}'s own default; a job run as another "
        "account (Task Scheduler as SYSTEM, a service user) keeps a history of its own and uploads everything again",
        "set PROFILESYNC_DATABASE_URL in the settings file to one place every account uses ('profilesync init' does)",
    )


def check_reports(settings: Settings) -> Check:
    """Where a finished run's report goes (PROFILESYNC_NOTIFY): shown, not sent (no mail for every doctor run)."""
    notify = settings.notify
    if notify is None or not notify.channels():
        return passed(REPORTS, "not sent (PROFILESYNC_NOTIFY=never): the log file and exit code are the record")
    return passed(REPORTS, f"sent on {notify.when.value}: {'; '.join(notify.channels())}")
