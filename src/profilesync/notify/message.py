"""What a delivered report says: one ``RunSummary`` per finished run, rendered as the email's plain text and HTML
parts and its subject (the webhook bodies are in webhook.py).

The facts come from the job's own renderers (``report.sync_summary``, ``observers.render.summary``), the advice
from ``runlog.ADVICE`` and the exit meanings from ``runlog.EXIT_MEANINGS``: the mail says what the console and the
log file say. Both parts are link-free and load nothing (mail clients block remote content, and a report is read
on a phone at 7 a.m.); secrets are hidden before rendering (``cleaned``), so no rendering can leak one.
"""

from __future__ import annotations

import html
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from profilesync.runlog import ADVICE, DEFAULT_ADVICE, EXIT_MEANINGS

if TYPE_CHECKING:
    from profilesync.engine.model import SyncReport
    from profilesync.errors import ProfilesyncError
    from profilesync.scrub import Scrubber

#: failures listed in a mail; the rest are counted (``avatars runs --run N`` and the log file list them all)
MAX_LISTED = 200
COLUMNS = ("who", "reason", "message", "what to do")


@dataclass(frozen=True)
class Failure:
    """One failed user or CSV row: who, why, and what to do about it."""

    who: str
    reason: str
    message: str
    advice: str

    def cells(self) -> dict[str, str]:
        return dict(zip(COLUMNS, (self.who, self.reason, self.message, self.advice), strict=True))


def failure(who: str | None, reason: str | None, message: str | None, advice: str | None = None) -> Failure:
    """A failure with the advice the log file gives for its reason (runlog.failure's rule)."""
    reason = reason or "failed"
    return Failure(who or "(no key)", reason, message or reason, advice or ADVICE.get(reason, DEFAULT_ADVICE))


@dataclass(frozen=True, kw_only=True)
class RunSummary:
    """A finished run (or a command stopped by an error) as its report tells it."""

    command: str  # "avatars sync", "observers sync"
    exit_code: int
    counts: str | None = None  # the job's summary line; None when an error stopped it before any counting
    failures: Sequence[Failure] = ()
    error: str | None = None
    advice: str | None = None
    host: str = field(default_factory=socket.gethostname)
    finished_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def failed(self) -> bool:
        return self.exit_code != 0

    def cleaned(self, scrub: Scrubber) -> RunSummary:
        """A copy with every secret hidden in every text it holds, and no link left in it (``unlinked``)."""

        def clean(text: str | None) -> str | None:
            return unlinked(scrub(text)) if text is not None else None

        return replace(
            self,
            counts=clean(self.counts),
            error=clean(self.error),
            advice=clean(self.advice),
            failures=[
                Failure(*(unlinked(scrub(v)) for v in (f.who, f.reason, f.message, f.advice))) for f in self.failures
            ],
        )

    def outcome(self) -> str:
        """``exit 1 (finished, some users or rows failed)``."""
        meaning = EXIT_MEANINGS.get(self.exit_code)
        return f"exit {self.exit_code}" + (f" ({meaning})" if meaning else "")

    def subject(self) -> str:
        """The mail's subject: the command, the machine, and what needs a look, e.g. ``3 failed``."""
        if self.error is not None:
            what = "stopped"
        elif self.failures:
            what = f"{len(self.failures)} failed"
        else:
            what = "ok" if not self.failed else "needs a look"
        return f"profilesync {self.command} on {self.host}: {what}, exit {self.exit_code}"

    def heading(self) -> str:
        from profilesync.report import local  # the machine's local time with its zone, as the tables show it

        return f"profilesync {self.command} on {self.host}, {local(self.finished_at)}: {self.outcome()}"

    def listed(self) -> tuple[Sequence[Failure], int]:
        """The failures a report lists, and how many more it only counts."""
        return self.failures[:MAX_LISTED], max(0, len(self.failures) - MAX_LISTED)

    def where_to_look(self) -> str:
        """Where the whole story is (``avatars runs`` lists every job's runs, observers' included)."""
        return f"Every run and each failure: 'profilesync avatars runs' on {self.host}, and the job's --log-file."


def unlinked(text: str) -> str:
    """The text without URL schemes: ``guru:api.getguru.com``, not a link. A report names hosts, it never asks
    to be clicked (a nightly mail full of links to admin consoles looks like phishing, and spam filters agree)."""
    return LINK.sub("", text)


LINK = re.compile(r"\b(?:https?|ftp)://", re.IGNORECASE)


def from_avatars(report: SyncReport) -> RunSummary:
    """``avatars sync``'s report (Canvas or Guru): its counts line and each failed user."""
    from profilesync.report import sync_summary  # the same line the console and the log file show

    return RunSummary(
        command="avatars sync",
        exit_code=int(report.exit_code),
        counts=sync_summary(report),
        failures=[failure(r.planned.key, r.reason, r.message) for r in report.failures()],
    )


def from_error(command: str, exc: ProfilesyncError) -> RunSummary:
    """A command stopped by an error (bad token, safety valve, lock held, configuration): the error and advice."""
    return RunSummary(command=command, exit_code=int(exc.exit_code), error=exc.message, advice=exc.advice)


def facts(summary: RunSummary) -> list[str]:
    """The error and its advice, or the counts line, as plain-text lines (the mail's and the chat's)."""
    lines = []
    if summary.error is not None:
        lines.append(f"error: {summary.error}")
        if summary.advice:
            lines.append(f"what to do: {summary.advice}")
    if summary.counts is not None:
        lines.append(summary.counts)
    return lines


def text(summary: RunSummary) -> str:
    """The plain-text part: the heading, the error or counts, one block per failure; no links."""
    lines = [summary.heading(), "", *facts(summary)]
    listed, more = summary.listed()
    if listed:
        # Blocks, not a table: many mail clients show plain text in a proportional font, and a phone wraps it.
        lines += ["", f"Failures ({len(summary.failures)}):"]
        for f in listed:
            lines += ["", f"{f.who}: {f.reason}", f"  {f.message}", f"  what to do: {f.advice}"]
    if more:
        lines.append(f"... and {more} more.")
    lines += ["", summary.where_to_look()]
    return "\n".join(lines) + "\n"


CELL = "padding:2px 8px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top"


def html_part(summary: RunSummary) -> str:
    """The HTML part: the same facts, a table for the failures, inline styles only (no images, no links)."""
    e = html.escape
    colour = "#15803d" if not summary.failed else "#b91c1c"
    body = [f'<h2 style="font-size:16px;color:{colour}">{e(summary.heading())}</h2>']
    if summary.error is not None:
        body.append(f"<p><b>error:</b> {e(summary.error)}</p>")
        if summary.advice:
            body.append(f"<p><b>what to do:</b> {e(summary.advice)}</p>")
    if summary.counts is not None:
        body.append(f"<p>{e(summary.counts)}</p>")
    listed, more = summary.listed()
    if listed:
        head = "".join(f'<th style="{CELL}">{e(c)}</th>' for c in COLUMNS)
        rows = "".join(
            "<tr>" + "".join(f'<td style="{CELL}">{e(v)}</td>' for v in f.cells().values()) + "</tr>" for f in listed
        )
        body.append(f"<h3 style='font-size:14px'>Failures ({len(summary.failures)})</h3>")
        body.append(f'<table style="border-collapse:collapse;font-size:13px"><tr>{head}</tr>{rows}</table>')
    if more:
        body.append(f"<p>... and {more} more.</p>")
    body.append(f'<p style="color:#555">{e(summary.where_to_look())}</p>')
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head>'
        f'<body style="font-family:sans-serif">{"".join(body)}</body></html>\n'
    )
