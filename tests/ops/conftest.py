"""Fixtures for the operations tests: a small sandbox world, and a web server that is not Canvas."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from profilesync_sandbox import SandboxConfig
from support.world import World, make_world

OPS_USERS = 40


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    yield from make_world(tmp_path, monkeypatch, SandboxConfig(users=OPS_USERS, missing_sis_rate=0.03))


@pytest.fixture
def no_avatars_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    yield from make_world(tmp_path, monkeypatch, SandboxConfig(users=OPS_USERS, avatars_service_enabled=False))


class _SchoolWebsite(BaseHTTPRequestHandler):
    """Answers every path with an HTML page, like a school's home page or a sign-in portal."""

    def do_GET(self) -> None:
        body = b"<!DOCTYPE html><html><head><title>Springfield High</title></head><body>Welcome</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def html_site() -> Iterator[str]:
    """The base URL of a loopback web server that serves HTML, not the Canvas API."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SchoolWebsite)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
