"""Frozen settings from the environment, ``.env`` and command-line options, with every problem reported at once."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from dotenv import dotenv_values

from profilesync.domain import Crop, Secret, basic_credentials
from profilesync.engine.model import Policy
from profilesync.errors import ConfigError

if TYPE_CHECKING:
    from profilesync.notify.settings import NotifySettings

MATCH_FIELDS = ("sis_user_id", "login_id", "email", "integration_id", "id")
TARGETS = ("canvas", "guru")


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything a command needs to know, validated. Built once in the CLI, read everywhere else."""

    canvas_base_url: str | None = None
    canvas_token: Secret | None = field(default=None, repr=False)
    canvas_account_id: str = "self"
    guru_base_url: str = "https://api.getguru.com"
    guru_user: str | None = None
    guru_token: Secret | None = field(default=None, repr=False)
    photos_dir: Path = Path("photos")
    #: Guru's own photo folder: its photos are named by email, Canvas's by SIS id, so one folder rarely serves
    #: both. None = the shared PROFILESYNC_PHOTOS_DIR.
    guru_photos_dir: Path | None = None
    #: photos read from the SIS database instead of the folder (README "Photos straight from the SIS database");
    #: the URL may hold a password
    photos_sql_url: Secret | None = field(default=None, repr=False)
    photos_sql_query: str | None = None
    match: str | None = None  # None = the target's default (Canvas: sis_user_id, Guru: email)
    database_url: str | None = None  # None = SQLite in the per-user data directory
    max_age_days: int = 30
    #: runs (and their events) older than this are forgotten as each run ends; 0 = keep every run
    keep_runs_days: int = 400
    #: observers: links profilesync made are checked in Canvas again at most this many days apart (0 = every run)
    observers_verify_days: int = 7
    policy: Policy = Policy.ENFORCE
    workers: int | None = None  # None = adaptive
    image_size: int = 256
    #: how a photo is cut to the square (centre = as every earlier version; README "Face-aware crop")
    crop: Crop = Crop.CENTRE
    allow_insecure_http: bool = False
    timeout_s: float = 60.0
    #: Canvas: lock the avatars profilesync sets, so users cannot replace them (README "Locked avatars")
    lock_avatars: bool = False
    #: where a finished run's report goes (PROFILESYNC_NOTIFY*; notify/settings.py); None while no PROFILESYNC_NOTIFY*
    #: variable is set, so the settings of a command that sends nothing cost no import
    notify: NotifySettings | None = None

    def match_for(self, target: str) -> str:
        """The match field in force for a target."""
        return self.match or ("email" if target == "guru" else "sis_user_id")

    def for_target(self, target: str) -> Settings:
        """The settings a job on this target runs with: Guru reads its own photo folder when one is set."""
        if target == "guru" and self.guru_photos_dir is not None:
            return replace(self, photos_dir=self.guru_photos_dir, photos_sql_url=None)
        return self

    def secret_values(self) -> list[str]:
        """Every secret a log line, an error or the output must never show (for the log filter)."""
        values = [s.reveal() for s in (self.canvas_token, self.guru_token, self.photos_sql_url) if s is not None]
        values.extend(sql_password(self.photos_sql_url))
        if self.guru_user and self.guru_token is not None:
            values.append(basic_credentials(self.guru_user, self.guru_token).reveal())
        return values + (self.notify.secret_values() if self.notify is not None else [])

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with the given command-line options applied (None means "not given")."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


