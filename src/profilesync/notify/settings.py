"""The notification settings (``PROFILESYNC_NOTIFY*``): when a finished run's report is sent, and where.

Parsed with the rest of the settings (config.py) and validated only when notifications are on: settings left in
the .env with ``PROFILESYNC_NOTIFY=never`` never stop a run. Light on purpose (no smtplib, no requests): every
command that reads settings imports this module.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TypeVar
from urllib.parse import urlsplit

from profilesync.domain import Secret

_E = TypeVar("_E", bound=Enum)


class When(str, Enum):
    """When a run's report is delivered."""

    NEVER = "never"
    FAILURES = "failures"  # exit code 1-5: failed users or rows, configuration, a fatal remote error, valve, lock
    ALWAYS = "always"


class Security(str, Enum):
    """How the SMTP connection is protected."""

    STARTTLS = "starttls"  # plain connect, then STARTTLS before login (the submission port, 587)
    SSL = "ssl"  # TLS from the first byte (SMTPS, 465)
    NONE = "none"  # a relay on the local network that needs neither (25); login is then refused off loopback


DEFAULT_PORTS = {Security.STARTTLS: 587, Security.SSL: 465, Security.NONE: 25}


class WebhookFormat(str, Enum):
    """The JSON body a webhook receives."""

    TEXT = "text"  # {"text": ...}: Slack incoming webhooks (and Mattermost, Rocket.Chat, Teams' retired connectors)
    TEAMS = (
        "teams"  # an Adaptive Card message: Teams Workflows ("Post to a channel when a webhook request is received")
    )


#: interrupted runs (130 Ctrl-C, 143 SIGTERM) are never delivered: a person or the system stopped the run on
#: purpose, a shutdown may cut the delivery off, and the next run finishes the work (README "The nightly report")
INTERRUPTED = frozenset({130, 143})

ENV_NAMES = (
    "PROFILESYNC_NOTIFY",
    "PROFILESYNC_NOTIFY_SMTP_HOST",
    "PROFILESYNC_NOTIFY_SMTP_PORT",
    "PROFILESYNC_NOTIFY_SMTP_SECURITY",
    "PROFILESYNC_NOTIFY_SMTP_USER",
    "PROFILESYNC_NOTIFY_SMTP_PASSWORD",
    "PROFILESYNC_NOTIFY_SMTP_FROM",
    "PROFILESYNC_NOTIFY_SMTP_TO",
    "PROFILESYNC_NOTIFY_WEBHOOK_URL",
    "PROFILESYNC_NOTIFY_WEBHOOK_FORMAT",
)


@dataclass(frozen=True, kw_only=True)
class SmtpSettings:
    host: str
    port: int
    security: Security
    user: str | None
    password: Secret | None = field(repr=False)
    sender: str
    recipients: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class NotifySettings:
    when: When = When.NEVER
    smtp: SmtpSettings | None = None
    webhook_url: Secret | None = field(default=None, repr=False)
    webhook_format: WebhookFormat = WebhookFormat.TEXT

    def wants(self, exit_code: int) -> bool:
        """Whether a run that ended with this exit code is delivered."""
        if self.when is When.NEVER or exit_code in INTERRUPTED:
            return False
        return self.when is When.ALWAYS or exit_code != 0

    def channels(self) -> list[str]:
        """Where reports go, for people: ``email to a@x, b@y`` and ``webhook (teams)``; no secret in it."""
        found = []
        if self.smtp is not None:
            found.append(f"email to {', '.join(self.smtp.recipients)} via {self.smtp.host}:{self.smtp.port}")
        if self.webhook_url is not None:
            found.append(f"webhook ({self.webhook_format.value}) to {urlsplit(self.webhook_url.reveal()).hostname}")
        return found

    def secret_values(self) -> list[str]:
        """The SMTP password, and the webhook URL (Slack and Teams URLs carry their token in the path and query,
        and an HTTP error names only the path: both are hidden)."""
        values = [self.smtp.password.reveal()] if self.smtp is not None and self.smtp.password is not None else []
        if self.webhook_url is not None:
            url = self.webhook_url.reveal()
            parts = urlsplit(url)
            values += [url, parts.path + (f"?{parts.query}" if parts.query else "")]
            values += [p for p in (parts.path, parts.query) if p and p != "/"]
        return values


