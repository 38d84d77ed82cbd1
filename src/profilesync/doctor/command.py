"""``profilesync doctor``: everything a nightly run needs, checked one line at a time, with advice.

The command and its report (a table or JSON, and one line for the log file). The checks live apart: what a
check is in doctor/checks.py, Canvas's in doctor/canvas.py (with doctor/account.py and doctor/refusals.py),
Guru's in doctor/guru.py, and this machine's set-up (settings file, history location) in doctor/setup.py.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict
from typing import Any, Protocol

import click

from profilesync import runlog
from profilesync.config import Settings
from profilesync.doctor.canvas import diagnose
from profilesync.doctor.checks import Diagnosis, Status
from profilesync.doctor.guru import diagnose_guru
from profilesync.doctor.setup import add_setup_checks, check_reports
from profilesync.errors import ConfigError
from profilesync.output import echo_report
from profilesync.text import plural

MARKS = {Status.PASS: " ok ", Status.WARN: "warn", Status.FAIL: "FAIL", Status.SKIP: "skip"}


def render_text(diagnosis: Diagnosis) -> str:
    width = max(len(c.name) for c in diagnosis.checks)
    lines = [diagnosis.title]
    for check in diagnosis.checks:
        lines.append(f"[{MARKS[check.status]}] {check.name.ljust(width)}  {check.detail}")
        if check.advice and check.status in (Status.FAIL, Status.WARN):
            lines.append(f"       {' ' * width}  what to do: {check.advice}")
    failures = sum(c.status is Status.FAIL for c in diagnosis.checks)
    warnings = sum(c.status is Status.WARN for c in diagnosis.checks)
    code = int(diagnosis.exit_code)
    if failures:
        lines.append(f"{failures} failed, {plural(warnings, 'warning')}: exit {code} (fix the first failure first)")
    else:
        lines.append(f"all checks passed ({plural(warnings, 'warning')}): ready for '{diagnosis.command}'")
    return "\n".join(lines)


def render_json(diagnosis: Diagnosis) -> str:
    checks = [{**asdict(c), "status": c.status.value, "exit_code": int(c.exit_code)} for c in diagnosis.checks]
    return json.dumps({"checks": checks, "exit_code": int(diagnosis.exit_code)}, indent=2, ensure_ascii=False)


class SettingsSource(Protocol):
    """The CLI's context object: settings loaded (and logging set up) on first use."""

    def settings(self, **overrides: Any) -> Settings: ...


@click.command()
@click.option(
    "--target",
    type=click.Choice(["canvas", "guru"]),
    default="canvas",
    show_default=True,
    help="Which job's set-up to check.",
)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
def doctor(ctx: click.Context, target: str, fmt: str) -> None:
    """Check config, token, permissions (act as users, avatars), photo folder and database.

    Changes nothing on Canvas. Exit 0 when every check passed (warnings allowed); otherwise
    2 configuration or database, 3 Canvas (unreachable, not Canvas, token, permissions, avatars off),
    4 photo folder.

    With --target guru: Guru's URL and credentials, the members listing, Guru's photo folder
    (GURU_PHOTOS_DIR, else PROFILESYNC_PHOTOS_DIR) and the database.

    \b
    Example:
      profilesync doctor
      profilesync doctor --target guru
      profilesync --env-file /etc/profilesync/.env doctor --format json
    """
    source: SettingsSource = ctx.obj
    diagnosis = diagnose_guru(source.settings) if target == "guru" else diagnose(source.settings)
    add_setup_checks(diagnosis, getattr(source, "env_file", None))
    with contextlib.suppress(ConfigError):  # unreadable settings: the configuration check says why
        diagnosis.checks.append(check_reports(source.settings()))
    text = render_json(diagnosis) if fmt == "json" else render_text(diagnosis)
    echo_report(source, text, failed=bool(diagnosis.exit_code), document=fmt == "json")
    runlog.summary(verdict(diagnosis))  # for --log-file, where scheduled checks are read later
    ctx.exit(int(diagnosis.exit_code))


def verdict(diagnosis: Diagnosis) -> str:
    """The outcome in one line: exit code, failed checks with their detail, warned checks by name."""
    failed_checks = [f"{c.name} ({c.detail})" for c in diagnosis.checks if c.status is Status.FAIL]
    warnings = [c.name for c in diagnosis.checks if c.status is Status.WARN]
    parts = [f"doctor: exit {int(diagnosis.exit_code)}"]
    if failed_checks:
        parts.append("failed: " + "; ".join(failed_checks))
    if warnings:
        parts.append("warnings: " + ", ".join(warnings))
    return "; ".join(parts) if len(parts) > 1 else parts[0] + "; all checks passed"
