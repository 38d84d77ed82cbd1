"""Renderings of plans, sync reports and history: table for people, JSON and CSV for scripts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from profilesync.engine.model import Action, Photo, Plan, PlannedAction, RunEvent, RunRecord, SyncRecord, SyncReport
from profilesync.tabular import csv_text, json_text, table
from profilesync.text import plural

if TYPE_CHECKING:
    from profilesync.valve import Verdict

PLAN_COLUMNS = ("key", "user_id", "name", "action", "reason", "photo", "message")
MAX_HINT_LINES = 20  # near-miss photo names listed under the plan table


def action_row(planned: PlannedAction) -> dict[str, Any]:
    return {
        "key": planned.key,
        "user_id": planned.user.user_id if planned.user else None,
        "name": planned.user.name if planned.user else None,
        "action": planned.action.value,
        "reason": planned.reason.value,
        "photo": planned.photo.name if planned.photo else None,
        "message": planned.message,
    }


def plan_counts(plan: Plan) -> dict[str, int]:
    counts = Counter(a.action.value for a in plan.actions)
    return {a.value: counts.get(a.value, 0) for a in Action}


def plan_document(plan: Plan) -> dict[str, Any]:
    return {
        "target": plan.target_id,
        "actions": [action_row(a) for a in plan.actions],
        "counts": plan_counts(plan),
        "reasons": dict(sorted(Counter(a.reason.value for a in plan.actions).items())),
        "unmatched_photos": [unmatched_row(p, plan) for p in plan.unmatched_photos],
    }


def unmatched_row(photo: Photo, plan: Plan) -> dict[str, Any]:
    """A photo matching no user; ``near_miss`` lists the users its name nearly matches, and why."""
    row: dict[str, Any] = {"photo": photo.name, "key": photo.key}
    if photo.key in plan.near_misses:
        row["near_miss"] = [
            {"key": m.key, "user_id": m.user_id, "name": m.name, "why": list(m.why), "has_photo": m.has_photo}
            for m in plan.near_misses[photo.key]
        ]
    return row


def render_plan(plan: Plan, fmt: str, verdict: Verdict | None = None) -> str:
    """The plan; with ``verdict``, also whether the real sync's safety valve would stop it (JSON: the
    ``safety_valve`` field; table: a warning line when it would)."""
    if fmt == "json":
        document = plan_document(plan)
        if verdict is not None:
            document["safety_valve"] = verdict.document()
        return json_text(document)
    if fmt == "csv":
        return csv_text((action_row(a) for a in plan.actions), PLAN_COLUMNS).rstrip("\n")
    # The table shows what will change or needs attention; the thousands of skips are only counted.
    rows = [a for a in plan.actions if a.action is not Action.SKIP]
    warning = [f"warning: the sync would stop here (exit 4): {verdict.message()}"] if verdict and verdict.trips else []
    return "\n".join(([plan_table(rows)] if rows else []) + plan_summary(plan) + warning)


def plan_table(actions: Sequence[PlannedAction]) -> str:
    return table([action_row(a) for a in actions], ("key", "name", "action", "reason", "photo", "message"))


def plan_summary(plan: Plan) -> list[str]:
    """The counts line, and the photos that match nobody."""
    counts = plan_counts(plan)
    reasons = Counter(a.reason.value for a in plan.actions)
    lines = [
        f"{plan.target_id}: {plural(len(plan.actions), 'user')}: "
        + ", ".join(f"{n} {action}" for action, n in counts.items())
        + " ("
        + ", ".join(f"{reason} {n}" for reason, n in sorted(reasons.items()))
        + ")"
    ]
    if plan.unmatched_photos:
        sample = ", ".join(p.name for p in plan.unmatched_photos[:5])
        more = "…" if len(plan.unmatched_photos) > 5 else ""
        verb = "matches" if len(plan.unmatched_photos) == 1 else "match"
        lines.append(f"{plural(len(plan.unmatched_photos), 'photo')} {verb} no user: {sample}{more}")
    # Each near miss is a rename away from a match; past a screenful, the JSON has them all.
    hints = [f"  {p.name}: {m.text()}" for p in plan.unmatched_photos for m in plan.near_misses.get(p.key, ())]
    lines += hints[:MAX_HINT_LINES]
    if len(hints) > MAX_HINT_LINES:
        lines.append(f"  … {len(hints) - MAX_HINT_LINES} more near misses (see --format json)")
    return lines


def sync_document(report: SyncReport) -> dict[str, Any]:
    return {
        "target": report.target_id,
        "counts": report.counts,
        "failures": [{"key": r.planned.key, "reason": r.reason, "message": r.message} for r in report.failures()],
        "requests": {"api": report.requests, "uploads": report.uploads},
        "exit_code": int(report.exit_code),
    }


def render_sync(report: SyncReport, fmt: str) -> str:
    if fmt == "json":
        return json_text(sync_document(report))
    lines = []
    failures = report.failures()
    if failures:
        rows = [{"key": r.planned.key, "reason": r.reason, "message": r.message} for r in failures]
        lines.append(table(rows, ("key", "reason", "message")))
    lines.append(sync_summary(report))
    return "\n".join(lines)


def sync_summary(report: SyncReport) -> str:
    """The sync's counts in one line (the table's last line, and the log file's summary)."""
    c = report.counts
    return (
        f"{report.target_id}: {c.get('uploaded', 0)} uploaded, {c.get('reassigned', 0)} reassigned, "
        f"{c.get('unchanged', 0)} unchanged, {c.get('skipped', 0)} skipped, {c.get('failed', 0)} failed "
        f"({plural(report.requests, 'API request')}, {plural(report.uploads, 'upload')})"
    )


