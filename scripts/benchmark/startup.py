"""Scenario 9: start-up. ``profilesync --help`` and a no-op ``avatars plan --user X``, each in a fresh interpreter."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from profilesync_sandbox import Sandbox, SandboxConfig

from .harness import CliRun, Timing, cli_env, keys_of, run_profilesync, write_photos

#: issue 14: "aim under 0.3 s for --help"; a one-user plan has the same budget for its start-up beyond the network
HELP_BUDGET_S = 0.3
#: a no-op plan of one user: start-up plus three requests; budgeted at 1 s on this shared 2-core machine
PLAN_USER_BUDGET_S = 1.0
TIMES = 5  # best of
IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)")


def best_of(env: dict[str, str], workdir: Path, *args: str) -> CliRun:
    return min((run_profilesync(env, workdir, *args) for _ in range(TIMES)), key=lambda run: run.wall_s)


def top_imports(env: dict[str, str], workdir: Path, *args: str, top: int = 4) -> str:
    """The slowest imports a command makes (``-X importtime``, cumulative, top-level packages only)."""
    run = run_profilesync(env, workdir, *args, python_flags=("-X", "importtime"))
    cumulative: dict[str, int] = {}
    for match in IMPORT_LINE.finditer(run.stderr):
        package = match.group(4).split(".")[0]
        if package not in {"encodings", "site", "profilesync"}:  # the interpreter's own, and the command itself
            cumulative[package] = max(cumulative.get(package, 0), int(match.group(2)))
    slowest = sorted(cumulative.items(), key=lambda item: -item[1])[:top]
    return ", ".join(f"{name} {micros / 1000:.0f} ms" for name, micros in slowest)


def startup(args: argparse.Namespace, workdir: Path) -> list[Timing]:
    """9a: --help; 9b: ``avatars plan --user KEY`` against a small sandbox (one user, changing nothing)."""
    timings = []
    env = cli_env(None, workdir)
    run = best_of(env, workdir, "--help")
    detail = f"heavy modules: {', '.join(run.heavy) or 'none'}; slowest imports: {top_imports(env, workdir, '--help')}"
    timings.append(Timing(f"9a. start-up: --help (best of {TIMES})", run.wall_s, HELP_BUDGET_S, detail, run.heavy))
    with Sandbox(SandboxConfig(users=50, latency_ms=args.latency_ms, seed=9)) as sandbox:
        env = cli_env(sandbox, workdir)
        key = keys_of(sandbox)[0][1]
        write_photos(workdir / "photos", [key])  # an empty photo folder is a safety valve, not a no-op
        plan = ("-q", "avatars", "plan", "--user", key, "--format", "json")
        run = best_of(env, workdir, *plan)
        detail = f"heavy modules: {', '.join(run.heavy) or 'none'}; slowest imports: {top_imports(env, workdir, *plan)}"
    timings.append(Timing(f"9b. start-up: no-op plan --user (best of {TIMES})", run.wall_s, PLAN_USER_BUDGET_S,
                          detail, run.heavy))  # fmt: skip
    return timings
