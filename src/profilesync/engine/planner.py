"""The pure decision table of docs/design.md §4: users + photos + history → one action per user. No I/O.

Precedence, top to bottom (the README documents it for admins):
1. no key → skip/no_key; inactive → skip/inactive (Guru)
2. two photos for the key → error/ambiguous_photo; none → skip/no_photo; unusable → error/invalid_photo
3. policy ``respect`` and the user shows an avatar we did not set → skip/user_choice (a choice is never
   overridden, not even by a new school photo or the monthly refresh); a file we uploaded that the history
   does not know (a new database) is recognised by the target and is no choice; with locking on, neither is
   the silhouette our own lock left when our avatar failed to follow it (see ``_cleared_by_our_lock``)
4. no successful sync of this user → upload/new
5. photo content differs from the last synced one → upload/changed
6. last sync older than max age → upload/stale
7. our last upload was never seen applied (its thumbnail lagged) → reassign/unfinished
8. the target shows the avatar we set → skip/unchanged (with avatar locking on and that avatar never locked:
   reassign/lock, once — a user synced before the option was turned on)
9. otherwise (policy ``enforce``) → reassign/avatar_changed

A user whose current avatar the target hides (``RemoteUser.avatar_known`` False; Canvas omits ``avatar_url``
for a user whose home account has avatars off) skips row 3 — an avatar nobody can see is nobody's choice —
goes through rows 4–7 as usual, and ends at skip/avatar_hidden instead of rows 8–9: without seeing the
avatar we can neither call it ours nor call it replaced, so the history decides (it says synced).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta

from profilesync.engine.model import (
    Action,
    Photo,
    PhotoSet,
    Plan,
    PlannedAction,
    Policy,
    Reason,
    RemoteUser,
    SyncRecord,
)


def plan(
    users: Iterable[RemoteUser],
    photos: PhotoSet,
    records: Mapping[str, SyncRecord],
    *,
    target_id: str,
    now: datetime,
    policy: Policy,
    max_age: timedelta | None,
    report_unmatched: bool = True,
    keep_skips: bool = True,
    lock: bool = False,
    on_decided: Callable[[PlannedAction], None] | None = None,
) -> Plan:
    """Decide for every user; photos that match no user are reported, never acted on.

    ``users`` is consumed once, as it comes (a listing streams page by page) and no user is kept beyond its
    decision, so with ``keep_skips`` False (a sync: it acts on uploads, reassigns and errors only) the plan
    holds the users it acts on and counts the rest in ``Plan.skipped``. ``on_decided`` is given every decision
    (skips too) as it is made: a sync may start writing before the listing ends (:mod:`profilesync.engine.pipeline`).
    """
    actions: list[PlannedAction] = []
    skipped: Counter[Reason] = Counter()
    # Which photos some user's key named: a flag per photo of the sorted keys (a set of 100,000 keys was 4 MB).
    keys = sorted(photos.photos) if report_unmatched else []
    named = bytearray(len(keys))
    for user in users:
        if keys and user.key is not None:
            at = bisect_left(keys, user.key)
            if at < len(keys) and keys[at] == user.key:
                named[at] = 1
        action = decide(user, photos, records, now=now, policy=policy, max_age=max_age, lock=lock)
        if on_decided is not None:
            on_decided(action)
        if keep_skips or action.action is not Action.SKIP:
            actions.append(action)
        else:
            skipped[action.reason] += 1
    unmatched = tuple(photos.photos[k] for k, seen in zip(keys, named, strict=True) if not seen)
    return Plan(target_id=target_id, actions=tuple(actions), unmatched_photos=unmatched, skipped=dict(skipped))


def decide(
    user: RemoteUser,
    photos: PhotoSet,
    records: Mapping[str, SyncRecord],
    *,
    now: datetime,
    policy: Policy,
    max_age: timedelta | None,
    lock: bool = False,
) -> PlannedAction:
    """The decision for one user; ``lock``: the target locks the avatars it sets (PROFILESYNC_LOCK_AVATARS)."""
    key = user.key
    if key is None:
        return PlannedAction(None, user, Action.SKIP, Reason.NO_KEY)
    if not user.active:
        return PlannedAction(key, user, Action.SKIP, Reason.INACTIVE)
    if key in photos.ambiguous:
        names = ", ".join(p.name for p in photos.ambiguous[key])
        return PlannedAction(key, user, Action.ERROR, Reason.AMBIGUOUS_PHOTO, message=f"several photos: {names}")
    photo = photos.photos.get(key)
    if photo is None:
        return PlannedAction(key, user, Action.SKIP, Reason.NO_PHOTO)
    if photo.problem is not None:
        # The current avatar is left alone: a bad file must never replace a good picture.
        return PlannedAction(key, user, Action.ERROR, Reason.INVALID_PHOTO, photo, message=photo.problem)

    record = records.get(key)
    if record is not None and (record.synced_at is None or record.user_id != user.user_id):
        record_for_user = None  # never synced, or the key now belongs to another account
    else:
        record_for_user = record
    shows_ours = (
        record_for_user is not None
        and record_for_user.avatar_ref is not None
        and user.avatar_ref == record_for_user.avatar_ref
    )
    if (
        policy is Policy.RESPECT
        and user.avatar_known
        and not shows_ours
        and _someone_chose(user, record_for_user)
        and not (lock and _cleared_by_our_lock(user, record_for_user))
    ):
        return PlannedAction(key, user, Action.SKIP, Reason.USER_CHOICE, photo, record)

    action, reason = _history_decision(user, photo, record_for_user, shows_ours, now=now, max_age=max_age)
    if lock and reason is Reason.UNCHANGED and record_for_user is not None and not record_for_user.locked:
        # Ours, shown, never locked: put it back once with the lock (the listing cannot show the lock state,
        # so the history's word decides; every later night it says locked and this costs nothing).
        action, reason = Action.REASSIGN, Reason.LOCK
    return PlannedAction(key, user, action, reason, photo, record)


def _history_decision(
    user: RemoteUser,
    photo: Photo,
    record: SyncRecord | None,
    shows_ours: bool,
    *,
    now: datetime,
    max_age: timedelta | None,
) -> tuple[Action, Reason]:
    """Rows 4–9 of the table: what the history and the avatar shown say."""
    if record is None or record.synced_at is None:
        return Action.UPLOAD, Reason.NEW
    if record.photo_sha256 != photo.sha256:
        return Action.UPLOAD, Reason.CHANGED
    if max_age is not None and now - record.synced_at > max_age:
        return Action.UPLOAD, Reason.STALE
    if record.avatar_ref is None and record.file_id is not None:
        # Uploaded last time but never seen applied (Canvas had no thumbnail yet): set that file now.
        return Action.REASSIGN, Reason.UNFINISHED
    if not user.avatar_known:
        return Action.SKIP, Reason.AVATAR_HIDDEN
    if shows_ours:
        return Action.SKIP, Reason.UNCHANGED
    return Action.REASSIGN, Reason.AVATAR_CHANGED


def _cleared_by_our_lock(user: RemoteUser, record: SyncRecord | None) -> bool:
    """With locking on, the lock goes out before our avatar and clears the picture until our avatar follows
    (docs/canvas.md §18). A synced user left on the default silhouette whose last attempt failed after the last
    sync was cleared by that attempt, not by their own choice: the next run puts the avatar back."""
    return (
        record is not None
        and user.avatar_ref is None
        and record.synced_at is not None
        and record.last_error_at is not None
        and record.last_error_at > record.synced_at
    )


def _someone_chose(user: RemoteUser, record: SyncRecord | None) -> bool:
    """Under ``respect``: did someone other than us pick the avatar the user shows now?

    With no history (a new database) or no avatar of ours seen applied yet, only a real picture counts,
    and not one of our own uploads, which the target recognises (``avatar_ours``): the default silhouette
    and our earlier photos are nobody's choice. Once we have seen our avatar on the user, anything else —
    a removal included — was their choice.
    """
    if record is None or record.avatar_ref is None:
        return user.avatar_ref is not None and not user.avatar_ours
    return True
