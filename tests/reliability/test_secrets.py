"""The admin token never leaves the process: not in output, logs (even -vv), the history, or error messages.

Each test runs the real CLI as a subprocess with ``-vv --log-file`` and greps everything it wrote — stdout,
stderr, the log file and the SQLite files' raw bytes — for the token and for its last 8 characters.
"""

from __future__ import annotations

import json
from pathlib import Path

from support.world import World

from .conftest import MakeWorld, Spawn
from .helpers import db_bytes


def run_verbose(spawn: Spawn, world: World, log_file: Path) -> tuple[int, str, str]:
    process = spawn(world, "-vv", "--log-file", str(log_file), "avatars", "sync", "--format", "json")
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


def assert_no_token(world: World, *texts: str | bytes) -> None:
    token = world.sandbox.admin_token
    for needle in (token, token[-8:]):
        for text in texts:
            haystack = text if isinstance(text, bytes) else text.encode()
            assert needle.encode() not in haystack, f"the token ({needle!r}) leaked"


def test_verbose_sync_writes_the_token_nowhere(make: MakeWorld, spawn: Spawn, tmp_path: Path) -> None:
    """A full -vv sync: no token (nor its tail) in stdout, stderr, the log file or the database; no headers logged."""
    world = make(users=40, upload_mode="local", thumbnail_lag_s=0.05)
    log_file = tmp_path / "logs" / "sync.log"
    code, out, err = run_verbose(spawn, world, log_file)
    assert code == 0, err
    assert json.loads(out)["counts"]["uploaded"] > 0
    log = log_file.read_text()
    assert " DEBUG profilesync.http: PUT " in log and " DEBUG urllib3." in log  # -vv really logged HTTP
    assert_no_token(world, out, err, log, db_bytes(world))
    for header in ("Authorization", "Bearer", "Cookie"):
        assert header not in log and header not in err, header


def test_error_messages_echoing_the_token_are_cleaned(make: MakeWorld, spawn: Spawn, tmp_path: Path) -> None:
    """Canvas (or a proxy) echoing the Authorization header into errors: the failures, history and logs hide it."""
    world = make(users=30)
    sb = world.sandbox
    echo = {"errors": [{"message": f"rejected header Authorization: Bearer {sb.admin_token}"}]}
    sb.faults.fail_next("PUT", r"^/api/v1/users/\d+$", 400, count=2, body=echo)
    upload_echo = {"message": f"bad token {sb.admin_token}"}
    sb.faults.fail_next("POST", r"^/files$", 400, body=upload_echo, host="upload")
    log_file = tmp_path / "sync.log"
    code, out, err = run_verbose(spawn, world, log_file)
    assert code == 1, err
    failures = json.loads(out)["failures"]
    assert len(failures) == 3 and all("<hidden>" in f["message"] for f in failures)
    assert_no_token(world, out, err, log_file.read_text(), db_bytes(world))


def test_fatal_error_echoing_the_token_is_cleaned(make: MakeWorld, spawn: Spawn, tmp_path: Path) -> None:
    """A fatal answer quoting the token (the listing fails): the one error line on stderr hides it."""
    world = make(users=10)
    sb = world.sandbox
    sb.faults.fail_next("GET", r"/users$", 400, body={"errors": [{"message": f"echo: Bearer {sb.admin_token}"}]})
    log_file = tmp_path / "sync.log"
    code, out, err = run_verbose(spawn, world, log_file)
    assert code == 3, err
    assert "error: Canvas refused to list the users: listing the account's users: echo: Bearer <hidden>" in err
    assert_no_token(world, out, err, log_file.read_text(), db_bytes(world))
