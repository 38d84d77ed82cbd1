"""Which parents the history answers without a request, and when their links are checked in Canvas again.

A link in the history (``observer_links``) is one profilesync made and saw Canvas confirm. Rerunning the nightly
CSV asks Canvas again only what the history cannot know:

- a row with no link in the history (new in the CSV, not enrolled or not found before, linked by hand): the full
  lookups, as on a first run;
- a parent whose rows all have links: nothing, unless the parent is *due*. A parent is due once every
  ``PROFILESYNC_OBSERVERS_VERIFY_DAYS`` days (7 by default, 0 = every run), on a day picked by a stable hash of the
  email, so each night checks about 1/N of the parents rather than all of them every N nights. A due parent costs
  one request: the list of whom they observe (``GET /users/:parent/observees``), read by the parent's Canvas id
  from the history; if every recorded student is on it the rows are ``already_linked``, otherwise the parent goes
  through the full lookups (a removed link is then reported, as before).
- days are counted from the last *finished* observers sync of this Canvas (an interrupted or failed run does not
  count), so a weekly run checks every parent each time, and a run after a long pause checks everyone;
- a student whose row ended in anything but a link in any run since then (a removed link reported as an error,
  a student no longer found...) keeps every parent of theirs checked on every run until the row settles, so an
  error is never reported one night and hidden the next.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from profilesync.engine.model import ObserverLink
from profilesync.engine.ports import HistoryStore
from profilesync.errors import ExitCode
from profilesync.observers.model import LinkOutcome, Row

COMMAND = "observers sync"  # the run's command in the history (runs.recorded_run)
#: recent runs read to find the last finished observers sync (the avatars jobs' runs are in the same list)
RUNS_READ = 200
FINISHED = frozenset({ExitCode.OK, ExitCode.PARTIAL})  # the run went through every row
#: outcomes that settle a row; already_linked rows are not logged at all
SETTLED = frozenset({LinkOutcome.LINK.value, LinkOutcome.CREATE_PARENT_AND_LINK.value})


@dataclass(frozen=True)
class Schedule:
    """When this run checks a parent's recorded links in Canvas."""

    verify_days: int  # 0: every parent, every run
    today: int  # this run's UTC date, as an ordinal
    last_day: int | None = None  # the last finished observers sync's UTC date; None: never (check everyone)
    unsettled: frozenset[str] = frozenset()  # student keys whose rows did not end linked since then

    def due(self, parent_key: str) -> bool:
        """Whether the parent's links are checked in Canvas this run: their day passed since the last run."""
        if self.verify_days <= 0 or self.last_day is None:
            return True
        elapsed = self.today - self.last_day
        if elapsed >= self.verify_days:
            return True
        # The first day after last_day that is this parent's (day % verify_days == bucket), 0-based.
        first = (_bucket(parent_key, self.verify_days) - self.last_day - 1) % self.verify_days
        return first < elapsed

    def recorded(self, rows: Sequence[Row], history: Mapping[tuple[str, str], ObserverLink]) -> list[ObserverLink]:
        """The links the history holds for all of one parent's rows, to one parent account, with every student
        settled; [] when any row needs Canvas's full answer."""
        links = [history.get((row.student, row.parent_key)) for row in rows]
        found = [link for link in links if link is not None]
        if len(found) != len(rows) or len({link.parent_id for link in found}) != 1:
            return []
        if any(row.student in self.unsettled for row in rows):
            return []
        return found


def _bucket(parent_key: str, verify_days: int) -> int:
    """A parent's day among ``verify_days``: stable across runs and machines (unlike ``hash``)."""
    return zlib.crc32(parent_key.encode("utf-8")) % verify_days


def schedule(store: HistoryStore, target_id: str, verify_days: int, now: datetime) -> Schedule:
    """This run's schedule, from the runs and events the history recorded for ``target_id``."""
    today = now.date().toordinal()
    if verify_days <= 0:
        return Schedule(verify_days, today)
    ours = [r for r in store.runs(RUNS_READ) if r.command == COMMAND and r.target_id == target_id]
    finished = next((r for r in ours if r.exit_code in FINISHED), None)  # runs are newest first
    if finished is None:
        return Schedule(verify_days, today)
    last_day = finished.started_at.date().toordinal()
    if today - last_day >= verify_days:
        return Schedule(verify_days, today, last_day)  # everyone is due: the events change nothing
    # A run's counts say whether any row ended unsettled: most nights none did, and its events need no reading.
    since = [r.run_id for r in ours if r.run_id >= finished.run_id and _unsettled_rows(r.counts)]
    unsettled = {e.key for run_id in since for e in store.events(run_id) if e.outcome not in SETTLED}
    return Schedule(verify_days, today, last_day, frozenset(unsettled))


def _unsettled_rows(counts: Mapping[str, int]) -> bool:
    """Whether a run's counts include rows that ended neither linked nor already linked."""
    return any(n for outcome, n in counts.items() if outcome not in SETTLED | {LinkOutcome.ALREADY_LINKED.value})
