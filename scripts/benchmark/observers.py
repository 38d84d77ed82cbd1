"""Scenario 8: the observers job on --observer-rows CSV rows, a first run (creating and linking) then a second."""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from profilesync_sandbox import Sandbox, SandboxConfig

from .harness import Measure, cli_env, counts, keys_of, run_profilesync

HEADER = "student_sis_id,parent_email,parent_first_name,parent_last_name"
#: every SIBLINGS-th student shares the previous student's parents, as families with two children do
SIBLINGS = 4


def parents_csv(students: list[str]) -> str:
    """Two parent rows per student (one per parent); siblings' rows name the same two parents."""
    lines = [HEADER]
    family = 0
    for index, student in enumerate(students):
        if index % SIBLINGS != 1:
            family = index
        lines.append(f"{student},mother{family}@families.example.org,Ana,Family{family}")
        lines.append(f"{student},father{family}@families.example.org,Ben,Family{family}")
    return "\n".join(lines) + "\n"


def observers(args: argparse.Namespace, workdir: Path) -> list[Measure]:
    """8a: the first run creates every parent and links them; 8b: the second run finds nothing to do."""
    config = SandboxConfig(users=args.observer_rows // 2, latency_ms=args.latency_ms, unenrolled_rate=0.0, seed=8)
    measures = []
    with Sandbox(config) as sandbox:
        csv_file = workdir / "parents.csv"
        csv_file.write_text(parents_csv([key for _, key in keys_of(sandbox)]))
        rows = csv_file.read_text().count("\n") - 1
        for name in ("8a. observers: first run", "8b. observers: second run"):
            sandbox.state.reset_counts()
            run = run_profilesync(cli_env(sandbox, workdir), workdir, "-q", "observers", "sync", str(csv_file),
                                  "--format", "json")  # fmt: skip
            api, _, throttled = counts(sandbox)
            outcomes = Counter(row["outcome"] for row in run.json()["rows"])
            failed = sum(n for outcome, n in outcomes.items() if outcome.startswith("fail"))
            # every CSV row is the unit here: requests per row, not per changed user; no latency floor is claimed
            measure = Measure(name, rows, rows, api, 0, throttled, failed, run.wall_s, 0.0, run.rss_mb, per_run=0)
            measure.notes.append(f"{rows} CSV rows; " + ", ".join(f"{k} {n}" for k, n in sorted(outcomes.items())))
            measures.append(measure)
    return measures
