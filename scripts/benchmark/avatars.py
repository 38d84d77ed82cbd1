"""The avatar scenarios: steady state (1, 1b, 3), first syncs (2, 2b, 5) and planning with a large history (7)."""

from __future__ import annotations

import argparse
from pathlib import Path

from profilesync_sandbox import Sandbox, SandboxConfig

from .harness import (
    Measure,
    Timing,
    cli_env,
    counts,
    first_sync_floors,
    keys_of,
    listing_requests,
    overlap_note,
    reachable_throttle_floor,
    run_cli,
    run_profilesync,
    seed_synced,
    tiny_photo,
    write_photos,
)

#: the per-request cost of "cheap" requests (Canvas's own examples show 0.03-0.04)
CHEAP_COST = 0.05
#: a plan with a 100,000-record history, beyond its listing, and a one-user plan: each under this (issue 14)
PLAN_BUDGET_S = 2.0


def steady_measure(name: str, sandbox: Sandbox, workdir: Path, args: argparse.Namespace) -> Measure:
    """A sync with nothing changed; the floor is the listing's pages × latency."""
    sandbox.state.reset_counts()
    result, wall, rss = run_cli(sandbox, workdir, "avatars", "sync")
    api, uploads, throttled = counts(sandbox)
    users = len(keys_of(sandbox))
    floor = listing_requests(users) * args.latency_ms / 1000
    measure = Measure(name, users, 0, api, uploads, throttled, result["counts"]["failed"], wall, floor, rss)
    measure.notes.append(f"uploaded {result['counts']['uploaded']}, unchanged {result['counts']['unchanged']}")
    return measure


def steady_state(args: argparse.Namespace, workdir: Path) -> list[Measure]:
    """Scenarios 1 and 3 at --steady-users: nothing changed; then one photo changed."""
    config = SandboxConfig(users=args.steady_users, latency_ms=args.latency_ms, seed=1)
    with Sandbox(config) as sandbox:
        seed_synced(sandbox, workdir)
        run_cli(sandbox, workdir, "avatars", "sync")  # warms the fingerprint cache, as any earlier night did
        steady = steady_measure("1. steady state", sandbox, workdir, args)

        users = steady.users
        key = keys_of(sandbox)[users // 2][1]
        (workdir / "photos" / f"{key}.jpg").write_bytes(tiny_photo(999_999))
        sandbox.state.reset_counts()
        result, wall, rss = run_cli(sandbox, workdir, "avatars", "sync")
        api, uploads, throttled = counts(sandbox)
        floor = (listing_requests(users) + 3) * args.latency_ms / 1000
        one = Measure("3. one changed photo", users, 1, api, uploads, throttled, result["counts"]["failed"], wall,
                      floor, rss)  # fmt: skip
        one.notes.append(f"uploaded {result['counts']['uploaded']}")
    return [steady, one]


def large(args: argparse.Namespace, workdir: Path) -> tuple[list[Measure], list[Timing]]:
    """Scenario 1b (steady state at --large-users) and 7 (plans with that many history records), one sandbox.

    7a is a whole steady plan, timed beyond its listing (wall − pages × latency: reading the history and deciding);
    7b is ``avatars plan --user KEY``, whole (one user looked up, the history asked about one key).
    """
    config = SandboxConfig(users=args.large_users, latency_ms=args.latency_ms, seed=7)
    with Sandbox(config) as sandbox:
        seed_synced(sandbox, workdir)
        run_cli(sandbox, workdir, "avatars", "sync")  # warms the fingerprint cache
        steady = steady_measure("1b. steady state, large", sandbox, workdir, args)

        users = steady.users
        env = cli_env(sandbox, workdir)
        whole = run_profilesync(env, workdir, "-q", "avatars", "plan", "--format", "json")
        beyond = max(0.0, whole.wall_s - steady.floor_s)
        key = keys_of(sandbox)[users // 2][1]
        one = run_profilesync(env, workdir, "-q", "avatars", "plan", "--user", key, "--format", "json")
    timings = [
        Timing(f"7a. plan, {users:,} history records: beyond the listing", beyond, PLAN_BUDGET_S,
               f"whole plan {whole.wall_s:.2f} s, listing floor {steady.floor_s:.2f} s, peak {whole.rss_mb:.0f} MB"),
        Timing(f"7b. plan --user, {users:,} history records", one.wall_s, PLAN_BUDGET_S,
               f"whole command, fresh interpreter; peak {one.rss_mb:.0f} MB"),
    ]  # fmt: skip
    return [steady], timings


def first_sync(name: str, users: int, changed: int, args: argparse.Namespace, workdir: Path,
               request_cost: float) -> Measure:  # fmt: skip
    """Scenarios 2, 2b and 5: `changed` users with new photos among `users`, nothing synced before."""
    config = SandboxConfig(users=users, latency_ms=args.latency_ms, request_cost=request_cost, seed=2)
    with Sandbox(config) as sandbox:
        all_keys = [k for _, k in keys_of(sandbox)]
        write_photos(workdir / "photos", all_keys[:changed])
        result, wall, rss = run_cli(sandbox, workdir, "avatars", "sync")
        api, uploads, throttled = counts(sandbox)
        overlap = overlap_note(sandbox)
    pages = listing_requests(len(all_keys))
    latency_floor, throttle_floor = first_sync_floors(pages, changed, args.latency_ms / 1000, request_cost)
    floor = max(latency_floor, throttle_floor)
    measure = Measure(name, len(all_keys), changed, api, uploads, throttled, result["counts"]["failed"], wall,
                      floor, rss)  # fmt: skip
    binds = "throttle" if throttle_floor > latency_floor else "latency"
    if binds == "throttle":
        reachable = reachable_throttle_floor(pages, changed, args.latency_ms / 1000, request_cost)
        overlap += f"; reachable at this latency {reachable:.1f} s ({wall / reachable:.2f}×)"
    measure.notes.append(
        f"cost {request_cost}/request; floor {floor:.1f} s ({binds} binds: latency {latency_floor:.1f} s, "
        f"throttle {throttle_floor:.1f} s); uploaded {result['counts']['uploaded']}; {overlap}"
    )
    return measure


def first_syncs(args: argparse.Namespace, workdir: Path) -> list[Measure]:
    """Scenario 2: every one of --first-users has a new photo."""
    return [first_sync("2. first sync", args.first_users, args.first_users, args, workdir, CHEAP_COST)]


def pipelined(args: argparse.Namespace, workdir: Path) -> list[Measure]:
    """Scenario 2b: --pipelined-changed of --pipelined-users have new photos; uploads can start mid-listing."""
    return [
        first_sync("2b. first sync, some changed", args.pipelined_users, args.pipelined_changed, args, workdir,
                   CHEAP_COST)
    ]  # fmt: skip


def throttle_bound(args: argparse.Namespace, workdir: Path) -> list[Measure]:
    """Scenario 5: requests expensive enough (--heavy-cost) that Canvas's leaky bucket, not latency, binds."""
    return [first_sync("5. throttle-bound first sync", args.throttle_users, args.throttle_changed, args, workdir,
                       args.heavy_cost)]  # fmt: skip
