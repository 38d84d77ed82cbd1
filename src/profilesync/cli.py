"""The command line: options → Settings → one app call → rendering. Errors become text and exit codes here only.

Start-up matters (``--help``, a cron line's first second): this module imports only click and profilesync's
own light modules. The app, the history (SQLAlchemy), HTTP (requests), photos (Pillow) and the review page
(Jinja2) are imported inside the command that uses them, and whole command groups load lazily (``LAZY``).
"""

from __future__ import annotations

import gc
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import click

from profilesync import __version__, cli_errors, runlog
from profilesync.cli_lazy import Lazy, LazyGroup
from profilesync.errors import ExitCode, ProfilesyncError, RunInterrupted
from profilesync.output import echo_report
from profilesync.text import plural

if TYPE_CHECKING:
    from profilesync.app import AvatarRequest
    from profilesync.config import Settings
    from profilesync.engine.model import Plan, Result

log = logging.getLogger("profilesync")


@dataclass
class Context:
    """Global options, and the settings loaded once on first use (sandbox and demo need none)."""

    env_file: Path | None
    verbose: int
    quiet: bool
    log_file: Path | None
    allow_insecure_http: bool
    _settings: Settings | None = None
    job: str | None = None  # a sync under way ("avatars sync"): its report is delivered, even if an error stops it

    def settings(self, **overrides: Any) -> Settings:
        from profilesync.config import load_settings  # python-dotenv: only commands that read settings pay
        from profilesync.logsetup import setup_logging

        if self._settings is None:
            settings = load_settings(self.env_file)
            if self.allow_insecure_http:
                settings = settings.with_overrides(allow_insecure_http=True)
            setup_logging(self.verbose, self.quiet, self.log_file, settings.secret_values())
            self._settings = settings
        return self._settings.with_overrides(**overrides)


class CliGroup(LazyGroup):
    """Turns ProfilesyncError into one clear message with advice, and the documented exit code.

    Commands other than ``avatars`` are imported only when used (cli_lazy.py): a nightly sync should not pay
    for loading the sandbox, nor ``--help`` for the doctor's HTTP stack.
    """

    LAZY: ClassVar[dict[str, Lazy]] = {  # summary = the command docstring's first paragraph (a test keeps it so)
        "sandbox": Lazy(
            "profilesync_sandbox.command:sandbox",
            "Run a local Canvas emulator (API host + separate upload host) for trying profilesync safely.",
        ),
        "demo": Lazy(
            "profilesync.demo:demo",
            "Try the whole avatar sync safely: sandbox + sample photos + plan + sync + a second, no-op sync.",
        ),
        "observers": Lazy(
            "profilesync.observers.command:observers",
            "Parent (observer) accounts: a CSV of students and parents → paired Canvas observers.",
        ),
        "init": Lazy(
            "profilesync.init:init",
            "Write a commented .env template (mode 600) and print how to schedule the jobs on this machine.",
        ),
        "doctor": Lazy(
            "profilesync.doctor.command:doctor",
            "Check config, token, permissions (act as users, avatars), photo folder and database.",
        ),
    }

    def main(self, args: Any = None, *rest: Any, **kwargs: Any) -> Any:
        """Every command ends with its exit code in the log file (cron's and Task Scheduler's only record)."""
        words = list(sys.argv[1:] if args is None else args)
        self.words = words  # for the exit line of a run that must leave at once (invoke)
        try:
            return super().main(args, *rest, **kwargs)  # args as given: click expands wildcards on Windows
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
            runlog.exit_code(self.command_words(words), code)
            raise

    def command_words(self, words: list[str]) -> str:
        """ "avatars sync" from ``-q --log-file x avatars sync --user S1``: the command and its subcommand."""
        names = set(self.list_commands(click.Context(self)))
        for i, word in enumerate(words):
            if word in names:
                after = words[i + 1 : i + 2]
                return " ".join([word, *(w for w in after if not w.startswith("-"))])
        return ""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ProfilesyncError as exc:
            runlog.error(exc)
            cli_errors.report_error(ctx, exc)
            if getattr(ctx.obj, "job", None):  # the admin most needs the mail that says the token stopped working
                from profilesync.notify.deliver import deliver_error

                deliver_error(ctx.obj.job, ctx.obj.settings(), exc)
            ctx.exit(int(exc.exit_code))
        except (RunInterrupted, KeyboardInterrupt) as exc:
            code = cli_errors.report_interrupted(ctx, exc)
            if isinstance(exc, RunInterrupted) and exc.abandoned:
                runlog.exit_code(self.command_words(getattr(self, "words", [])), code)
                cli_errors.exit_now(code)
            ctx.exit(code)


