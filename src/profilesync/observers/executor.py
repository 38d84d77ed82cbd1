"""Runs the rows: one task per parent, tasks in parallel, a parent's rows in order inside its task.

Per parent (one task, so two rows of one parent never race to create the same account):
0. when the history holds links for all the parent's rows (:mod:`profilesync.observers.trust`): nothing to ask
   unless the parent is due a check, then one listing of whom they observe; only a link missing from it sends
   the parent through the steps below;
1. look the parent up by login (``sis_login_id:``) and, if found, list whom they observe;
2. per row: the student by SIS id (skipped when the observees list already names that SIS id), then, only
   when the decision hinges on it, whether the student is enrolled — each student looked up once per run,
   whichever task asks first;
3. decide (:mod:`profilesync.observers.planner`), and for a sync, apply: create the parent at their first row
   that links, link, check Canvas's answer, record the link.

The parents run on the engine's :class:`~profilesync.engine.pool.Pool`: a ``FatalRemoteError`` (bad token…) or a
stop request (SIGINT/SIGTERM, ``Job.stop``) starts no new parent nor row, and ends the run as the pool says.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from profilesync.engine.model import CanvasUser, ObserverLink
from profilesync.engine.pool import Pool
from profilesync.engine.ports import HistoryStore
from profilesync.errors import RemoteError
from profilesync.interrupt import Stop
from profilesync.observers.model import LinkOutcome, Method, Row, RowResult
from profilesync.observers.planner import (
    NEEDS_ENROLLMENT,
    LinkDecision,
    decide_link,
    plan_parent,
)
from profilesync.observers.trust import Schedule
from profilesync.targets.canvas.observers import NotEnrolledError, ObserverCanvas

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Once(Generic[K, V]):
    """``fn(key)`` computed once per key however many threads ask at the same time; errors are kept too."""

    def __init__(self, fn: Callable[[K], V]) -> None:
        self._fn = fn
        self._lock = threading.Lock()
        self._results: dict[K, Future[V]] = {}

    def __call__(self, key: K) -> V:
        with self._lock:
            future = self._results.get(key)
            mine = future is None
            if future is None:
                future = self._results[key] = Future()
        if mine:
            try:
                future.set_result(self._fn(key))
            except BaseException as exc:  # handed to every caller of this key, this one included
                future.set_exception(exc)
        return future.result()


@dataclass(frozen=True)
class Job:
    """Everything the executor needs besides the rows."""

    canvas: ObserverCanvas
    method: Method
    apply: bool  # False for plan and --dry-run: lookups only
    history: Mapping[tuple[str, str], ObserverLink]  # (student key, lower-cased email) → link we made
    store: HistoryStore | None = None  # where verified links are recorded (sync only)
    clock: Callable[[], datetime] = datetime.now
    workers: int = 16
    notify: bool = False
    stop: Stop = field(default_factory=Stop)  # SIGINT/SIGTERM: no new parent or row starts
    schedule: Schedule | None = None  # when recorded links are checked again; None: every parent, fully


def group_by_parent(rows: list[Row]) -> list[list[Row]]:
    """Rows per parent (emails compared case-insensitively), parents in order of first appearance."""
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(row.parent_key, []).append(row)
    return list(groups.values())


def run_rows(rows: list[Row], job: Job, results: list[RowResult] | None = None) -> list[RowResult]:
    """Plan (and with ``job.apply``, carry out) every valid row; results in row order.

    ``results`` receives each parent's results as the parent finishes: an interrupted run still knows them.
    """
    results = [] if results is None else results
    lock = threading.Lock()

    def unexpected(parent: _Parent, exc: Exception) -> list[RowResult]:
        log.exception("unexpected error for parent %s", parent.rows[0].email)
        message = f"unexpected error: {type(exc).__name__}: {exc}"
        return parent.done + [RowResult(row, LinkOutcome.ERROR, message) for row in parent.rows[len(parent.done) :]]

    def finished(_parent: _Parent, done: list[RowResult]) -> None:
        with lock:
            results.extend(done)

    def complete() -> bool:
        with lock:
            return len(results) == len(rows)

    def work(parent: _Parent) -> list[RowResult]:
        return runner.parent(parent.rows, parent.done)

    pool: Pool[_Parent, list[RowResult]] = Pool(
        work=work,
        failed=unexpected,
        finished=finished,
        workers=job.workers,
        stop=job.stop,
        thread_name="observers",
    )
    runner = _Runner(job, pool.stopped)
    pool.run((_Parent(group) for group in group_by_parent(rows)), complete)
    return sorted(results, key=lambda r: r.row.number)


@dataclass(frozen=True)
class _Parent:
    """One parent's rows, and their results so far (an unexpected error fails only the rows not done)."""

    rows: list[Row]
    done: list[RowResult] = field(default_factory=list)


@dataclass(frozen=True)
class _Planned:
    result: RowResult
    student: CanvasUser | None