ENV_VARS = {
    "CANVAS_BASE_URL": "canvas_base_url",
    "CANVAS_API_TOKEN": "canvas_token",
    "CANVAS_ACCOUNT_ID": "canvas_account_id",
    "GURU_BASE_URL": "guru_base_url",
    "GURU_USER": "guru_user",
    "GURU_API_TOKEN": "guru_token",
    "PROFILESYNC_PHOTOS_DIR": "photos_dir",
    "GURU_PHOTOS_DIR": "guru_photos_dir",
    "PROFILESYNC_PHOTOS_SQL_URL": "photos_sql_url",
    "PROFILESYNC_PHOTOS_SQL_QUERY": "photos_sql_query",
    "PROFILESYNC_MATCH": "match",
    "PROFILESYNC_DATABASE_URL": "database_url",
    "PROFILESYNC_MAX_AGE_DAYS": "max_age_days",
    "PROFILESYNC_KEEP_RUNS_DAYS": "keep_runs_days",
    "PROFILESYNC_OBSERVERS_VERIFY_DAYS": "observers_verify_days",
    "PROFILESYNC_POLICY": "policy",
    "PROFILESYNC_WORKERS": "workers",
    "PROFILESYNC_IMAGE_SIZE": "image_size",
    "PROFILESYNC_CROP": "crop",
    "PROFILESYNC_ALLOW_INSECURE_HTTP": "allow_insecure_http",
    "PROFILESYNC_TIMEOUT": "timeout_s",
    "PROFILESYNC_LOCK_AVATARS": "lock_avatars",
}


NOTIFY_PREFIX = "PROFILESYNC_NOTIFY"  # the report's settings (notify/settings.py ENV_NAMES)


def read_environment(env_file: Path | None, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The raw variables: ``.env`` (or ``env_file``) first, the process environment on top.

    A named ``--env-file`` that does not exist is an error; a missing default ``.env`` is not.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, str] = {}
    source = env_file_read(env_file)
    if source is not None:
        values.update({k: v for k, v in dotenv_values(source).items() if v is not None})
    values.update({k: v for k, v in environ.items() if k in ENV_VARS or k.startswith(NOTIFY_PREFIX)})
    return values


def env_file_read(env_file: Path | None) -> Path | None:
    """The settings file read: ``--env-file`` (which must exist), else ``./.env`` if there is one, else None."""
    if env_file is not None:
        if not env_file.is_file():
            raise ConfigError([f"--env-file {env_file}: no such file"])
        return env_file
    return Path(".env") if Path(".env").is_file() else None