@click.group(cls=CliGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="profilesync")
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read settings from this file (default: ./.env).",
)
@click.option("-v", "--verbose", count=True, help="More detail (-vv: HTTP debugging, secrets masked).")
@click.option(
    "-q", "--quiet", is_flag=True, help="For cron: print nothing unless something failed (then the report, on stderr)."
)
@click.option(
    "--log-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also log to this file: every failure, the summary and the exit code (logrotate-friendly).",
)
@click.option("--allow-insecure-http", is_flag=True, help="Allow an http:// base URL to a non-loopback host.")
@click.pass_context
def cli(
    ctx: click.Context,
    env_file: Path | None,
    verbose: int,
    quiet: bool,
    log_file: Path | None,
    allow_insecure_http: bool,
) -> None:
    """Carry school photos and family contacts from your SIS into Canvas (and Guru).

    \b
    Try it safely against the bundled Canvas emulator:
      profilesync demo
    Set up (a commented .env, and this machine's scheduling recipe):
      profilesync init
    Nightly job (cron; -q prints nothing unless something failed):
      /opt/profilesync/venv/bin/profilesync -q --log-file /var/log/profilesync/avatars.log avatars sync
    Exit codes: 0 done, 1 some users failed, 2 usage/configuration, 3 fatal remote error,
    4 safety valve, 5 another run of the same job holds its lock, 130/143 stopped by Ctrl-C/SIGTERM.
    """
    from profilesync.logsetup import setup_logging  # logging.handlers: not for --help (this runs for commands)

    ctx.obj = Context(env_file, verbose, quiet, log_file, allow_insecure_http)
    setup_logging(verbose, quiet, log_file)


@cli.group()
def avatars() -> None:
    """Profile pictures: photo folder → Canvas (or Guru) avatars."""


TARGET = click.option(
    "--target",
    type=click.Choice(["canvas", "guru"]),
    default="canvas",
    show_default=True,
    help="Where the avatars go.",
)
USER = click.option("--user", "user", metavar="KEY", help="Only this user (their SIS ID, or the match field).")


@avatars.command("plan")
@TARGET
@USER
@cli_errors.format_option("table", "json", "csv")
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a self-contained review page: each new photo as it will be uploaded beside the current avatar.",
)
@click.pass_obj
def avatars_plan(obj: Context, target: str, user: str | None, fmt: str, html_file: Path | None) -> None:
    """Show what a sync would do, changing nothing anywhere.

    \b
    Examples:
      profilesync avatars plan
      profilesync avatars plan --user S12345 --format json
      profilesync avatars plan --html review.html
    """
    from profilesync import app, report  # the app brings the history, HTTP and photos: not for --help

    settings = obj.settings()
    request = app.AvatarRequest(target=target, user=user)
    plan, verdict = app.avatars_preview(settings, request)
    if html_file is not None:
        write_review(html_file, plan, settings, request)
    click.echo(report.render_plan(plan, fmt, verdict))


def write_review(path: Path, plan: Plan, settings: Settings, request: AvatarRequest) -> None:
    """``plan --html``: the review page, written atomically; current avatars are read through the target."""
    from profilesync import app  # Jinja2 and Pillow, only when a review page is asked for
    from profilesync.engine.model import Action

    page = app.review_page(settings, request, plan)
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_text(page, encoding="utf-8")
        partial.replace(path)
    except OSError as exc:
        raise ProfilesyncError(f"cannot write the review page {path}: {exc.strerror or exc}") from None
    problems = sum(1 for a in plan.actions if a.action is Action.ERROR)
    log.info(
        "review page written to %s (%s, %s)", path, plural(len(plan.pending()), "change"), plural(problems, "problem")
    )


@avatars.command("sync")
@TARGET
@USER
@click.option("--dry-run", is_flag=True, help="Print the plan instead of applying it.")
@click.option("--workers", type=click.IntRange(1, 64), help="Users in flight at once (default: adaptive, up to 16).")
@click.option("--max-uploads", type=click.IntRange(0), help="Stop (exit 4) if the plan has more uploads than this.")
@click.option("--force", is_flag=True, help="Go ahead even when the plan is unusually large.")
@cli_errors.format_option("table", "json")
@click.pass_context
def avatars_sync(
    ctx: click.Context,
    target: str,
    user: str | None,
    dry_run: bool,
    workers: int | None,
    max_uploads: int | None,
    force: bool,
    fmt: str,
) -> None:
    """Make every user's avatar their current photo, touching only what changed.

    \b
    Examples:
      profilesync avatars sync
      profilesync avatars sync --user S12345
      profilesync -q --log-file sync.log avatars sync --max-uploads 500
    """
    from profilesync import app, report  # the app brings the history, HTTP and photos: not for --help
    from profilesync.interrupt import handling_signals

    obj: Context = ctx.obj
    request = app.AvatarRequest(
        target=target, user=user, dry_run=dry_run, workers=workers, max_uploads=max_uploads, force=force
    )
    settings = obj.settings()
    if dry_run:
        plan, verdict = app.avatars_preview(settings, request)
        click.echo(report.render_plan(plan, "json" if fmt == "json" else "table", verdict))
        return
    obj.job = "avatars sync"
    progress = Progress(interactive=sys.stderr.isatty() and not obj.quiet)
    try:
        with handling_signals() as stop:
            result = app.avatars_sync(settings, request, on_result=progress.update, on_plan=progress.start, stop=stop)
    finally:
        progress.finish()
    runlog.summary(report.sync_summary(result))
    echo_report(obj, report.render_sync(result, fmt), failed=bool(result.exit_code), document=fmt == "json")
    from profilesync.notify import deliver, message  # smtplib and requests only after a real sync

    deliver.deliver(settings, message.from_avatars(result))
    ctx.exit(int(result.exit_code))