def parse_notify(raw: Mapping[str, str], *, allow_insecure_http: bool) -> tuple[NotifySettings, list[str]]:
    """The notification settings, and every problem with them (none while PROFILESYNC_NOTIFY is never)."""

    def get(name: str) -> str:
        return raw.get(f"PROFILESYNC_NOTIFY{name}", "").strip()

    problems: list[str] = []
    when_text = get("").lower() or When.NEVER.value
    try:
        when = When(when_text)
    except ValueError:
        return NotifySettings(), [f"PROFILESYNC_NOTIFY={when_text!r} must be never, failures or always"]
    if when is When.NEVER:
        return NotifySettings(), []
    # A misspelt name (PROFILESYNC_NOTIFY_SMTP_PASS) would otherwise be silently ignored until the first failed night.
    problems += [
        f"{name} is not a setting (did you mean one of {', '.join(ENV_NAMES[1:])}?)"
        for name in sorted(raw)
        if name.startswith("PROFILESYNC_NOTIFY") and name not in ENV_NAMES
    ]
    smtp = _smtp(get, problems) if get("_SMTP_HOST") else None
    webhook = Secret(get("_WEBHOOK_URL")) if get("_WEBHOOK_URL") else None
    if webhook is not None:
        problems += _webhook_problems(webhook.reveal(), allow_insecure_http)
    webhook_format = _choice(get, "_WEBHOOK_FORMAT", WebhookFormat.TEXT, problems)
    if smtp is None and webhook is None and not problems:
        problems.append(
            f"PROFILESYNC_NOTIFY={when.value} but neither PROFILESYNC_NOTIFY_SMTP_HOST nor "
            "PROFILESYNC_NOTIFY_WEBHOOK_URL is set"
        )
    return NotifySettings(when=when, smtp=smtp, webhook_url=webhook, webhook_format=webhook_format), problems


def _smtp(get: Callable[[str], str], problems: list[str]) -> SmtpSettings | None:
    """The SMTP settings, appending what is wrong with them to ``problems``."""
    from profilesync.config import is_loopback  # config imports this module: its helper is looked up when used

    before = len(problems)
    host = get("_SMTP_HOST")
    security = _choice(get, "_SMTP_SECURITY", Security.STARTTLS, problems)
    port = DEFAULT_PORTS[security]
    if get("_SMTP_PORT"):
        try:
            port = int(get("_SMTP_PORT"))
            if not 1 <= port <= 65535:
                raise ValueError
        except ValueError:
            problems.append(f"PROFILESYNC_NOTIFY_SMTP_PORT={get('_SMTP_PORT')!r} is not a port number (1-65535)")
    user, password = get("_SMTP_USER") or None, get("_SMTP_PASSWORD") or None
    if (user is None) != (password is None):
        problems.append(
            "PROFILESYNC_NOTIFY_SMTP_USER and PROFILESYNC_NOTIFY_SMTP_PASSWORD go together: set both or neither"
        )
    if password is not None and security is Security.NONE and not is_loopback(host):
        problems.append(
            "PROFILESYNC_NOTIFY_SMTP_SECURITY=none with a password would send it in clear: use starttls or ssl"
        )
    sender = get("_SMTP_FROM")
    if not _is_address(sender):
        problems.append("PROFILESYNC_NOTIFY_SMTP_FROM must be an email address (the report's sender)")
    recipients = tuple(a.strip() for a in get("_SMTP_TO").replace(";", ",").split(",") if a.strip())
    if not recipients:
        problems.append("PROFILESYNC_NOTIFY_SMTP_TO is not set (one or more addresses, comma separated)")
    problems += [f"PROFILESYNC_NOTIFY_SMTP_TO: {a!r} is not an email address" for a in recipients if not _is_address(a)]
    if len(problems) > before:
        return None
    return SmtpSettings(
        host=host,
        port=port,
        security=security,
        user=user,
        password=Secret(password) if password is not None else None,
        sender=sender,
        recipients=recipients,
    )


#: the address part of ``a@b.c`` or ``Name <a@b.c>``. A regex, not email.utils.parseaddr, whose import (socket,
#: calendar, charsets) would cost every command that reads settings ~7 ms; the mail server has the last word anyway.
ADDRESS = re.compile(r"[^\s<>@,;]+@[^\s<>@,;]+")


def _is_address(text: str) -> bool:
    text = text.strip()
    if text.endswith(">") and "<" in text:
        text = text[text.rindex("<") + 1 : -1]
    return ADDRESS.fullmatch(text) is not None


def _webhook_problems(url: str, allow_insecure_http: bool) -> list[str]:
    """What is wrong with the webhook URL, never quoting it (it holds the webhook's token)."""
    from profilesync.config import is_loopback

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ["PROFILESYNC_NOTIFY_WEBHOOK_URL is not an http(s) URL (paste the whole webhook address)"]
    if parts.scheme == "http" and not allow_insecure_http and not is_loopback(parts.hostname):
        return [
            "PROFILESYNC_NOTIFY_WEBHOOK_URL uses plain http to a non-loopback host, which would send its token in clear"
        ]
    return []


def _choice(get: Callable[[str], str], name: str, default: _E, problems: list[str]) -> _E:
    """PROFILESYNC_NOTIFY<name> as one of ``default``'s enum values (``default`` when unset); when it is none of
    them, ``default`` and a problem naming the values."""
    text = get(name)
    if not text:
        return default
    kind = type(default)
    try:
        return kind(text.lower())
    except ValueError:
        *first, last = (member.value for member in kind)
        problems.append(f"PROFILESYNC_NOTIFY{name}={text!r} must be {', '.join(first)} or {last}")
        return default