def history_row(record: SyncRecord) -> dict[str, Any]:
    return {
        "target": record.target_id,
        "key": record.key,
        "user_id": record.user_id,
        "synced_at": iso(record.synced_at),
        "photo_sha256": record.photo_sha256,
        "file_id": record.file_id,
        "avatar_url": record.avatar_url,
        "last_error": record.last_error,
        "last_error_at": iso(record.last_error_at),
    }


def render_history(records: Sequence[SyncRecord], fmt: str, events: Sequence[RunEvent] | None = None) -> str:
    """The records; with ``events`` (``--user``), also that user's outcome in each run, newest first."""
    rows = [history_row(r) for r in records]
    if fmt == "json":
        document: dict[str, Any] = {"records": rows}
        if events is not None:
            document["events"] = [event_row(e) for e in events]
        return json_text(document)
    if not rows and not events:
        return "no history yet: run 'profilesync avatars sync'"
    for row, record in zip(rows, records, strict=True):
        row["photo_sha256"] = (row["photo_sha256"] or "")[:12]
        row["synced_at"] = local(record.synced_at)
    columns = ("key", "user_id", "synced_at", "photo_sha256", "file_id", "last_error", "target")
    # A key with only failed events (e.g. a --user naming nobody) has no record: say so, then the events.
    parts = [table(rows, columns) if rows else "no sync record (never synced)"]
    if events is not None:
        parts.append(f"\nrun events ({len(events)}):")
        parts.append(events_table(events) if events else "none")
    return "\n".join(parts)


# -- runs and their events (``avatars runs``, ``avatars history --user``) ---------------------------------------
#: what each exit code means, for people reading ``avatars runs``
EXIT_MEANINGS = {
    0: "ok",
    1: "some failed",
    2: "configuration",
    3: "remote error",
    4: "safety valve",
    5: "locked",
    130: "interrupted",
    143: "terminated",
}
RUN_COUNTS = ("uploaded", "reassigned", "unchanged", "skipped", "failed")


def run_row(run: RunRecord) -> dict[str, Any]:
    duration = (run.ended_at - run.started_at).total_seconds() if run.ended_at else None
    return {
        "run_id": run.run_id,
        "target": run.target_id,
        "command": run.command,
        "started_at": iso(run.started_at),
        "ended_at": iso(run.ended_at),
        "duration_s": round(duration, 1) if duration is not None else None,
        "counts": dict(run.counts),
        "exit_code": run.exit_code,
    }


def render_runs(runs: Sequence[RunRecord], fmt: str) -> str:
    """Recent runs, newest first: when, how long, what they did and how they ended."""
    rows = [run_row(r) for r in runs]
    if fmt == "json":
        return json_text({"runs": rows})
    if not rows:
        return "no runs recorded yet: run 'profilesync avatars sync'"
    cells = []
    for row, run in zip(rows, runs, strict=True):
        code = row["exit_code"]
        status = "unfinished" if code is None else f"{code} {EXIT_MEANINGS.get(code, '')}".rstrip()
        cells.append(
            {
                "run": row["run_id"],
                "started_at": local(run.started_at),
                "took": f"{row['duration_s']:.0f}s" if row["duration_s"] is not None else "-",
                "command": row["command"],
                "exit": status,
                **{name: row["counts"].get(name, 0) for name in RUN_COUNTS},
                "target": row["target"],
            }
        )
    return table(cells, ("run", "started_at", "took", "command", "exit", *RUN_COUNTS, "target"))


def event_row(event: RunEvent) -> dict[str, Any]:
    return {
        "run_id": event.run_id,
        "at": iso(event.at),
        "key": event.key,
        "user_id": event.user_id,
        "outcome": event.outcome,
        "reason": event.reason,
        "message": event.message,
    }


def events_table(events: Sequence[RunEvent]) -> str:
    rows = [event_row(e) | {"at": local(e.at)} for e in events]
    return table(rows, ("at", "run_id", "key", "outcome", "reason", "message"))


def render_run_events(run_id: int, events: Sequence[RunEvent], fmt: str) -> str:
    """One run's events (uploaded, reassigned, failed users; unchanged ones are not logged), failures first."""
    ordered = sorted(events, key=lambda e: e.outcome != "failed")  # stable: newest first within each group
    if fmt == "json":
        return json_text({"run_id": run_id, "events": [event_row(e) for e in ordered]})
    if not ordered:
        return f"run {run_id}: no user events recorded (nothing changed or failed, or no such run)"
    counts = Counter(e.outcome for e in ordered)
    summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
    return events_table(ordered) + f"\nrun {run_id}: {summary}"


def iso(value: datetime | None) -> str | None:
    """For JSON: ISO 8601 with its offset (the history keeps UTC)."""
    return value.isoformat(timespec="seconds") if value else None


def local(value: datetime | None) -> str | None:
    """For tables: this machine's local time, with its zone, e.g. ``2026-12-04 09:15:02 EST``."""
    if value is None:
        return None
    shown = value.astimezone()
    zone = shown.strftime("%Z")
    if not zone or zone[0] in "+-":  # no name for the zone: its offset, e.g. +0530
        zone = shown.strftime("%z")
    return f"{shown:%Y-%m-%d %H:%M:%S} {zone}"
