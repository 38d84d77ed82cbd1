"""The "far more than usual" safety valve: decided once, here, for ``sync`` (which stops) and for ``plan`` and
``sync --dry-run`` (which say in advance whether the real sync would stop).

Routine work never counts: new users (finishing an interrupted first sync, or a new intake), the monthly
refresh (stale) and the one-time locks after PROFILESYNC_LOCK_AVATARS is turned on (reassign/lock). What counts
is what a renamed photo folder, a changed ``PROFILESYNC_MATCH`` or a wrong account produces on a target synced
before: photos *changed* for users already synced, avatars to put back, and users the history knows under another
key (or keys it knows for another account).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from profilesync.engine.model import Action, Plan, PlannedAction, Reason, SyncRecord
from profilesync.errors import SafetyValveError

#: with no --max-uploads, a plan is "far more than usual" when what it counts exceeds this share of the
#: target's users and SAFETY_MIN_UPLOADS.
SAFETY_SHARE = 0.5
SAFETY_MIN_UPLOADS = 100

_LABELS = {
    "changed": "photos changed for users already synced",
    "avatar_changed": "avatars to put back",
    "rekeyed": "users the history knows under another key",
    "uploads": "uploads",
}
ADVICE = (
    "check PROFILESYNC_PHOTOS_DIR and PROFILESYNC_MATCH, review 'profilesync avatars plan', "
    "then run again with --force (or set --max-uploads)"
)


@dataclass(frozen=True)
class Verdict:
    """What the valve counted in a plan, against which limit, and whether the sync would stop."""

    rule: str  # "far_more_than_usual", or "max_uploads" with --max-uploads
    counted: dict[str, int] = field(default_factory=dict)
    limit: int = 0
    users: int = 0
    forced: bool = False

    @property
    def total(self) -> int:
        return sum(self.counted.values())

    @property
    def trips(self) -> bool:
        return not self.forced and self.total > self.limit

    def message(self) -> str:
        parts = ", ".join(f"{_LABELS[k]} {n}" for k, n in self.counted.items())
        if self.rule == "max_uploads":
            return f"the plan has {self.total} uploads, more than --max-uploads {self.limit}"
        return (
            f"the plan would make {self.total} changes that are not routine ({parts}) for {self.users} "
            f"users, more than {self.limit}: far more than usual"
        )

    def advice(self) -> str:
        if self.rule == "max_uploads":
            return "review it with 'profilesync avatars plan', then run again with --force"
        return ADVICE

    def document(self) -> dict[str, Any]:
        """The ``safety_valve`` field of a plan's JSON."""
        return {
            "would_trip": self.trips,
            "rule": self.rule,
            "counted": dict(self.counted),
            "total": self.total,
            "limit": self.limit,
            "message": self.message() if self.trips else None,
        }


def assess(
    plan: Plan,
    history: Callable[[], Mapping[str, SyncRecord]],
    *,
    max_uploads: int | None = None,
    force: bool = False,
) -> Verdict:
    """Count a plan the way the real sync's valve does. ``history`` (the target's records) is read only when
    the plan has enough new users for it to matter."""
    uploads = [a for a in plan.actions if a.action is Action.UPLOAD]
    users = plan.users  # counted skips included: a sync's plan keeps only what it acts on
    if max_uploads is not None:
        return Verdict("max_uploads", {"uploads": len(uploads)}, max_uploads, users, force)
    limit = max(SAFETY_MIN_UPLOADS, math.floor(SAFETY_SHARE * users))
    changed = sum(1 for a in uploads if a.reason is Reason.CHANGED)
    # a one-time lock (PROFILESYNC_LOCK_AVATARS just turned on) puts back what is already shown: routine
    put_back = sum(1 for a in plan.actions if a.action is Action.REASSIGN and a.reason is not Reason.LOCK)
    new = [a for a in uploads if a.reason is Reason.NEW]
    rekeyed = 0
    if new and changed + put_back + len(new) > limit:
        rekeyed = _rekeyed(new, history())
    counted = {"changed": changed, "avatar_changed": put_back, "rekeyed": rekeyed}
    return Verdict("far_more_than_usual", counted, limit, users, force)


def _rekeyed(new: list[PlannedAction], records: Mapping[str, SyncRecord]) -> int:
    """New uploads for an account the history synced under another key, or for a key it synced for another
    account: the matching (or the account) changed, this is not a new user."""
    key_of = {r.user_id: key for key, r in records.items() if r.synced_at is not None}
    count = 0
    for action in new:
        if action.user is None:
            continue
        known_as = key_of.get(action.user.user_id)
        other_account = action.record is not None and action.record.synced_at is not None
        if (known_as is not None and known_as != action.key) or other_account:
            count += 1
    return count


def synced_any(records: Mapping[str, SyncRecord]) -> bool:
    """Whether a history holds a successful sync (users that only failed count as never synced)."""
    return any(r.synced_at is not None for r in records.values())


def cannot_trip(*, synced_before: bool, max_uploads: int | None) -> bool:
    """Whether no plan made against this history can trip the valve: a sync may then write before its plan is
    complete (:mod:`profilesync.engine.pipeline`).

    With no ``--max-uploads`` the valve counts changed photos, avatars to put back and re-keyed users (see
    :func:`assess`); each needs a user the history synced: a changed photo and a put-back compare with that
    sync, a re-keyed user is one synced under another key or for another account. So a history with no
    successful sync (``synced_before`` False: a first sync; users that only failed count as never synced) cannot
    trip it. ``--max-uploads``
    counts new users too, so it always waits for the whole plan. A missing or empty photo folder stops the sync
    before the first decision whatever this says; ``--force`` only lets a plan that trips go ahead, so it
    changes nothing here.
    """
    return max_uploads is None and not synced_before


def check(
    plan: Plan,
    history: Callable[[], Mapping[str, SyncRecord]],
    *,
    max_uploads: int | None,
    force: bool,
) -> None:
    """Stop an unusually large plan unless ``--force`` (rclone's --max-transfer, vdirsyncer's valve)."""
    verdict = assess(plan, history, max_uploads=max_uploads, force=force)
    if verdict.trips:
        raise SafetyValveError(verdict.message(), advice=verdict.advice())
