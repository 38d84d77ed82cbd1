"""Bad configuration and bad remote answers: stop at once, with the documented exit code and advice, no hammering."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from guru.world import GuruWorld, make_guru_world
from profilesync.http import Retry
from profilesync.targets.canvas.refusals import MASQUERADE_REFUSALS_BEFORE_FATAL
from profilesync_sandbox.canvas.records import ALL_PERMISSIONS
from profilesync_sandbox.guru import GuruSandboxConfig
from profilesync_sandbox.samples import make_portrait
from support.world import World

from .conftest import MakeWorld
from .helpers import expected_keys

PREFLIGHT = "POST /api/v1/users/:user_id/files"


def assert_one_error(result: Result, *fragments: str) -> None:
    """stderr holds one ``error:`` line (plus its advice), no traceback; the fragments appear in it."""
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment.lower() in result.stderr.lower(), (fragment, result.stderr)


def test_wrong_token_stops_at_once_with_one_line(make: MakeWorld) -> None:
    """A wrong token: exit 3 in well under a second, one error line, at most 2 requests."""
    world = make(users=50)
    world.extra_env["CANVAS_API_TOKEN"] = "1~" + "0" * 64
    started = time.monotonic()
    result = world.cli("avatars", "sync", expect=3)
    assert time.monotonic() - started < 5
    assert_one_error(result, "token")
    assert len(result.stderr.strip().splitlines()) <= 2  # the error and what to do
    assert world.api_requests() <= 2 and world.upload_requests() == 0


def test_token_without_masquerade_stops_early_with_advice(make: MakeWorld) -> None:
    """A token without "Become other users": exit 3 naming the permission, after a handful of users, not all."""
    world = make(users=150)
    world.extra_env["CANVAS_API_TOKEN"] = world.sandbox.no_masquerade_token
    result = world.cli("avatars", "sync", expect=3)
    assert_one_error(result, "act as", "Become other users")
    # the refusal threshold plus the users already in flight, of 125 users with a photo
    assert world.sandbox.state.counts()[PREFLIGHT] <= MASQUERADE_REFUSALS_BEFORE_FATAL + 16
    assert world.upload_requests() == 0 and not world.sandbox.state.files()


def test_missing_avatar_permission_stops_before_any_upload(make: MakeWorld) -> None:
    """A role without "Users - manage login details": the root-account rights say every user would fail alike,
    so the run stops (exit 3) before its first upload, naming the permission."""
    world = make(users=150)
    world.extra_env["CANVAS_API_TOKEN"] = world.sandbox.state.add_admin(ALL_PERMISSIONS - {"manage_user_logins"})
    result = world.cli("avatars", "sync", expect=3)
    assert_one_error(result, "manage login details", "root account")
    assert world.sandbox.state.counts()[PREFLIGHT] == 0 and world.upload_requests() == 0
    assert world.json("avatars", "history")["records"] == []


def test_avatars_disabled_on_the_account_is_fatal(make: MakeWorld) -> None:
    """Avatars switched off (no avatar_url in the listing): exit 3 with where to switch them on; no upload."""
    world = make(users=50, avatars_service_enabled=False)
    result = world.cli("avatars", "sync", expect=3)
    assert_one_error(result, "avatars are disabled", "Enable profile pictures")
    assert world.sandbox.state.counts()[PREFLIGHT] == 0


class _Html(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        body = b"<!DOCTYPE html><html><body><h1>Welcome to our intranet</h1></body></html>"
        self.send_response(self.status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(params=[200, 404], ids=["html-200", "html-404"])
def not_canvas(request: pytest.FixtureRequest) -> Iterator[str]:
    """A web server on loopback that answers an HTML page to everything (200, or 404)."""
    handler = type("Html", (_Html,), {"status": request.param})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_base_url_that_is_not_canvas_is_fatal(make: MakeWorld, not_canvas: str) -> None:
    """CANVAS_BASE_URL pointing at an ordinary web site: exit 3 saying to check the address."""
    world = make(users=10)
    world.extra_env["CANVAS_BASE_URL"] = not_canvas
    result = world.cli("avatars", "sync", expect=3)
    assert_one_error(result, not_canvas)


def test_closed_port_is_fatal_unreachable(make: MakeWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    """CANVAS_BASE_URL on a port nobody listens on: exit 3, "unreachable", after the usual retries."""
    monkeypatch.setattr(Retry, "delay", lambda self, attempt: 0.01)  # the retries, not their real waits
    world = make(users=10)
    with socket.socket() as probe:  # a free port, closed again before the run
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    world.extra_env["CANVAS_BASE_URL"] = f"http://127.0.0.1:{port}"
    result = world.cli("avatars", "sync", expect=3)
    assert_one_error(result, "unreachable")


def test_plain_http_to_a_remote_host_is_refused(make: MakeWorld) -> None:
    """http:// to a non-loopback host would send the token in clear: exit 2 before any connection."""
    world = make(users=10)
    world.extra_env["CANVAS_BASE_URL"] = "http://canvas.example.edu"
    result = world.cli("avatars", "sync", expect=2)
    assert_one_error(result, "plain http")


