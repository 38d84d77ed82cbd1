"""Where a command's report goes: the one rule behind ``-q`` for every command."""

from __future__ import annotations

from typing import Any

import click


def echo_report(obj: Any, text: str, *, failed: bool, document: bool) -> None:
    """A command's report: on stdout; with -q, nothing when nothing failed, else on stderr (cron mails it).

    A document asked for with --format json is printed whatever happened: a monitor reads it.
    """
    quiet = bool(getattr(obj, "quiet", False))
    if document or not quiet:
        click.echo(text)
    elif failed:
        click.echo(text, err=True)
