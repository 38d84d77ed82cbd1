"""What a monitor reads: under ``--format json`` every error is one JSON document with its advice and exit code;
every command works on an empty, a failed-only and a full history; tables show local times with their zone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from profilesync.store import open_store
from profilesync.store.lock import AVATARS_CANVAS, OBSERVERS
from support.world import World

COMMANDS: dict[str, tuple[str, ...]] = {
    "avatars plan": ("avatars", "plan"),
    "avatars sync": ("avatars", "sync"),
    "avatars sync --dry-run": ("avatars", "sync", "--dry-run"),
    "avatars history": ("avatars", "history"),
    "avatars runs": ("avatars", "runs"),
    "observers plan": ("observers", "plan", "parents.csv"),
    "observers sync": ("observers", "sync", "parents.csv"),
}


def write_parents_csv(world: World, rows: int = 4) -> None:
    lines = ["student_sis_id,parent_email,parent_first_name,parent_last_name"]
    lines += [f"{u.sis_user_id},parent{n}@families.example.org,Pat,Parent{n}" for n, u in enumerate(world.students())]
    (world.photos.parent / "parents.csv").write_text("\n".join(lines[: rows + 1]) + "\n", encoding="utf-8")


def json_error(world: World, args: tuple[str, ...], code: int) -> dict[str, Any]:
    """Run a command with ``--format json`` expecting exit ``code``; its stdout must be exactly one error document."""
    result = world.cli(*args, "--format", "json", expect=code)
    document: dict[str, Any] = json.loads(result.stdout)
    assert set(document) >= {"error", "advice", "exit_code"} and document["exit_code"] == code, document
    assert document["error"] and document["advice"], document
    assert "Traceback" not in result.stderr and "error:" in result.stderr
    return document


@pytest.mark.parametrize("command", list(COMMANDS))
def test_configuration_error_is_a_json_document(world: World, command: str) -> None:
    """Exit 2 (a history database that cannot be opened) prints ``{"error", "advice", "exit_code": 2}``."""
    write_parents_csv(world)
    world.extra_env["PROFILESYNC_DATABASE_URL"] = "nosuchdriver://nowhere/history"
    document = json_error(world, COMMANDS[command], 2)
    assert "history database" in document["error"] and "PROFILESYNC_DATABASE_URL" in document["advice"]


@pytest.mark.parametrize("command", ["avatars plan", "avatars sync", "observers plan", "observers sync"])
def test_rejected_token_is_a_json_document(world: World, command: str) -> None:
    """Exit 3 (Canvas rejects the token) prints a JSON error naming the token, without the token itself."""
    write_parents_csv(world)
    wrong = "1~" + "7" * 64
    world.extra_env["CANVAS_API_TOKEN"] = wrong
    document = json_error(world, COMMANDS[command], 3)
    assert "token" in json.dumps(document).lower() and wrong not in json.dumps(document)


@pytest.mark.parametrize("command", ["avatars sync", "avatars sync --dry-run"])
def test_safety_valve_is_a_json_document(world: World, command: str) -> None:
    """Exit 4 (the photo folder is empty) prints a JSON error about the photo folder. (`avatars plan` lists the
    users instead, exit 0: tests/guru/test_guru_folders.py.)"""
    for photo in world.photos.iterdir():
        photo.unlink()
    assert "photo folder" in json_error(world, COMMANDS[command], 4)["error"]


@pytest.mark.parametrize(("command", "job"), [("avatars sync", AVATARS_CANVAS), ("observers sync", OBSERVERS)])
def test_locked_is_a_json_document(world: World, command: str, job: str) -> None:
    """Exit 5 (another run of the same job holds its lock) prints a JSON error naming the holder."""
    write_parents_csv(world)
    store = open_store(world.database_url)
    try:
        with store.lock("the other run", job=job):
            document = json_error(world, COMMANDS[command], 5)
    finally:
        store.close()
    assert "the other run" in document["error"] and "lock" in document["error"]


def test_table_format_errors_print_nothing_on_stdout(world: World) -> None:
    """Without ``--format json`` an error stays on stderr: stdout is empty (cron mails read stderr)."""
    world.extra_env["PROFILESYNC_DATABASE_URL"] = "nosuchdriver://nowhere/history"
    result = world.cli("avatars", "plan", expect=2)
    assert result.stdout == "" and "error:" in result.stderr


# -- every command against an empty, a failed-only and a full history -----------------------------------------
def _empty(world: World) -> str:
    return world.students()[0].sis_user_id or ""


def _failed_only(world: World) -> str:
    """Two failures and nothing synced: a --user naming nobody (an event with no record) and a full quota."""
    world.cli("avatars", "sync", "--user", "NOBODY-42", expect=1)
    key = sorted(p.stem for p in world.photos.iterdir())[0]
    world.sandbox.state.set_quota(world.user(key).id, 0)
    world.cli("avatars", "sync", "--user", key, expect=1)
    return "NOBODY-42"


def _full(world: World) -> str:
    world.cli("avatars", "sync")
    return sorted(p.stem for p in world.photos.iterdir())[0]


HISTORIES: dict[str, Callable[[World], str]] = {"empty": _empty, "failed-only": _failed_only, "full": _full}


@pytest.mark.parametrize("state", list(HISTORIES))
def test_every_command_works_on_every_history(world: World, state: str) -> None:
    """On an empty, a failed-only and a full history, each command exits as documented in both formats, with
    no traceback; ``history --user`` of a key with only failed events shows those events."""
    write_parents_csv(world)
    key = HISTORIES[state](world)
    run_ids = [str(r["run_id"]) for r in world.json("avatars", "runs")["runs"]] or ["1"]
    commands: list[tuple[tuple[str, ...], int]] = [
        (("avatars", "plan"), 0),
        (("avatars", "sync", "--dry-run"), 0),
        (("avatars", "history"), 0),
        (("avatars", "history", "--user", key), 0),
        (("avatars", "runs"), 0),
        (("avatars", "runs", "--run", run_ids[-1]), 0),
        (("observers", "plan", "parents.csv"), 0),
    ]
    for args, code in commands:
        for fmt in ("table", "json"):
            result = world.cli(*args, "--format", fmt, expect=code)  # CliRunner re-raises any crash
            assert "Traceback" not in result.stderr
            if fmt == "json":
                json.loads(result.stdout)
    if state == "failed-only":
        shown = world.cli("avatars", "history", "--user", key).stdout
        assert "never synced" in shown and "not_found" in shown
        events = world.json("avatars", "history", "--user", key)["events"]
        assert events and {e["outcome"] for e in events} == {"failed"}
    observers = world.json("observers", "sync", "parents.csv", expect=None)
    assert observers["counts"]["error"] == 0
    synced = world.json("avatars", "sync", expect=None)
    assert synced["exit_code"] == (1 if state == "failed-only" else 0)  # the full quota still fails


# -- local times -------------------------------------------------------------------------------------------------
def _cli_in_zone(world: World, zone: str, *args: str) -> str:
    """The real CLI in a subprocess whose local zone is ``zone`` (TZ is read at start-up)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CANVAS_", "PROFILESYNC_"))}
    env |= world.env() | {"TZ": zone}
    done = subprocess.run(
        [sys.executable, "-m", "profilesync.cli", *args],
        env=env,
        cwd=Path(world.photos).parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_tables_show_local_time_with_zone_and_json_keeps_utc_offsets(world: World) -> None:
    """``runs`` and ``history`` tables show times in the machine's zone, named; JSON keeps ISO 8601 with offset."""
    key = _full(world)
    run = world.json("avatars", "runs")["runs"][0]
    assert run["started_at"].endswith("+00:00")
    record = next(r for r in world.json("avatars", "history")["records"] if r["key"] == key)
    assert record["synced_at"].endswith("+00:00")

    runs_table = _cli_in_zone(world, "America/New_York", "avatars", "runs")
    assert " EST " in runs_table or " EDT " in runs_table
    assert run["started_at"][:16].replace("T", " ") not in runs_table  # not the UTC wall clock
    history_table = _cli_in_zone(world, "Asia/Kolkata", "avatars", "history", "--user", key)
    assert " IST" in history_table and "+00:00" not in history_table
