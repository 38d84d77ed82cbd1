"""The pipelined first sync, end to end: with no history (and no --max-uploads) uploads start while the users are
still being listed; with a history, or with --max-uploads, the sync lists everyone before its first write. The
sandbox logs requests in arrival order, which is what these tests read."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from profilesync_sandbox import Sandbox, SandboxConfig
from profilesync_sandbox.samples import write_sample_photos
from support.world import World

LISTING = "GET /api/v1/accounts/:account_id/users"
RIGHTS = "GET /api/v1/accounts/:account_id/permissions"
WRITES = ("POST /api/v1/users/:user_id/files", "PUT /api/v1/users/:id")
#: 10 listing pages; photos for the first users listed only, so the uploads are few and the listing long
USERS = 1000
PHOTOS = 12


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.chdir(tmp_path)
    # 150 ms per request: time enough to hold the listing's second page back once the first one arrived
    with Sandbox(SandboxConfig(users=USERS, latency_ms=150, request_cost=0.05)) as sandbox:
        world = World(sandbox, tmp_path / "photos", f"sqlite:///{tmp_path / 'history.sqlite3'}", {})
        write_sample_photos(world.photos, [str(u.sis_user_id) for u in world.students()[:PHOTOS]], size=120)
        yield world
        assert sandbox.state.upload_auth_headers_seen == []


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def order(world: World) -> tuple[list[int], list[int], list[int]]:
    """Positions in the Canvas request log of the listing's pages, the rights check and the writes."""
    log = world.sandbox.state.requests("canvas")
    pages = [i for i, r in enumerate(log) if r.route == LISTING]
    rights = [i for i, r in enumerate(log) if r.route == RIGHTS]
    writes = [i for i, r in enumerate(log) if r.route in WRITES]
    return pages, rights, writes


def test_first_sync_uploads_while_the_users_are_still_being_listed(world: World) -> None:
    """No history: with the listing's second page held back, the first upload still reaches Canvas, after the
    rights check; once the page is let go, the report, the run record and the history are those of any sync."""
    document: list[Any] = []
    # Page 1 goes through; page 2 is held from its arrival (the listing asks for it as soon as page 1 is in).
    listing = world.sandbox.faults.hold("GET", r"/accounts/[^/]+/users$", skip=1)
    sync = threading.Thread(target=lambda: document.append(world.json("avatars", "sync")))
    sync.start()
    try:
        wait_until(lambda: world.sandbox.state.counts()[WRITES[0]] >= 1, "an upload while the listing is held")
        assert world.sandbox.state.counts()[LISTING] == 1  # (logged once answered) the rest waits for page 2
        listing.release()
    finally:
        world.sandbox.faults.clear()
        sync.join(60)
    pages, rights, writes = order(world)
    assert len(pages) == USERS // 100
    assert rights[0] < writes[0] < pages[-1]
    (result,) = document
    assert result["exit_code"] == 0
    assert result["counts"]["uploaded"] == PHOTOS and result["counts"]["failed"] == 0
    assert result["counts"]["skipped"] == len(world.students()) - PHOTOS
    (run,) = world.json("avatars", "runs")["runs"]
    assert run["exit_code"] == 0 and run["counts"] == result["counts"]
    synced = [r for r in world.json("avatars", "history")["records"] if r["synced_at"]]
    assert len(synced) == PHOTOS


def test_first_sync_with_max_uploads_lists_everyone_first(world: World) -> None:
    """--max-uploads counts new users, so the valve needs the whole plan: no write before the last page; the
    outcome is the pipelined one's."""
    result = world.json("avatars", "sync", "--max-uploads", "100")
    pages, rights, writes = order(world)
    assert pages[-1] < rights[0] < writes[0]
    assert result["counts"]["uploaded"] == PHOTOS and result["counts"]["failed"] == 0


def test_second_sync_lists_everyone_before_its_first_write(world: World) -> None:
    """A history (a synced user): the valve could trip, so the sync lists every user, then writes — here new
    photos for more users and one changed photo."""
    world.cli("avatars", "sync")
    students = [str(u.sis_user_id) for u in world.students()]
    write_sample_photos(world.photos, students[PHOTOS : PHOTOS + 5], size=120)
    (world.photos / f"{students[0]}.jpg").write_bytes((world.photos / f"{students[1]}.jpg").read_bytes())
    world.sandbox.state.reset_counts()
    result = world.json("avatars", "sync")
    pages, _, writes = order(world)
    assert len(pages) == USERS // 100
    assert pages[-1] < writes[0]
    assert result["counts"]["uploaded"] == 6 and result["counts"]["failed"] == 0


def test_token_that_cannot_write_stops_a_first_sync_as_before(world: World) -> None:
    """A token without "act as": exit 3 with the same error, no upload, every user listed and counted in the run
    record, as when the sync listed everyone before its rights check."""
    world.extra_env["CANVAS_API_TOKEN"] = world.sandbox.no_masquerade_token
    result = world.cli("avatars", "sync", "--format", "json", expect=3)
    assert "Users - act as" in result.stderr
    pages, _, writes = order(world)
    assert writes == [] and world.upload_requests() == 0 and len(pages) == USERS // 100
    world.extra_env.pop("CANVAS_API_TOKEN")
    (run,) = world.json("avatars", "runs")["runs"]
    assert run["exit_code"] == 3
    assert run["counts"]["skipped"] == len(world.students()) - PHOTOS and run["counts"]["uploaded"] == 0
    assert json.loads(result.stdout)["exit_code"] == 3