@avatars.command("history")
@USER
@cli_errors.format_option("table", "json")
@click.pass_obj
def avatars_history(obj: Context, user: str | None, fmt: str) -> None:
    """What was synced, for whom and when, newest first; with --user, also that user's outcome
    (uploaded, reassigned, failed and why) in every run.

    \b
    Example:
      profilesync avatars history --user S12345
    """
    from profilesync import app, report  # the history (SQLAlchemy): not for --help
    from profilesync.runs import opened_store

    settings = obj.settings()
    records = app.avatars_history(settings, user)
    events = None
    if user is not None:
        with opened_store(settings) as store:
            events = list(store.events(key=user))
    click.echo(report.render_history(records, fmt, events))


@avatars.command("runs")
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True, help="How many runs to show.")
@click.option("--run", "run_id", type=int, help="Instead, list each user this run uploaded, reassigned or failed.")
@cli_errors.format_option("table", "json")
@click.pass_obj
def avatars_runs(obj: Context, limit: int, run_id: int | None, fmt: str) -> None:
    """Recent runs, newest first: when, how long, counts and exit code.

    \b
    Examples:
      profilesync avatars runs --limit 7
      profilesync avatars runs --run 42      (why did run 42 fail for these users?)
    """
    from profilesync import report
    from profilesync.doctor.setup import history_location  # SQLAlchemy's URL parsing: not for --help
    from profilesync.runs import opened_store

    settings = obj.settings()
    with opened_store(settings) as store:
        if run_id is None:
            if fmt == "table":  # which history this is: each OS user has their own unless the .env names one
                click.echo(f"history: {history_location(settings.database_url)[0]}")
            click.echo(report.render_runs(store.runs(limit), fmt))
        else:
            click.echo(report.render_run_events(run_id, list(store.events(run_id=run_id)), fmt))


class Progress:
    """A progress bar on a terminal; a plain line every few seconds under cron."""

    INTERVAL_S = 15.0

    def __init__(self, *, interactive: bool) -> None:
        self.interactive = interactive
        self.total = 0
        self.done = 0
        self.failed = 0
        self._bar: Any = None
        self._last = time.monotonic()

    def start(self, plan: Plan) -> None:
        self.total = len(plan.pending())
        if self.total == 0:
            return
        log.info("%s to update", plural(self.total, "user"))
        if self.interactive:
            self._bar = click.progressbar(length=self.total, label="syncing avatars", file=sys.stderr)
            self._bar.__enter__()
            self._bar.update(self.done)  # a pipelined sync has written since before its plan was complete

    def update(self, result: Result) -> None:
        from profilesync.engine.model import Action, Outcome  # loaded by the sync already: a lookup, not a load

        if result.outcome is Outcome.FAILED:  # as it happens: a run stopped half-way still logged it
            runlog.failure(result.planned.key, result.reason, result.message)
        if result.planned.action not in (Action.UPLOAD, Action.REASSIGN):
            return
        self.done += 1
        self.failed += result.outcome is Outcome.FAILED
        if self._bar is not None:
            self._bar.update(1)
        elif self.total and time.monotonic() - self._last >= self.INTERVAL_S:
            self._last = time.monotonic()
            log.info("progress: %d/%s done, %d failed", self.done, plural(self.total, "user"), self.failed)

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


def main() -> None:
    """Console-script entry point."""
    try:
        cli(prog_name="profilesync")
    finally:
        # The process ends here: its objects are freed with it, so the interpreter's last garbage collections
        # over all of them (SQLAlchemy, requests: about 70 ms) would only delay the exit. atexit still runs.
        gc.freeze()


if __name__ == "__main__":  # pragma: no cover
    main()

__all__ = ["ExitCode", "cli", "main"]
