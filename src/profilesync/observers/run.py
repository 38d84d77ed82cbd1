"""Wires the CSV, Canvas, the history store, the lock and the clock for ``observers plan`` and ``sync``.

The command calls one function here and renders what it returns; nothing here prints.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from profilesync.config import Settings, require_canvas
from profilesync.engine.model import ObserverLink, RunEvent
from profilesync.engine.ports import HistoryStore
from profilesync.errors import ExitCode
from profilesync.interrupt import Stop
from profilesync.observers.csvfile import read_csv
from profilesync.observers.executor import Job, run_rows
from profilesync.observers.model import LINK_FAILURES, LinkOutcome, Method, RowResult
from profilesync.observers.trust import schedule
from profilesync.runs import DEFAULT_WORKERS, Run, Tally, now_utc, opened_store, recorded_run
from profilesync.store.lock import OBSERVERS
from profilesync.targets.canvas.build import observers_client
from profilesync.targets.canvas.history import known_links
from profilesync.targets.canvas.observers import ObserverCanvas


@dataclass(frozen=True, kw_only=True)
class ObserversRequest:
    """What the admin asked for on the command line."""

    csv_path: Path
    method: Method = Method.DIRECT
    notify: bool = False  # have Canvas email each new parent a link to finish registering
    workers: int | None = None


@dataclass
class ObserversReport:
    """What a plan would do, or what a sync did, row by row."""

    target_id: str
    method: Method
    applied: bool  # False for plan and --dry-run
    results: list[RowResult] = field(default_factory=list)
    requests: int = 0  # Canvas API requests made
    exit_code: ExitCode = ExitCode.OK

    def counts(self) -> dict[str, int]:
        found = Counter(r.outcome for r in self.results)
        return {o.value: found.get(o, 0) for o in LinkOutcome}

    def failures(self) -> list[RowResult]:
        return [r for r in self.results if r.outcome in LINK_FAILURES]


def build_canvas(settings: Settings, request: ObserversRequest) -> ObserverCanvas:
    base_url, token = require_canvas(settings)
    return observers_client(
        base_url,
        token,
        account_id=settings.canvas_account_id,
        max_in_flight=_workers(settings, request),
        timeout_s=settings.timeout_s,
    )


def _workers(settings: Settings, request: ObserversRequest) -> int:
    return request.workers or settings.workers or DEFAULT_WORKERS


def _history(store: HistoryStore, canvas: ObserverCanvas, *, apply: bool) -> dict[tuple[str, str], ObserverLink]:
    """The links earlier syncs made, by (student key, lower-cased parent email), under this Canvas's name or a
    former URL-based one (re-filed under the new name by a sync)."""
    links = known_links(store, canvas.target_id, canvas.base_url, apply=apply)
    return {(lk.student_key, lk.parent_email): lk for lk in links}


def observers_plan(settings: Settings, request: ObserversRequest) -> ObserversReport:
    """``observers plan`` / ``sync --dry-run``: what a sync would do; no change anywhere."""
    parsed = read_csv(request.csv_path)  # a bad layout stops here, before any request (exit 2)
    canvas = build_canvas(settings, request)
    report = ObserversReport("", request.method, applied=False)  # named once Canvas has answered
    with opened_store(settings) as store:
        try:
            canvas.check_access()
            report.target_id = canvas.target_id
            history = _history(store, canvas, apply=False)
            job = Job(
                canvas=canvas,
                method=request.method,
                apply=False,
                history=history,
                workers=_workers(settings, request),
                schedule=schedule(store, canvas.target_id, settings.observers_verify_days, now_utc()),
            )
            report.results = sorted(parsed.invalid + run_rows(parsed.rows, job), key=lambda r: r.row.number)
            canvas.check_lookups()
        finally:
            report.requests = canvas.requests_made
    return report


def observers_sync(settings: Settings, request: ObserversRequest, stop: Stop | None = None) -> ObserversReport:
    """``observers sync``: lock, look up, create and link what is missing, record the run.

    ``stop`` carries SIGINT/SIGTERM: no new parent starts, the run is recorded with the signal's exit code
    and the rows really done, and RunInterrupted propagates.
    """
    parsed = read_csv(request.csv_path)
    canvas = build_canvas(settings, request)
    job_stop = stop if stop is not None else Stop()
    report = ObserversReport("", request.method, applied=True)  # named once the lock is held
    done: list[RowResult] = []  # filled as parents finish, so a stopped run still records what it did

    def tally(run: Run) -> Tally:
        if run.interrupted:
            report.results = sorted(parsed.invalid + done, key=lambda r: r.row.number)
        report.requests = canvas.requests_made
        _log_events(store, run.run_id, report)
        return Tally(report.counts(), failed=bool(report.failures()))

    with (
        opened_store(settings) as store,
        recorded_run(store, canvas, job=OBSERVERS, command="observers sync", stop=job_stop, tally=tally) as run,
    ):
        report.target_id = run.target_id
        history = _history(store, canvas, apply=True)
        canvas.check_access()
        job = Job(
            canvas=canvas,
            method=request.method,
            apply=True,
            history=history,
            store=store,
            clock=now_utc,
            workers=_workers(settings, request),
            notify=request.notify,
            stop=job_stop,
            schedule=schedule(store, run.target_id, settings.observers_verify_days, now_utc()),
        )
        report.results = sorted(parsed.invalid + run_rows(parsed.rows, job, done), key=lambda r: r.row.number)
        canvas.check_lookups()
    report.exit_code = ExitCode(run.exit_code)
    return report


def _log_events(store: HistoryStore, run_id: int, report: ObserversReport) -> None:
    """One run event per row that changed something or needs attention (already linked rows are not logged)."""
    at = now_utc()
    for result in report.results:
        if result.outcome is LinkOutcome.ALREADY_LINKED:
            continue
        message = f"row {result.row.number}, parent {result.row.email}" + (
            f": {result.message}" if result.message else ""
        )
        key = result.row.student or f"row {result.row.number}"
        store.log_event(RunEvent(run_id, key, result.student_id, result.outcome.value, None, message, at))