class _Runner:
    def __init__(self, job: Job, stopped: Callable[[], bool]) -> None:
        self.job = job
        self.stopped = stopped  # a fatal error or a signal: start nothing new
        self.find_student = Once(job.canvas.find_student)
        self.is_enrolled = Once(job.canvas.is_enrolled)

    # -- planning --------------------------------------------------------------------------------------
    def parent(self, rows: list[Row], done: list[RowResult]) -> list[RowResult]:
        """Decide, and when applying carry out, one parent's rows; results are appended to ``done``, returned."""
        canvas = self.job.canvas
        if self._answered_by_history(rows, done):
            return done
        try:
            parent = canvas.find_login(rows[0].email)
            observed = canvas.observees(parent.id) if parent is not None else {}
        except RemoteError as exc:
            done += [RowResult(row, LinkOutcome.ERROR, str(exc)) for row in rows]
            return done
        planned = [self._plan_row(row, parent, observed) for row in rows]
        adjusted = plan_parent([p.result for p in planned])
        planned = [_Planned(result, p.student) for result, p in zip(adjusted, planned, strict=True)]
        if not self.job.apply:
            done += [p.result for p in planned]
            return done
        _Apply(self, parent).rows(planned, done)
        return done

    def _answered_by_history(self, rows: list[Row], done: list[RowResult]) -> bool:
        """When the history's links answer all the parent's rows (checked in Canvas if the parent is due), their
        ``already_linked`` results go to ``done`` and True is returned; False sends them through the lookups."""
        schedule = self.job.schedule
        links = schedule.recorded(rows, self.job.history) if schedule is not None else []
        if not links:
            return False
        if schedule is not None and schedule.due(rows[0].parent_key):
            try:
                observed = self.job.canvas.observees(links[0].parent_id)
            except RemoteError:  # the account is gone, or Canvas failed: the full lookups say which
                return False
            if any(link.student_id not in observed for link in links):
                return False
        done += [
            RowResult(row, LinkOutcome.ALREADY_LINKED, None, link.student_id, link.parent_id)
            for row, link in zip(rows, links, strict=True)
        ]
        return True

    def _plan_row(self, row: Row, parent: CanvasUser | None, observed: Mapping[str, str | None]) -> _Planned:
        parent_id = parent.id if parent else None
        try:
            # The observees list carries each student's SIS id (docs/canvas.md §14.3): a linked student needs no lookup.
            by_sis = next((sid for sid, sis in observed.items() if sis == row.student), None)
            student = CanvasUser(by_sis) if by_sis is not None else self.find_student(row.student)
            linked = student is not None and student.id in observed
            previous = self.job.history.get((row.student, row.parent_key))

            def decide_with(enrolled: bool | None) -> LinkDecision:
                return decide_link(
                    row, student=student, parent=parent, linked=linked, enrolled=enrolled, previous=previous
                )

            decision = decide_with(None)
            if decision is NEEDS_ENROLLMENT and student is not None:
                decision = decide_with(self.is_enrolled(student.id))
        except RemoteError as exc:
            return _Planned(RowResult(row, LinkOutcome.ERROR, str(exc), parent_id=parent_id), None)
        student_id = student.id if student else None
        return _Planned(RowResult(row, decision.outcome, decision.message, student_id, parent_id), student)


class _Apply:
    """Carries out one parent's planned rows in order."""

    def __init__(self, runner: _Runner, parent: CanvasUser | None) -> None:
        self.job = runner.job
        self.stopped = runner.stopped
        self.parent = parent
        self.created_on: int | None = None  # the row whose run created the parent's account
        self.parent_error: str | None = None

    def rows(self, planned: list[_Planned], done: list[RowResult]) -> None:
        for item in planned:
            if self.stopped():
                return
            result = item.result
            if result.outcome in (LinkOutcome.CREATE_PARENT_AND_LINK, LinkOutcome.LINK) and item.student is not None:
                result = self.link(result.row, item.student)
            done.append(result)

    def link(self, row: Row, student: CanvasUser) -> RowResult:
        canvas, method = self.job.canvas, self.job.method
        try:
            # The seed's order: the code first, so an unenrolled student never gets a parent account created.
            code = canvas.pairing_code(student.id) if method is Method.PAIRING_CODE else None
        except NotEnrolledError as exc:
            return RowResult(row, LinkOutcome.STUDENT_NOT_ENROLLED, exc.message, student.id)
        except RemoteError as exc:
            return RowResult(row, LinkOutcome.ERROR, str(exc), student.id)
        created_now, note = False, None
        if self.parent is None:
            if self.parent_error is not None:
                message = f"the parent account could not be created: {self.parent_error}"
                return RowResult(row, LinkOutcome.ERROR, message, student.id)
            try:
                self.parent, created_now = self._create_or_reuse(row)
            except RemoteError as exc:
                self.parent_error = str(exc)
                return RowResult(row, LinkOutcome.ERROR, str(exc), student.id)
            note = (
                f"created the parent account (Canvas user {self.parent.id})"
                if created_now
                else f"{row.email} turned out to have a Canvas account already: reused it"
            )
        elif self.created_on is not None:
            note = f"parent account created on row {self.created_on}"
        parent = self.parent
        try:
            if code is None:
                canvas.link_direct(parent.id, student.id)
            else:
                canvas.link_with_code(parent.id, student.id, code)
        except RemoteError as exc:
            message = str(exc) + (" (the parent account was created)" if created_now else "")
            return RowResult(row, LinkOutcome.ERROR, message, student.id, parent.id)
        if created_now:
            self.created_on = row.number
        if self.job.store is not None:
            link = ObserverLink(
                self.job.canvas.target_id, row.student, row.parent_key, student.id, parent.id, method.value,
                self.job.clock(),
            )  # fmt: skip
            self.job.store.record_observer_link(link)
        outcome = LinkOutcome.CREATE_PARENT_AND_LINK if created_now else LinkOutcome.LINK
        return RowResult(row, outcome, note, student.id, parent.id)

    def _create_or_reuse(self, row: Row) -> tuple[CanvasUser, bool]:
        """Create the parent's account; a login Canvas calls taken is looked up and reused
        (docs/canvas.md §16.2 step 3)."""
        canvas = self.job.canvas
        created = canvas.create_parent(row.email, row.first_name, row.last_name, notify=self.job.notify)
        if created is not None:
            return created, True
        existing = canvas.find_login(row.email)
        if existing is None:
            raise RemoteError(
                f"Canvas says the login {row.email} is taken, but no user has it in this account",
                advice="it may belong to another authentication provider; look the login up in Canvas",
            )
        return existing, False