@pytest.mark.parametrize("folder", ["missing", "empty"])
def test_missing_or_empty_photo_folder_trips_the_valve(make: MakeWorld, folder: str) -> None:
    """No photo folder, or an empty one (a failed export): exit 4, nothing uploaded."""
    world = make(users=20)
    for photo in world.photos.iterdir():
        photo.unlink()
    if folder == "missing":
        world.photos.rmdir()
    result = world.cli("avatars", "sync", expect=4)
    assert_one_error(result, "photo folder")
    assert world.sandbox.state.counts()[PREFLIGHT] == 0


def test_max_uploads_stops_a_large_plan_and_force_goes_ahead(make: MakeWorld) -> None:
    """--max-uploads below the plan: exit 4 and nothing done; with --force the same run goes ahead."""
    world = make(users=30)
    keys = expected_keys(world)
    result = world.cli("avatars", "sync", "--max-uploads", "5", expect=4)
    assert_one_error(result, "--max-uploads 5")
    assert world.sandbox.state.counts()[PREFLIGHT] == 0
    synced = world.json("avatars", "sync", "--max-uploads", "5", "--force")
    assert synced["counts"]["uploaded"] == len(keys)


def _rewrite_every_photo(world: World) -> None:
    for photo in world.photos.iterdir():
        photo.write_bytes(make_portrait(photo.stem, variant=4, size=120))


def test_sudden_flood_of_changes_on_a_synced_target_trips_the_valve(make: MakeWorld) -> None:
    """Every photo of an already-synced Canvas changing at once (a wrong folder?): exit 4 until --force."""
    world = make(users=130)
    world.cli("avatars", "sync")
    _rewrite_every_photo(world)
    world.sandbox.state.reset_counts()
    result = world.cli("avatars", "sync", expect=4)
    assert_one_error(result, "far more than usual", "--force")
    assert world.sandbox.state.counts()[PREFLIGHT] == 0
    forced = world.json("avatars", "sync", "--force")
    assert forced["counts"]["uploaded"] == len(expected_keys(world))


def test_users_failing_one_by_one_after_successes_do_not_stop_the_run(make: MakeWorld) -> None:
    """Twelve users with a full quota, late in the plan: they fail alone (exit 1); the breaker stays out of it."""
    world = make(users=80)
    order = [a["key"] for a in world.json("avatars", "plan")["actions"] if a["action"] == "upload"]
    full = order[-12:]
    for key in full:
        world.sandbox.state.set_quota(world.user(key).id, 0)
    result = world.json("avatars", "sync", expect=1)
    assert sorted(f["key"] for f in result["failures"]) == sorted(full)
    assert {f["reason"] for f in result["failures"]} == {"quota"}
    assert result["counts"]["uploaded"] == len(order) - len(full)


@pytest.fixture
def guru_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GuruWorld]:
    yield from make_guru_world(tmp_path, monkeypatch, GuruSandboxConfig(members=12, page_size=5))


def test_guru_listing_that_keeps_failing_is_fatal(guru_world: GuruWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    """Any target: members that cannot be listed (Guru answering 503 throughout) stop the run with exit 3."""
    monkeypatch.setattr(Retry, "delay", lambda self, attempt: 0.01)
    guru_world.guru.faults.fail_next("GET", r"^/api/v1/members$", 503, count=100, host="guru")
    result = guru_world.cli("avatars", "sync", "--target", "guru", expect=3)
    assert_one_error(result, "cannot list the users", "503")
