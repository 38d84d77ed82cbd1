"""scripts/bench.py: its floors, the targets it judges, the report it keeps, and a small real run."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))  # the benchmark package lives beside scripts/bench.py, not in src

from benchmark.harness import Measure, Timing, first_sync_floors, reachable_throttle_floor  # noqa: E402
from benchmark.main import SCENARIOS, main  # noqa: E402
from benchmark.report import ANALYSIS_MARKER, kept_analysis, render, targets  # noqa: E402


def args(**overrides: object) -> argparse.Namespace:
    return argparse.Namespace(latency_ms=50.0, heavy_cost=0.5, **overrides)


def test_first_sync_latency_floor_spreads_three_requests_over_eleven_in_flight() -> None:
    """2,000 of 20,000 users changed: 200 pages × L + 3 × 2,000 × L / 11, and no throttle floor at cost 0.05."""
    latency, throttle = first_sync_floors(200, 2_000, 0.05, 0.05)
    assert latency == pytest.approx(200 * 0.05 + 3 * 2_000 * 0.05 / 11)
    assert throttle == 0.0


def test_throttle_floor_is_the_cost_beyond_an_empty_bucket_at_ten_per_second() -> None:
    """Scenario 5's sizes: (10 + 3 × 800) × 0.5 − 550, leaked at 10 per second, is 65.5 s."""
    assert first_sync_floors(10, 800, 0.05, 0.5)[1] == pytest.approx(65.5)


def test_reachable_throttle_floor_leaves_two_reservations_of_room_at_fifty_ms() -> None:
    """At 50 ms a request's 0.5 fills the bucket no faster than it leaks: 500 (not 550) can be left, 70.5 s; at
    25 ms one request in flight fills it, and the reachable floor is the floor."""
    assert reachable_throttle_floor(10, 800, 0.05, 0.5) == pytest.approx(70.5)
    assert reachable_throttle_floor(10, 800, 0.025, 0.5) == pytest.approx(first_sync_floors(10, 800, 0.025, 0.5)[1])


def test_requests_per_changed_user_leave_out_the_listing_and_the_runs_own() -> None:
    """A first sync of 100 users: 1 page and 2 per-run requests are not charged to the users."""
    assert Measure("2. first sync", 100, 100, 303, 100, 0, 0, 1.0, 1.0).per_changed == pytest.approx(3.0)


def test_observer_rows_are_charged_every_request() -> None:
    """Observers have no listing: requests per CSV row are all the requests over the rows."""
    assert Measure("8b. observers", 400, 400, 2, 0, 0, 0, 1.0, 0.0, per_run=0).per_changed == pytest.approx(0.005)


def test_a_large_steady_state_is_held_to_the_100_mb_budget() -> None:
    """Scenario 1b: 1,002 requests for 100,000 users hold, 120 MB does not."""
    large = Measure("1b. steady state, large", 100_000, 0, 1_002, 0, 0, 0, 55.0, 50.0, rss_mb=120.0)
    holds = {name: ok for name, _, ok in targets([large], [])}
    assert holds["steady state, 100,000 users: requests ≤ ceil(users/100) + 2"]
    assert holds["steady state, 100,000 users: wall ≤ 1.15 × pages × latency"]
    assert not holds["steady state, 100,000 users: peak memory < 100 MB"]


def test_a_partial_run_judges_only_the_targets_of_its_scenarios() -> None:
    """With only start-up measured, no avatar target appears and the report still renders."""
    help_run = Timing("9a. start-up: --help (best of 5)", 0.25, 0.3, "heavy modules: none", [])
    rows = targets([], [help_run])
    assert [ok for _, _, ok in rows] == [True, True]
    assert "9a. start-up" in render([], [help_run], args())


def test_a_new_report_keeps_the_hand_written_analysis(tmp_path: Path) -> None:
    """Everything from the marker line on survives a new run."""
    out = tmp_path / "benchmarks.md"
    out.write_text(f"# old table\n\n{ANALYSIS_MARKER}\n\nWhy the numbers are what they are.\n")
    assert kept_analysis(out) == f"\n{ANALYSIS_MARKER}\n\nWhy the numbers are what they are.\n"


def test_an_unknown_scenario_name_is_refused() -> None:
    """--only takes the documented names only."""
    with pytest.raises(SystemExit, match="unknown scenario"):
        main("", ["--only", "steady,warp"])


def test_every_scenario_is_named_in_the_scripts_docstring() -> None:
    """The --only names are documented where `bench.py --help` shows them."""
    docstring = (ROOT / "scripts" / "bench.py").read_text().split('"""')[1]
    assert all(f"\n  {name} " in docstring for name in SCENARIOS)


def test_a_quick_listing_run_prints_its_table(tmp_path: Path) -> None:
    """The real script, one small scenario: the listing both ways, and their targets, without writing --out."""
    out = tmp_path / "benchmarks.md"
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench.py"), "--quick", "--only", "listing", "--out", str(out)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert "| 6b. listing, sort=id bookmarks | 500 | 0 | 5 |" in done.stdout
    assert "| listing by sort=id bookmarks: requests = ceil(users/100) | 5 = 5 | yes |" in done.stdout
    assert not out.exists()
