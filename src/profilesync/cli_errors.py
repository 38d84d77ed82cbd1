"""How a command that ends in error says so: text with advice on stderr, and under ``--format json`` also one JSON
document ``{"error", "advice", "exit_code"}`` on stdout, so a monitor reading the JSON never finds an empty file.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

import click
from click.decorators import FC

from profilesync.errors import ConfigError, ProfilesyncError, RunInterrupted

_FORMAT = "profilesync.format"  # key in click's ctx.meta, which every context of one invocation shares


def remember_format(ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
    """``--format`` callback: remember the format for the error handler (click runs it while parsing)."""
    ctx.meta[_FORMAT] = value
    return value


def format_option(*choices: str) -> Callable[[FC], FC]:
    """The ``--format`` option of a command (its JSON errors included)."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(list(choices)),
        default="table",
        show_default=True,
        callback=remember_format,
    )


def report(ctx: click.Context, message: str, advice: str | None, exit_code: int, problems: list[str]) -> None:
    """Say what went wrong on stderr (and as JSON on stdout when asked)."""
    if len(problems) > 1:
        click.echo("error: the configuration has problems:", err=True)
        for problem in problems:
            click.echo(f"  - {problem}", err=True)
    else:
        click.echo(f"error: {message}", err=True)
    if advice:
        click.echo(f"  what to do: {advice}", err=True)
    if ctx.meta.get(_FORMAT) == "json":
        document: dict[str, Any] = {"error": message, "advice": advice, "exit_code": exit_code}
        if len(problems) > 1:
            document["problems"] = problems
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))


def report_error(ctx: click.Context, exc: ProfilesyncError) -> None:
    problems = exc.problems if isinstance(exc, ConfigError) else []
    report(ctx, exc.message, exc.advice, int(exc.exit_code), problems)


def report_interrupted(ctx: click.Context, exc: RunInterrupted | KeyboardInterrupt) -> int:
    """Say that a signal stopped the command; the exit code (130 for SIGINT, 143 for SIGTERM)."""
    signum = exc.signum if isinstance(exc, RunInterrupted) else signal.SIGINT
    code = 128 + signum
    report(
        ctx,
        f"interrupted by {signal.Signals(signum).name}",
        "nothing is lost: the next run finishes what this one started",
        code,
        [],
    )
    return code


def exit_now(code: int) -> None:
    """Leave at once, not waiting for worker threads that could not be stopped in time (the run is recorded)."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
