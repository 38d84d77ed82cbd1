"""``profilesync init``: set-up from a package — the commented ``.env`` template and this OS's scheduling recipe.

After ``pip install profilesync`` there is no checkout to copy ``config.example.env`` or ``scripts/`` from: the
template ships inside the package (the repository's ``config.example.env`` is the same file) and the recipes
are printed with this installation's absolute paths.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import click

from profilesync import recipes
from profilesync.errors import ProfilesyncError

TEMPLATE = "config.example.env"


def template_text() -> str:
    """The commented template, as shipped in the package."""
    return resources.files("profilesync").joinpath(TEMPLATE).read_text(encoding="utf-8")


def fill(template: str, values: Mapping[str, str]) -> str:
    """The template with ``NAME=value`` set for each given variable (the line stays where it is, comments too)."""
    for name, value in values.items():
        line = f"{name}={value}".replace("\\", "\\\\")  # a replacement string: Windows paths' \ kept
        template, found = re.subn(rf"^#?{re.escape(name)}=.*$", line, template, flags=re.M)
        assert found == 1, f"the template has no single {name} line"
    return template


def sqlite_url(path: Path) -> str:
    """``sqlite:///`` and the absolute path with forward slashes (``sqlite:////var/…``, ``sqlite:///C:/…``)."""
    return f"sqlite:///{path.as_posix()}"


def write_private(path: Path, text: str, *, force: bool) -> None:
    """Write ``text`` to ``path`` readable by its owner only (0600: it will hold an admin token).

    An existing file is never replaced without ``force``: it may already hold a token.
    """
    if path.exists() and not force:
        raise ProfilesyncError(
            f"{path} already exists; it was left as it is",
            advice="edit it, or run 'profilesync init --force' to replace it with a fresh template",
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
        os.chmod(path, 0o600)  # a replaced file (--force) keeps its old mode otherwise
    except OSError as exc:
        raise ProfilesyncError(f"cannot write {path}: {exc.strerror or exc}") from None


@click.command()
@click.option("--force", is_flag=True, help="Replace an existing file (it may hold your token: careful).")
@click.option(
    "--database",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The SQLite history file every account will use (default: history.sqlite3 beside the env file).",
)
@click.option(
    "--log-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the scheduled jobs write their logs (default: logs/ beside the env file).",
)
@click.option(
    "--scheduler",
    type=click.Choice(recipes.SCHEDULERS),
    help="Which recipe to print (default: this OS's: Task Scheduler on Windows, systemd or cron elsewhere).",
)
@click.pass_context
def init(ctx: click.Context, force: bool, database: Path | None, log_dir: Path | None, scheduler: str | None) -> None:
    """Write a commented .env template (mode 600) and print how to schedule the jobs on this machine.

    The file goes to --env-file, or ./.env. It names the history explicitly (a SQLite file beside it,
    or --database), so the scheduled job and your own commands share one history. The recipe uses this
    installation's absolute paths.

    \b
    Examples:
      profilesync init
      profilesync --env-file /etc/profilesync/profilesync.env init --database /var/lib/profilesync/history.sqlite3
      profilesync init --scheduler cron
    """
    named: Path | None = getattr(ctx.obj, "env_file", None)
    env_file = Path(os.path.abspath(named or ".env"))
    home = env_file.parent
    database = Path(os.path.abspath(database or home / "history.sqlite3"))
    log_dir = Path(os.path.abspath(log_dir or home / "logs"))
    values = {"PROFILESYNC_DATABASE_URL": sqlite_url(database), "PROFILESYNC_PHOTOS_DIR": str(home / "photos")}
    write_private(env_file, fill(template_text(), values), force=force)
    try:  # SQLite creates the file, not its folder
        database.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ProfilesyncError(f"cannot create the history's folder {database.parent}: {exc.strerror or exc}") from None

    install = recipes.Installation(
        command=recipes.console_script(),
        env_file=env_file,
        workdir=home,
        log_dir=log_dir,
        observers_csv=home / "parents.csv",
        history_dir=database.parent,
    )
    chosen = scheduler or recipes.default_scheduler()
    me = " ".join(install.command) + f" --env-file {env_file}"
    click.echo(f"wrote {env_file} (readable by you only: it will hold an admin token)")
    click.echo(f"history: {values['PROFILESYNC_DATABASE_URL']} (PROFILESYNC_DATABASE_URL in that file)")
    click.echo("next:")
    click.echo(f"  1. fill in CANVAS_BASE_URL, CANVAS_API_TOKEN and PROFILESYNC_PHOTOS_DIR in {env_file}")
    click.echo(f"  2. {me} doctor")
    click.echo(f"  3. {me} avatars plan")
    click.echo(f"  4. schedule it ({chosen}; --scheduler cron|systemd|windows prints another):")
    click.echo("")
    click.echo(recipes.render(chosen, install))
