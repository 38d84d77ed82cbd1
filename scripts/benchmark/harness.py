"""What every scenario shares: the measurement record, photos, the history seeding and running the real CLI."""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image
from sqlalchemy import create_engine, insert

from profilesync.store import open_store
from profilesync.store.schema import sync_records
from profilesync.targets.canvas.avatars import avatar_ref
from profilesync_sandbox import Sandbox

#: modules whose import a command should only pay for when it needs them (start-up, scenario 9)
HEAVY_MODULES = ("sqlalchemy", "requests", "urllib3", "PIL", "jinja2", "tenacity", "dotenv", "charset_normalizer")
#: runs the CLI and writes its peak RSS (KiB) and the heavy modules it imported to a file, whatever the exit code.
#: The peak is VmHWM, the high-water mark of this process's own memory: Linux carries ru_maxrss across fork and
#: exec, so getrusage would report this (large, sandbox-holding) benchmark process's peak instead.
WRAPPER = f"""
import json, sys
out = sys.argv.pop(1)
try:
    from profilesync.cli import main
    sys.argv[0] = "profilesync"
    main()
finally:
    with open("/proc/self/status") as status:
        hwm = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    with open(out, "w") as f:
        json.dump({{"rss_kib": hwm, "heavy": [m for m in {HEAVY_MODULES!r} if m in sys.modules]}}, f)
"""
HWM, UP_FRONT, OUTFLOW = 600.0, 50.0, 10.0  # Canvas's defaults (docs/canvas.md §4.1)
#: the 12th concurrent request on an empty bucket is refused: 11 is the in-flight limit the rate gate settles at
MAX_IN_FLIGHT = int(HWM // UP_FRONT) - 1
#: requests every run makes besides the listing: the root account's read (the history's identity), and, when the
#: plan writes anything, the token's rights on it (targets/canvas/account.py)
RUN_REQUESTS = 1
WRITING_RUN_REQUESTS = 2


@dataclass
class Measure:
    """One run against the sandbox: what Canvas was asked, how long it took, and the floor it is held to."""

    name: str
    users: int
    changed: int
    api_requests: int
    uploads: int
    throttled: int
    failed: int
    wall_s: float
    floor_s: float
    rss_mb: float | None = None
    #: requests not charged to each changed user; None: the listing's pages and the run's own (run_overhead)
    per_run: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def vs_floor(self) -> float:
        return self.wall_s / self.floor_s if self.floor_s else float("nan")

    @property
    def per_changed(self) -> float | None:
        """API requests per changed user (per CSV row for observers), throttled retries included."""
        if not self.changed:
            return None
        per_run = listing_requests(self.users) + run_overhead(self.changed) if self.per_run is None else self.per_run
        return (self.api_requests - per_run) / self.changed


@dataclass
class Timing:
    """A wall time held to a fixed budget rather than a floor (start-up, planning with a large history)."""

    name: str
    wall_s: float
    target_s: float
    detail: str = ""
    heavy: list[str] = field(default_factory=list)  # the HEAVY_MODULES the command imported

    @property
    def holds(self) -> bool:
        return self.wall_s < self.target_s


@dataclass
class CliRun:
    stdout: str
    wall_s: float
    rss_mb: float
    heavy: list[str]
    stderr: str = ""

    def json(self) -> Any:
        return json.loads(self.stdout)


def tiny_photo(index: int) -> bytes:
    """A small, distinct, valid JPEG (fast to make in bulk)."""
    image = Image.new("RGB", (64, 64), ((index * 37) % 256, (index * 91) % 256, (index * 53) % 256))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def write_photos(folder: Path, keys: Iterable[str], variant: int = 0) -> dict[str, bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for index, key in enumerate(keys):
        data = tiny_photo(index * 7 + variant)
        (folder / f"{key}.jpg").write_bytes(data)
        written[key] = data
    return written


def keys_of(sandbox: Sandbox) -> list[tuple[int, str]]:
    return [(u.id, u.sis_user_id) for u in sandbox.state.users() if u.sis_user_id]


def cli_env(sandbox: Sandbox | None, workdir: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "PROFILESYNC_PHOTOS_DIR": str(workdir / "photos"),
        "PROFILESYNC_DATABASE_URL": f"sqlite:///{workdir / 'history.sqlite3'}",
    }
    if sandbox is not None:
        env |= {"CANVAS_BASE_URL": sandbox.base_url, "CANVAS_API_TOKEN": sandbox.admin_token}
    return env


def run_profilesync(env: dict[str, str], workdir: Path, *args: str, python_flags: tuple[str, ...] = ()) -> CliRun:
    """Run ``profilesync ARGS`` in a fresh interpreter: its output, wall time, peak RSS and heavy imports."""
    stats_file = workdir / "cli-stats.json"
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, *python_flags, "-c", WRAPPER, str(stats_file), *args],
        env=env,
        capture_output=True,
        text=True,
        cwd=workdir,
        check=False,
    )
    wall = time.monotonic() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"profilesync {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
    stats = json.loads(stats_file.read_text())
    return CliRun(done.stdout, wall, stats["rss_kib"] / 1024, stats["heavy"], done.stderr)


