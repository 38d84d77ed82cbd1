"""``profilesync sandbox``: run the Canvas emulator on loopback until Ctrl-C."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

import click

from profilesync_sandbox.canvas.config import AVATARS_SETTINGS, UPLOAD_MODES, SandboxConfig
from profilesync_sandbox.canvas.emulator import Sandbox
from profilesync_sandbox.guru import GuruSandbox, GuruSandboxConfig
from profilesync_sandbox.server import request_log

EPILOG = """\b
Example:
  profilesync sandbox --users 300 --latency-ms 50 --thumbnail-lag 0.5
  profilesync sandbox --port 8900 --upload-port 8901 --scenario school.json --upload-mode local
  profilesync sandbox --guru --guru-port 8902     (a Guru emulator too, for --target guru)
  profilesync sandbox --upload-mode local --upload-throttle --upload-hwm 120   (a busy upload host)

The admin token is derived from --seed, so a restarted sandbox on the same ports keeps working with the
same .env. The scenario format is documented in profilesync_sandbox.canvas.scenario.
"""


def wait_for_interrupt(sb: Sandbox) -> None:
    """Block until Ctrl-C or SIGTERM (a seam for tests, which raise KeyboardInterrupt themselves)."""

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # a service manager's stop is handled like Ctrl-C

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_term)
    threading.Event().wait()


@click.command("sandbox", epilog=EPILOG)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (keep it loopback).")
@click.option("--port", type=int, default=0, help="Canvas host port (default: any free port).")
@click.option("--upload-port", type=int, default=0, help="Upload host port (default: any free port).")
@click.option("--users", type=click.IntRange(min=0), default=50, show_default=True, help="Users to generate.")
@click.option(
    "--scenario",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON file of users and settings (instead of --users).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for generated users and the token.")
@click.option(
    "--latency-ms",
    type=click.FloatRange(min=0),
    default=0.0,
    help="Time every request takes before its answer (a read's answer is computed meanwhile).",
)
@click.option("--upload-mode", type=click.Choice(UPLOAD_MODES), default="instfs", show_default=True)
@click.option(
    "--thumbnail-lag", type=click.FloatRange(min=0), default=0.0, help="Seconds before an upload is an avatar option."
)
@click.option("--throttle/--no-throttle", default=True, show_default=True, help="Refuse requests over the hwm.")
@click.option("--hwm", type=float, default=600.0, show_default=True, help="Throttle high-water mark.")
@click.option("--throttle-status", type=click.Choice(["403", "429"]), default="403", show_default=True)
@click.option(
    "--upload-throttle",
    is_flag=True,
    help="Throttle the upload host per client address (local: Canvas's 403; inst-fs: 429/503 + Retry-After).",
)
@click.option("--upload-hwm", type=float, default=150.0, show_default=True, help="Upload throttle high-water mark.")
@click.option("--upload-throttle-status", type=click.Choice(["429", "503"]), default="429", show_default=True)
@click.option("--two-profile-folders", is_flag=True, help="Give some users a second 'profile pictures' folder.")
@click.option("--error-rate", type=click.FloatRange(0, 1), default=0.0, help="Share of requests answering 5xx.")
@click.option("--drop-rate", type=click.FloatRange(0, 1), default=0.0, help="Share of connections dropped.")
@click.option("--avatars-setting", type=click.Choice(AVATARS_SETTINGS), default="enabled", show_default=True)
@click.option("--no-avatars-service", is_flag=True, help="Turn the avatars service off (avatar_url disappears).")
@click.option(
    "--foreign-home-users",
    type=click.IntRange(min=0),
    default=0,
    help="This many users (lowest ids) have their first login in a partner account with avatars off: "
    "Canvas omits their avatar_url.",
)
@click.option("--auth-errors-403", is_flag=True, help="Permission errors answer 403 (api_auth_error_updates).")
@click.option(
    "--limited-access-for-students", is_flag=True, help="Turn on 'Limited access for students': their uploads fail."
)
@click.option("--cdn-host", help="Serve the no-avatar picture URL from this host.")
@click.option("--tricky-sis-ids", is_flag=True, help="Give some users SIS ids with '/', ' ', '+', '.json'.")
@click.option(
    "--sub-account-users",
    type=click.IntRange(min=0),
    default=0,
    help="Put this many users in a sub-account with an admin of its own (prints its token).",
)
@click.option("--read-less-token", is_flag=True, help="Also print a token that may not read users (lookups 404).")
@click.option("--log-requests", is_flag=True, help="Print every request as it is served.")
@click.option("--guru", "with_guru", is_flag=True, help="Also run a Guru emulator (members: --users).")
@click.option("--guru-port", type=int, default=0, help="Guru host port (default: any free port).")
@click.option(
    "--guru-echo-credentials",
    is_flag=True,
    help="Guru error answers quote the request's Authorization header (as a debugging proxy may).",
)
def sandbox(
    host: str,
    port: int,
    upload_port: int,
    users: int,
    scenario: Path | None,
    seed: int,
    latency_ms: float,
    upload_mode: str,
    thumbnail_lag: float,
    throttle: bool,
    hwm: float,
    throttle_status: str,
    upload_throttle: bool,
    upload_hwm: float,
    upload_throttle_status: str,
    two_profile_folders: bool,
    error_rate: float,
    drop_rate: float,
    avatars_setting: str,
    no_avatars_service: bool,
    foreign_home_users: int,
    auth_errors_403: bool,
    limited_access_for_students: bool,
    cdn_host: str | None,
    tricky_sis_ids: bool,
    sub_account_users: int,
    read_less_token: bool,
    log_requests: bool,
    with_guru: bool,
    guru_port: int,
    guru_echo_credentials: bool,
) -> None:
    """Run a local Canvas emulator (API host + separate upload host) for trying profilesync safely."""
    config = SandboxConfig(
        host=host,
        port=port,
        upload_port=upload_port,
        users=users,
        scenario=scenario,
        seed=seed,
        latency_ms=latency_ms,
        upload_mode=upload_mode,  # type: ignore[arg-type]  # click.Choice already checked it
        thumbnail_lag_s=thumbnail_lag,
        throttle=throttle,
        hwm=hwm,
        maximum=max(800.0, hwm),
        throttle_status=int(throttle_status),  # type: ignore[arg-type]
        upload_throttle=upload_throttle,
        upload_hwm=upload_hwm,
        upload_throttle_status=int(upload_throttle_status),  # type: ignore[arg-type]
        two_profile_folders_rate=0.1 if two_profile_folders else 0.0,
        error_rate=error_rate,
        drop_rate=drop_rate,
        avatars_setting=avatars_setting,  # type: ignore[arg-type]
        avatars_service_enabled=not no_avatars_service,
        foreign_home_users=foreign_home_users,
        api_auth_error_updates=auth_errors_403,
        limited_access_for_students=limited_access_for_students,
        cdn_host=cdn_host,
        tricky_sis_ids=tricky_sis_ids,
        sub_account_users=sub_account_users,
    )
    problems = config.problems()
    if problems:
        raise click.UsageError("; ".join(problems))
    if log_requests:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        request_log.addHandler(handler)
        request_log.setLevel(logging.DEBUG)
        request_log.propagate = False
    try:
        sb = Sandbox(config)
        sb.start()
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"cannot start the sandbox: {exc}") from exc
    guru: GuruSandbox | None = None
    if with_guru:
        guru_config = GuruSandboxConfig(
            host=host,
            port=guru_port,
            members=users,
            seed=seed,
            latency_ms=latency_ms,
            echo_credentials_in_errors=guru_echo_credentials,
        )
        try:
            guru = GuruSandbox(guru_config).start()
        except (OSError, ValueError) as exc:
            sb.stop()
            raise click.ClickException(f"cannot start the Guru sandbox: {exc}") from exc
    listed = len(sb.state.sorted_users(1))
    click.echo(f"Canvas sandbox running with {listed} users.")
    click.echo(f"  Canvas URL:          {sb.base_url}")
    click.echo(f"  Upload URL:          {sb.upload_base_url}  (a separate host: it must never see the token)")
    click.echo(f"  Admin token:         {sb.admin_token}")
    click.echo(f"  No-masquerade token: {sb.no_masquerade_token}")
    if sb.sub_account_token is not None:
        click.echo(f"  Sub-account admin:   {sb.sub_account_token}  (account {sb.sub_account_id})")
    if read_less_token:
        click.echo(f"  Read-less token:     {sb.read_less_token()}")
    click.echo(f"  Also answers at:     {sb.alias_base_url}  (another spelling of the same Canvas)")
    click.echo("\nPaste into .env:\n")
    click.echo(sb.env_snippet())
    if guru is not None:
        click.echo(f"Guru sandbox running with {len(guru.state.members())} members at {guru.base_url}")
        click.echo("Paste these too, then use --target guru (photos named <email>.jpg):\n")
        click.echo(guru.env_snippet())
    click.echo("Open the Canvas URL in a browser to see the users' avatars. Press Ctrl-C to stop.")
    try:
        wait_for_interrupt(sb)
    except KeyboardInterrupt:
        click.echo("\nStopping the sandbox.")
    finally:
        if guru is not None:
            guru.stop()
        sb.stop()