def load_settings(env_file: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Parse and validate the variables; raise ConfigError listing every problem found."""
    raw = read_environment(env_file, environ)
    problems: list[str] = []
    kwargs: dict[str, Any] = {}

    def number(name: str, cast: type[int] | type[float], minimum: float) -> None:
        text = raw.get(name, "").strip()
        if not text:
            return
        try:
            value = cast(text)
        except ValueError:
            problems.append(f"{name}={text!r} is not a number")
            return
        if value < minimum:
            problems.append(f"{name}={text} must be at least {minimum:g}")
            return
        kwargs[ENV_VARS[name]] = value

    for name in ("CANVAS_BASE_URL", "GURU_BASE_URL"):
        if raw.get(name, "").strip():
            kwargs[ENV_VARS[name]] = raw[name].strip().rstrip("/")
    for name in ("CANVAS_API_TOKEN", "GURU_API_TOKEN", "PROFILESYNC_PHOTOS_SQL_URL"):
        if raw.get(name, "").strip():
            kwargs[ENV_VARS[name]] = Secret(raw[name].strip())
    for name in ("CANVAS_ACCOUNT_ID", "GURU_USER", "PROFILESYNC_DATABASE_URL"):
        if raw.get(name, "").strip():
            kwargs[ENV_VARS[name]] = raw[name].strip()
    for name in ("PROFILESYNC_PHOTOS_DIR", "GURU_PHOTOS_DIR"):
        if raw.get(name, "").strip():
            kwargs[ENV_VARS[name]] = Path(raw[name].strip()).expanduser()
    if raw.get("PROFILESYNC_PHOTOS_SQL_QUERY", "").strip():
        kwargs["photos_sql_query"] = raw["PROFILESYNC_PHOTOS_SQL_QUERY"].strip()
    if ("photos_sql_url" in kwargs) != ("photos_sql_query" in kwargs):
        problems.append("PROFILESYNC_PHOTOS_SQL_URL and PROFILESYNC_PHOTOS_SQL_QUERY go together: set both or neither")
    match = raw.get("PROFILESYNC_MATCH", "").strip()
    if match:
        if match in MATCH_FIELDS:
            kwargs["match"] = match
        else:
            problems.append(f"PROFILESYNC_MATCH={match!r} must be one of {', '.join(MATCH_FIELDS)}")
    policy = raw.get("PROFILESYNC_POLICY", "").strip().lower()
    if policy:
        try:
            kwargs["policy"] = Policy(policy)
        except ValueError:
            problems.append(f"PROFILESYNC_POLICY={policy!r} must be 'enforce' or 'respect'")
    crop = raw.get("PROFILESYNC_CROP", "").strip().lower()
    if crop:
        try:
            kwargs["crop"] = Crop("centre" if crop == "center" else crop)
        except ValueError:
            problems.append(f"PROFILESYNC_CROP={crop!r} must be 'centre', 'portrait' or 'face'")
    number("PROFILESYNC_MAX_AGE_DAYS", int, 0)
    number("PROFILESYNC_KEEP_RUNS_DAYS", int, 0)
    number("PROFILESYNC_OBSERVERS_VERIFY_DAYS", int, 0)
    number("PROFILESYNC_WORKERS", int, 1)
    number("PROFILESYNC_IMAGE_SIZE", int, 32)
    number("PROFILESYNC_TIMEOUT", float, 1)
    for name in ("PROFILESYNC_ALLOW_INSECURE_HTTP", "PROFILESYNC_LOCK_AVATARS"):
        flag = raw.get(name, "").strip().lower()
        if flag:
            kwargs[ENV_VARS[name]] = flag in ("1", "true", "yes", "on")
    if any(name.startswith(NOTIFY_PREFIX) for name in raw):
        from profilesync.notify.settings import parse_notify  # only when set: see Settings.notify

        kwargs["notify"], notify_problems = parse_notify(
            raw, allow_insecure_http=kwargs.get("allow_insecure_http", False)
        )
        problems += notify_problems
    if problems:
        raise ConfigError(problems)
    return Settings(**kwargs)


def sql_password(url: Secret | None) -> list[str]:
    """The password inside a SQLAlchemy URL, as written and URL-decoded (a driver's error may quote either)."""
    if url is None:
        return []
    parts = urlsplit(url.reveal())
    try:
        password = parts.password
    except ValueError:  # not a URL at all: the photo source reports that
        return []
    return [password, unquote(password)] if password else []


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses, where plain http cannot leak a token to the network."""
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def url_problems(name: str, url: str | None, *, allow_insecure_http: bool) -> list[str]:
    """What is wrong with a base URL: missing, not http(s), or plain http to a non-loopback host."""
    if not url:
        return [f"{name} is not set"]
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [f"{name}={url!r} is not an http(s) URL like https://school.instructure.com"]
    if parts.scheme == "http" and not allow_insecure_http and not is_loopback(parts.hostname):
        return [
            f"{name}={url!r} uses plain http to a non-loopback host, which would send the token in clear "
            "(use https, or --allow-insecure-http if you really mean it)"
        ]
    return []


def require_canvas(settings: Settings) -> tuple[str, Secret]:
    """The Canvas URL and token, or a ConfigError naming everything missing."""
    problems = url_problems(
        "CANVAS_BASE_URL", settings.canvas_base_url, allow_insecure_http=settings.allow_insecure_http
    )
    if settings.canvas_token is None:
        problems.append("CANVAS_API_TOKEN is not set (an admin token: Profile > Settings > New Access Token)")
    if problems:
        raise ConfigError(problems)
    assert settings.canvas_base_url is not None and settings.canvas_token is not None
    return settings.canvas_base_url, settings.canvas_token


def guru_problems(settings: Settings) -> list[str]:
    """What stops the Guru job: its URL, user and token missing or unacceptable, or a match Guru cannot name."""
    from profilesync.targets.guru import MATCH_FIELDS  # when asked: the settings load no HTTP client

    match = settings.match_for("guru")
    problems = url_problems("GURU_BASE_URL", settings.guru_base_url, allow_insecure_http=settings.allow_insecure_http)
    if not settings.guru_user:
        problems.append("GURU_USER is not set (the email of the Team Admin whose User token you use)")
    if settings.guru_token is None:
        problems.append("GURU_API_TOKEN is not set (a User token: Manage > Apps & Integrations > API Access)")
    if match not in MATCH_FIELDS:
        problems.append(f"PROFILESYNC_MATCH={match} cannot name Guru members: use {' or '.join(MATCH_FIELDS)}")
    return problems
