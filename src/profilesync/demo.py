"""``profilesync demo``: the main job end to end against the bundled sandbox, in one command.

Starts a sandbox Canvas, generates synthetic sample photos for most of its users (plus one that matches
nobody and one that is not an image), then runs plan, sync, and a second sync that must upload nothing.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import click

from profilesync import app, report
from profilesync.config import Settings
from profilesync.domain import Secret
from profilesync.engine.model import Action, SyncReport
from profilesync.text import plural
from profilesync_sandbox import Sandbox, SandboxConfig
from profilesync_sandbox.samples import write_sample_photos

PHOTO_SHARE = 0.9  # the rest of the users have no photo, as in any real SIS export


@click.command()
@click.option("--users", type=click.IntRange(1, 100_000), default=200, show_default=True, help="Users in the sandbox.")
@click.option(
    "--latency-ms",
    type=click.FloatRange(0),
    default=20.0,
    show_default=True,
    help="Simulated network latency per request.",
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep photos and history here instead of a temporary folder.",
)
def demo(users: int, latency_ms: float, workdir: Path | None) -> None:
    """Try the whole avatar sync safely: sandbox + sample photos + plan + sync + a second, no-op sync.

    \b
    Example:
      profilesync demo --users 500
    """
    with tempfile.TemporaryDirectory(prefix="profilesync-demo-") as tmp:
        run_demo(Path(workdir or tmp), users=users, latency_ms=latency_ms)


def run_demo(workdir: Path, *, users: int, latency_ms: float) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    config = SandboxConfig(users=users, latency_ms=latency_ms, thumbnail_lag_s=0.2, missing_sis_rate=0.02)
    with Sandbox(config) as sandbox:
        where = f"{sandbox.base_url} (uploads go to {sandbox.upload_base_url})"
        echo(f"Sandbox Canvas with {plural(users, 'user')} at {where}")
        photos = workdir / "photos"
        keys = [u.sis_user_id for u in sandbox.state.users() if u.sis_user_id]
        with_photo = keys[: int(len(keys) * PHOTO_SHARE)]
        write_sample_photos(photos, with_photo)
        (photos / "NOBODY-0000.jpg").write_bytes((photos / f"{with_photo[0]}.jpg").read_bytes())
        (photos / f"{keys[-1]}.jpg").write_text("this is not a photo")
        echo(f"Wrote {len(with_photo) + 2} sample photos to {photos} (one matches nobody, one is not an image)")

        settings = Settings(
            canvas_base_url=sandbox.base_url,
            canvas_token=Secret(sandbox.admin_token),
            photos_dir=photos,
            database_url=f"sqlite:///{workdir / 'history.sqlite3'}",
        )
        request = app.AvatarRequest()

        echo("\n$ profilesync avatars plan")
        plan = app.avatars_plan(settings, request)
        errors = [a for a in plan.actions if a.action is Action.ERROR]
        echo(report.plan_table(plan.pending()[:5] + errors))
        echo("\n".join(report.plan_summary(plan)))

        echo("\n$ profilesync avatars sync")
        first, seconds = _timed_sync(settings, request)
        echo(report.render_sync(first, "table") + f"  [{seconds:.1f} s]")
        shown = sum(1 for u in sandbox.state.users() if u.avatar_url and "/images/thumbnails/" in u.avatar_url)
        echo(f"Checked in the sandbox: {shown} users now show an uploaded photo as their avatar")

        echo("\n$ profilesync avatars sync   # again: nothing changed, so nothing is uploaded")
        second, seconds = _timed_sync(settings, request)
        echo(report.render_sync(second, "table") + f"  [{seconds:.1f} s]")

    set_first, set_second = first.counts.get("uploaded", 0), second.counts.get("uploaded", 0)
    echo(
        f"\ndemo: the first sync set {set_first} avatars; the second set "
        + ("none" if set_second == 0 else str(set_second))
        + f" ({plural(second.requests, 'API request')} for {plural(users, 'user')})."
    )


def _timed_sync(settings: Settings, request: app.AvatarRequest) -> tuple[SyncReport, float]:
    started = time.monotonic()
    result = app.avatars_sync(settings, request)
    return result, time.monotonic() - started


def echo(text: str) -> None:
    click.echo(text)
