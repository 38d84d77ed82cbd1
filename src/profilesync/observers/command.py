"""``profilesync observers plan|sync``: options → request → one call → rendering (the CLI's pattern).

Errors are raised as ProfilesyncError and become a message and an exit code in the top-level group.
"""

from __future__ import annotations

from pathlib import Path

import click

from profilesync import runlog
from profilesync.cli_errors import format_option
from profilesync.config import Settings, load_settings
from profilesync.interrupt import handling_signals
from profilesync.observers.model import Method
from profilesync.observers.render import notify_summary, render, render_csv, summary
from profilesync.observers.run import ObserversRequest, observers_plan, observers_sync
from profilesync.output import echo_report

CSV_ARGUMENT = click.argument("csv_file", metavar="CSV", type=click.Path(exists=True, dir_okay=False, path_type=Path))


def _settings(ctx: click.Context) -> Settings:
    """The settings the top-level group loads (or, run on its own, the environment's)."""
    obj = ctx.find_root().obj
    settings: Settings = obj.settings() if obj is not None else load_settings()
    return settings


@click.group()
def observers() -> None:
    """Parent (observer) accounts: a CSV of students and parents → paired Canvas observers.

    \b
    The CSV has a header row and one row per student and parent (a parent with three children is on
    three rows): the student's SIS ID, the parent's email (their Canvas login), first and last name.
    Headers such as student_sis_id / Student ID, parent_email / Email, First Name, Last Name are
    recognised; UTF-8 with or without a BOM, comma or semicolon separated (Excel's "CSV UTF-8").
    SIS exports with one row per student and columns per parent ("Mother Email", "Father Email",
    "Guardian 1 Email", "Guardian 1 First Name"...) are read as one row per parent; repeated rows
    are merged; a parent without an email is skipped (no_parent_email), which is not a failure.
    A missing parent account is created once, linked to each enrolled student; nothing is ever
    unlinked or deleted, and running it again changes nothing.

    \b
    Example:
      profilesync observers plan parents.csv
      profilesync observers sync parents.csv
    """


@observers.command("plan")
@CSV_ARGUMENT
@format_option("table", "json", "csv")
@click.pass_context
def plan(ctx: click.Context, csv_file: Path, fmt: str) -> None:
    """Show what a sync would do with each row, changing nothing anywhere.

    \b
    Each row gets one outcome: create_parent_and_link, link, already_linked, student_not_found,
    student_not_enrolled, no_parent_email, invalid_row or error (with a message). --format csv
    writes UTF-8 with a BOM and CRLF line ends, which Excel opens with every accent intact.

    \b
    Examples:
      profilesync observers plan parents.csv
      profilesync observers plan parents.csv --format csv > review.csv
    """
    report = observers_plan(_settings(ctx), ObserversRequest(csv_path=csv_file))
    if fmt == "csv":
        click.echo(render_csv(report), nl=False)  # bytes: UTF-8 with BOM and CRLF, exactly as Excel wants
        return
    click.echo(render(report, fmt))


@observers.command("sync")
@CSV_ARGUMENT
@click.option("--dry-run", is_flag=True, help="Print the plan instead of applying it.")
@click.option(
    "--method",
    type=click.Choice([m.value for m in Method]),
    default=Method.DIRECT.value,
    show_default=True,
    help="direct: link as the admin (PUT observees). pairing-code: the student's pairing code, then pair.",
)
@click.option(
    "--notify/--no-notify",
    default=False,
    show_default=True,
    help="Have Canvas email each parent whose account is created a link to finish registering. "
    "Off by default: no email reaches a family until you choose to send them.",
)
@format_option("table", "json")
@click.pass_context
def sync(ctx: click.Context, csv_file: Path, dry_run: bool, method: str, notify: bool, fmt: str) -> None:
    """Create missing parent accounts and link them to their enrolled students.

    Safe to run every night: links profilesync made are answered by its history and checked in Canvas again
    every PROFILESYNC_OBSERVERS_VERIFY_DAYS days (7), a share of the parents each night; students who enrol
    later are linked on the next run. A link profilesync made that someone has since removed in Canvas is
    reported once checked, never put back. Exit 1 when any row is an error or an invalid row.

    \b
    Examples:
      profilesync observers sync parents.csv
      profilesync observers sync parents.csv --dry-run
      profilesync -q --log-file observers.log observers sync parents.csv --notify
    """
    request = ObserversRequest(csv_path=csv_file, method=Method(method), notify=notify)
    settings = _settings(ctx)
    if dry_run:
        click.echo(render(observers_plan(settings, request), fmt))
        return
    root = ctx.find_root().obj
    if root is not None:
        root.job = "observers sync"  # an error from here on is delivered too (cli.CliGroup.invoke)
    with handling_signals() as stop:
        report = observers_sync(settings, request, stop)
    for failed in report.failures():
        row = failed.row
        runlog.failure(f"row {row.number} ({row.student}, {row.email})", failed.outcome.value, failed.message)
    runlog.summary(summary(report))
    # -q: nothing when no row failed, else the report on stderr (the CLI's rule for every command).
    echo_report(root, render(report, fmt), failed=bool(report.exit_code), document=fmt == "json")
    from profilesync.notify.deliver import deliver  # smtplib and requests only after a real sync

    deliver(settings, notify_summary(report))
    ctx.exit(int(report.exit_code))