def run_cli(sandbox: Sandbox, workdir: Path, *args: str) -> tuple[dict[str, Any], float, float]:
    """Run a quiet profilesync job against the sandbox; its JSON output, wall time and peak RSS in MB."""
    run = run_profilesync(cli_env(sandbox, workdir), workdir, "-q", *args, "--format", "json")
    return run.json(), run.wall_s, run.rss_mb


def counts(sandbox: Sandbox) -> tuple[int, int, int]:
    """(Canvas API requests, upload-host requests, throttled answers) since the last reset."""
    api = sandbox.state.requests("canvas")
    throttled = sum(1 for r in api if r.status in (403, 429) and r.route)
    return len(api), len(sandbox.state.requests("upload")), throttled


def reachable_throttle_floor(pages: int, changed: int, latency_s: float, request_cost: float) -> float:
    """The throttle floor a client can reach at this latency (a note beside the floor, which stays the table's).

    The floor lets the run end with hwm − up-front (550) of spent cost in the bucket. But one request in flight adds
    ``request_cost`` per ``latency_s``: when that is no more than OUTFLOW (0.5 per 50 ms is exactly 10/s), the spent
    cost rises only while two requests are in flight, and the second is admitted only while the bucket has room for
    two reservations (each request in flight holds its own: docs/canvas.md §4.1). So at most hwm − 2 × up-front
    (500) can be left in it: 5 s more at Canvas's outflow.
    """
    total_cost = (pages + 3 * changed) * request_cost
    one_in_flight_fills = request_cost / latency_s > OUTFLOW
    room = HWM - UP_FRONT if one_in_flight_fills else HWM - 2 * UP_FRONT
    return max(0.0, total_cost - room) / OUTFLOW


LISTING_ROUTE = "GET /api/v1/accounts/:account_id/users"
WRITE_ROUTES = ("POST /api/v1/users/:user_id/files", "PUT /api/v1/users/:id")


def overlap_note(sandbox: Sandbox) -> str:
    """Whether the run wrote while it was still listing (the sandbox logs requests as they arrive): the note
    the first-sync scenarios carry."""
    log = sandbox.state.requests("canvas")
    pages = [r.timestamp for r in log if r.route == LISTING_ROUTE]
    writes = [r.timestamp for r in log if r.route in WRITE_ROUTES]
    if not pages or not writes:
        return "pipelined: no (nothing written, or no listing)"
    if writes[0] < pages[-1]:
        return f"pipelined: yes (first write {writes[0] - pages[0]:.1f} s into a {pages[-1] - pages[0]:.1f} s listing)"
    return "pipelined: no (listed first)"


def seed_synced(sandbox: Sandbox, workdir: Path) -> None:
    """Make every user look synced by profilesync: their avatar is our file, the history says so."""
    photos = write_photos(workdir / "photos", [k for _, k in keys_of(sandbox)])
    open_store(f"sqlite:///{workdir / 'history.sqlite3'}").close()  # creates the schema
    rows = []
    now = datetime.now(UTC)
    target_id = f"canvas:{sandbox.base_url}"
    for user_id, key in keys_of(sandbox):
        file_id = sandbox.state.user_sets_own_avatar(user_id, photos[key], filename="profilesync-avatar.jpg")
        url = sandbox.state.user(user_id).avatar_url
        file = sandbox.state.file(file_id)
        rows.append(
            {
                "target_id": target_id, "key": key, "user_id": str(user_id),
                "photo_sha256": hashlib.sha256(photos[key]).hexdigest(), "file_id": str(file_id),
                "file_uuid": file.uuid, "avatar_url": url, "avatar_ref": avatar_ref(url), "synced_at": now,
            }
        )  # fmt: skip
    engine = create_engine(f"sqlite:///{workdir / 'history.sqlite3'}")
    with engine.begin() as connection:
        connection.execute(insert(sync_records), rows)
    engine.dispose()


def listing_requests(users: int) -> int:
    """Pages profilesync's sort=id listing needs: bookmark pages end without an empty page after a full one."""
    return max(1, math.ceil(users / 100))


def run_overhead(changed: int) -> int:
    return WRITING_RUN_REQUESTS if changed else RUN_REQUESTS


def first_sync_floors(pages: int, changed: int, latency_s: float, request_cost: float) -> tuple[float, float]:
    """(latency floor, throttle floor) of a sync that lists `pages` pages and uploads for `changed` users.

    Latency: the listing, then 3 API requests per changed user spread over the most requests Canvas's bucket lets
    be in flight at once (MAX_IN_FLIGHT); the upload itself overlaps. Throttle: everything the run costs, beyond
    what an empty bucket absorbs, leaks at OUTFLOW per second.
    """
    latency_floor = pages * latency_s + 3 * changed * latency_s / MAX_IN_FLIGHT
    total_cost = (pages + 3 * changed) * request_cost
    return latency_floor, max(0.0, total_cost - (HWM - UP_FRONT)) / OUTFLOW
