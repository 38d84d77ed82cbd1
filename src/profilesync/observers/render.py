"""Renderings of an observers plan or sync: a table for people, JSON and CSV for scripts (docs/design.md §2)."""

from __future__ import annotations

from typing import Any

from profilesync.notify.message import RunSummary, failure
from profilesync.observers.model import LinkOutcome, RowResult
from profilesync.observers.run import ObserversReport
from profilesync.tabular import excel_csv, json_text, table
from profilesync.text import plural

COLUMNS = ("row", "student", "parent", "outcome", "message")
CSV_COLUMNS = (*COLUMNS, "parent_columns")  # the wide layout's group ("Mother", "Guardian 1"); empty otherwise


def document(report: ObserversReport) -> dict[str, Any]:
    """``{"rows": [...], "counts": {...}}``, plus the target, the method and the requests made."""
    return {
        "rows": [r.document() for r in in_file_order(report)],
        "counts": report.counts(),
        "target": report.target_id,
        "method": report.method.value,
        "requests": {"api": report.requests},
    }


def in_file_order(report: ObserversReport) -> list[RowResult]:
    """The results by row, and a wide row's parents left to right (rows are finished in any order)."""
    return sorted(report.results, key=lambda r: r.row.order)


def render(report: ObserversReport, fmt: str) -> str:
    if fmt == "json":
        return json_text(document(report))
    if fmt == "csv":
        return render_csv(report).decode("utf-8-sig")
    # Rows already linked are the nightly bulk: counted, not listed.
    rows = [r.document() for r in in_file_order(report) if r.outcome is not LinkOutcome.ALREADY_LINKED]
    columns = (*COLUMNS[:3], "parent_columns", *COLUMNS[3:]) if any("parent_columns" in r for r in rows) else COLUMNS
    return "\n".join(([table(rows, columns)] if rows else []) + [summary(report)])


def render_csv(report: ObserversReport) -> bytes:
    """The rows as a CSV file Excel opens right (parents' names included)."""
    return excel_csv((r.document() for r in in_file_order(report)), CSV_COLUMNS)


def summary(report: ObserversReport) -> str:
    counts = ", ".join(f"{n} {outcome}" for outcome, n in report.counts().items() if n)
    what = "sync" if report.applied else "plan (nothing was changed)"
    return (
        f"{report.target_id}: observers {what}, method {report.method.value}: "
        f"{plural(len(report.results), 'row')}: {counts or 'nothing to do'} ({plural(report.requests, 'API request')})"
    )


def notify_summary(report: ObserversReport) -> RunSummary:
    """The delivered report (PROFILESYNC_NOTIFY): the summary line, and each failed row as the log file names it."""
    failures = [
        failure(f"row {r.row.number} ({r.row.student}, {r.row.email})", r.outcome.value, r.message)
        for r in report.failures()
    ]
    return RunSummary(
        command="observers sync", exit_code=int(report.exit_code), counts=summary(report), failures=failures
    )
