"""click's documented lazy-group pattern, with a listing that imports nothing.

click lists a group's commands by loading each one for its short help, which would make ``profilesync --help``
import the doctor, the observers job and the sandbox (and through them SQLAlchemy, requests and Pillow). Here
each lazy command carries its summary, so only running a command (or asking for its own help) imports it.
"""

from __future__ import annotations

import importlib
from typing import ClassVar, NamedTuple

import click


class Lazy(NamedTuple):
    """A command imported only when it runs (or its own help is asked for)."""

    target: str  #: "module:attribute" of the click command
    summary: str  #: its line in the group's help, shown without importing it


class LazyGroup(click.Group):
    """A group whose ``LAZY`` commands load on first use; the listing shows their summary, loaded or not."""

    LAZY: ClassVar[dict[str, Lazy]] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.LAZY})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.LAZY and cmd_name not in self.commands:
            lazy = self.LAZY[cmd_name]
            module, _, name = lazy.target.partition(":")
            command = getattr(importlib.import_module(module), name)
            assert isinstance(command, click.Command)
            command.short_help = lazy.summary  # the same line in the listing, loaded or not
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's listing, but a lazy command not yet loaded shows its summary instead of being imported."""
        rows = []
        for name in self.list_commands(ctx):
            if name in self.LAZY and name not in self.commands:
                rows.append((name, self.LAZY[name].summary))
            elif (command := self.get_command(ctx, name)) is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(formatter.width - 6 - len(name))))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
