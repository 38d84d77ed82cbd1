"""What every ``profilesync doctor`` check is made of, whichever job it checks.

A check is a :class:`Check` (pass, warn, fail or skip, a detail line, advice and the exit code a failure stands
for); a :class:`Diagnosis` is all of them in order. Also here: what the Canvas and the Guru checks share (the
quick retry, the history database's check, a short sample of names).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

from sqlalchemy.exc import SQLAlchemyError

from profilesync.config import Settings
from profilesync.domain import Crop
from profilesync.engine.ports import HistoryStore
from profilesync.errors import ExitCode, ProfilesyncError
from profilesync.http import Retry
from profilesync.store import open_store
from profilesync.store.migrations import MIGRATIONS

# Doctor should answer within seconds: one quick retry, not the nightly run's patient backoff.
PROBE_RETRY = Retry(attempts=1, base_delay_s=0.2, max_delay_s=1.0, max_throttle_wait_s=60.0)
SAMPLE_NAMES = 5
DATABASE = "history database"


class Status(str, Enum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"  # not run, because an earlier check it depends on failed


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report."""

    name: str
    status: Status
    detail: str
    advice: str | None = None
    exit_code: ExitCode = ExitCode.OK  # what a failure of this check means (errors.ExitCode)


def crop_problem(settings: Settings) -> tuple[str, str] | None:
    """(detail, advice) when PROFILESYNC_CROP=face cannot find faces here; the sync then cuts as portraits."""
    if settings.crop is not Crop.FACE:
        return None
    from profilesync.photos import faces  # loads OpenCV: only when the face cut is asked for

    if faces.available():
        return None
    return "PROFILESYNC_CROP=face but no face detector is installed (photos are cut as portraits)", faces.INSTALL_ADVICE


def passed(name: str, detail: str) -> Check:
    return Check(name, Status.PASS, detail)


def warned(name: str, detail: str, advice: str | None = None) -> Check:
    return Check(name, Status.WARN, detail, advice)


def failed(name: str, detail: str, advice: str | None, code: ExitCode) -> Check:
    return Check(name, Status.FAIL, detail, advice, code)


def skipped(name: str, why: str) -> Check:
    return Check(name, Status.SKIP, f"not checked: {why}")


@dataclass
class Diagnosis:
    """Every check, in the order shown, and the exit code they add up to."""

    checks: list[Check] = field(default_factory=list)
    title: str = "profilesync doctor"
    command: str = "profilesync avatars sync"  # what the admin runs once every check passed

    @property
    def exit_code(self) -> ExitCode:
        """0 unless a check failed; then the most basic failure's code (configuration before Canvas before
        photos): fixing that one first is what the admin should do."""
        codes = [c.exit_code for c in self.checks if c.status is Status.FAIL]
        return min(codes) if codes else ExitCode.OK


def sample(names: Sequence[str]) -> str:
    """The first few names, with "…" when there are more."""
    return ", ".join(names[:SAMPLE_NAMES]) + ("…" if len(names) > SAMPLE_NAMES else "")


def open_history(settings: Settings) -> tuple[Check, HistoryStore | None]:
    """Open (and migrate) the history database; report where it is and its last run."""
    try:
        store = open_store(settings.database_url)
    except ProfilesyncError as exc:
        return failed(DATABASE, exc.message, exc.advice, ExitCode.USAGE), None
    shown = str(getattr(store, "display_url", settings.database_url or "memory"))
    detail = f"{shown}, schema version {len(MIGRATIONS)} (current)"
    try:
        runs = store.runs(limit=1)
    except SQLAlchemyError as exc:
        store.close()
        return failed(DATABASE, f"{shown}: {exc.__class__.__name__}", "check the database server", ExitCode.USAGE), None
    if not runs:
        return passed(DATABASE, f"{detail}; no run recorded yet"), store
    last = runs[0]
    when = last.started_at.isoformat(timespec="seconds")
    if last.ended_at is None:
        return warned(
            DATABASE,
            f"{detail}; the last run (#{last.run_id}, started {when}) has not finished",
            "if no run is going on now, it was killed: the next run repairs what it left",
        ), store
    return passed(DATABASE, f"{detail}; last run #{last.run_id} started {when}, exit {last.exit_code}"), store
