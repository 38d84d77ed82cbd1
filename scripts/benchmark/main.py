"""The command line: which scenarios to run at which sizes, and where the report goes."""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from . import avatars, listing, observers, seed, startup
from .harness import Measure, Timing
from .report import kept_analysis, render, table, timings_table

ROOT = Path(__file__).resolve().parents[2]
Scenario = Callable[[argparse.Namespace, Path], list[Measure] | list[Timing] | tuple[list[Measure], list[Timing]]]
#: the scenarios by their stable names (--only), in the order a full run takes them
SCENARIOS: dict[str, Scenario] = {
    "steady": avatars.steady_state,
    "large": avatars.large,
    "first": avatars.first_syncs,
    "pipelined": avatars.pipelined,
    "throttle": avatars.throttle_bound,
    "seed": seed.baseline,
    "listing": listing.listing_both_ways,
    "observers": observers.observers,
    "startup": startup.startup,
}
#: --quick sizes: a smoke test of the script itself, in about two minutes
QUICK = {
    "latency_ms": 10.0, "steady_users": 500, "large_users": 1_000, "first_users": 100, "pipelined_users": 1_000,
    "pipelined_changed": 100, "throttle_users": 100, "throttle_changed": 80, "observer_rows": 400,
}  # fmt: skip


def parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--steady-users", type=int, default=20_000, help="scenarios 1, 3, 4a and 6")
    parser.add_argument("--large-users", type=int, default=100_000, help="scenarios 1b and 7")
    parser.add_argument("--first-users", type=int, default=2_000, help="scenarios 2 and 4b")
    parser.add_argument("--pipelined-users", type=int, default=20_000, help="scenario 2b: users listed")
    parser.add_argument("--pipelined-changed", type=int, default=2_000, help="scenario 2b: users with new photos")
    parser.add_argument("--throttle-users", type=int, default=1_000, help="scenario 5")
    parser.add_argument("--throttle-changed", type=int, default=800, help="scenario 5")
    parser.add_argument("--heavy-cost", type=float, default=0.5, help="per-request cost for scenario 5")
    parser.add_argument("--baseline-sample", type=float, default=0.1, help="scenario 4: share of users measured")
    parser.add_argument("--observer-rows", type=int, default=20_000, help="scenario 8: CSV rows (2 per student)")
    parser.add_argument("--only", default=",".join(SCENARIOS), metavar="NAME[,NAME...]",
                        help=f"run only these scenarios: {', '.join(SCENARIOS)}")  # fmt: skip
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke test); does not write --out")
    return parser


def main(description: str, argv: list[str] | None = None) -> None:
    args = parser(description).parse_args(argv)
    if args.quick:
        vars(args).update(QUICK)
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    if unknown := [name for name in chosen if name not in SCENARIOS]:
        raise SystemExit(f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")

    measures: list[Measure] = []
    timings: list[Timing] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in (name for name in SCENARIOS if name in chosen):
            workdir = Path(tmp) / name
            workdir.mkdir()
            print(f"running {name}…", file=sys.stderr, flush=True)
            result = SCENARIOS[name](args, workdir)
            items: list[Measure | Timing] = [*result[0], *result[1]] if isinstance(result, tuple) else [*result]
            done = [item for item in items if isinstance(item, Measure)]
            timed = [item for item in items if isinstance(item, Timing)]
            # each scenario's rows as soon as it ends: a long run stopped late still leaves its numbers
            print(*([table(done)] if done else []), *([timings_table(timed)] if timed else []), sep="\n",
                  file=sys.stderr, flush=True)  # fmt: skip
            measures += done
            timings += timed
    report = render(measures, timings, args)
    print(report)
    # a partial run (--quick, --only) would overwrite the full table with fewer rows
    if not args.quick and len(chosen) == len(SCENARIOS):
        args.out.write_text(report + "\n" + kept_analysis(args.out))
        print(f"written to {args.out}", file=sys.stderr)
