"""Renderings of an observers plan or sync: a table for people, JSON and CSV for scripts (DESIGN.md §2)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from profilesync.observers.model import Outcome
from profilesync.observers.run import ObserversReport
from profilesync.report import table
from profilesync.text import plural

COLUMNS = ("row", "student", "parent", "outcome", "message")


def document(report: ObserversReport) -> dict[str, Any]:
    """``{"rows": [...], "counts": {...}}``, plus the target, the method and the requests made."""
    return {
        "rows": [r.document() for r in report.results],
        "counts": report.counts(),
        "target": report.target_id,
        "method": report.method.value,
        "requests": {"api": report.requests},
    }


def render(report: ObserversReport, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(document(report), indent=2, ensure_ascii=False)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(r.document() for r in report.results)
        return out.getvalue().rstrip("\n")
    # Rows already linked are the nightly bulk: counted, not listed.
    rows = [r.document() for r in report.results if r.outcome is not Outcome.ALREADY_LINKED]
    return "\n".join(([table(rows, COLUMNS)] if rows else []) + [summary(report)])


def summary(report: ObserversReport) -> str:
    counts = ", ".join(f"{n} {outcome}" for outcome, n in report.counts().items() if n)
    what = "sync" if report.applied else "plan (nothing was changed)"
    return (
        f"{report.target_id}: observers {what}, method {report.method.value}: "
        f"{plural(len(report.results), 'row')}: {counts or 'nothing to do'} ({plural(report.requests, 'API request')})"
    )
