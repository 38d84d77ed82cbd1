"""Every command has help with an example (sqlite-utils' test_docs idea)."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from profilesync.cli import cli


def all_commands(group: click.Group = cli, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = [prefix]
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        found += all_commands(command, (*prefix, name)) if isinstance(command, click.Group) else [(*prefix, name)]
    return found


def leaf_commands() -> list[tuple[str, ...]]:
    def walk(group: click.Group, prefix: tuple[str, ...]) -> list[tuple[str, ...]]:
        found: list[tuple[str, ...]] = []
        ctx = click.Context(group)
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            found += walk(command, (*prefix, name)) if isinstance(command, click.Group) else [(*prefix, name)]
        return found

    return walk(cli, ())


@pytest.mark.parametrize("path", all_commands(), ids=lambda p: " ".join(p) or "profilesync")
def test_help_works(path: tuple[str, ...]) -> None:
    """`--help` exits 0 for every command and group."""
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("path", leaf_commands(), ids=" ".join)
def test_command_help_shows_an_example(path: tuple[str, ...]) -> None:
    """Each command's help shows an example invocation of itself."""
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert "Example" in result.output
    assert f"profilesync {path[-1]}" in result.output or f"{' '.join(path)}" in result.output.split("Example")[1]


def test_design_commands_exist() -> None:
    """The stable surface of docs/design.md §2 is all there."""
    names = {" ".join(p) for p in all_commands()}
    expected = {
        "avatars plan",
        "avatars sync",
        "avatars history",
        "observers plan",
        "observers sync",
        "doctor",
        "sandbox",
        "demo",
    }
    assert expected <= names
