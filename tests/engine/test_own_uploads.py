"""The decision table's rows for our own uploads: an upload never seen applied, and, under ``respect``, a
picture of ours the history does not know (a new database). No I/O but a fake target."""

from __future__ import annotations

from dataclasses import replace

from profilesync.engine.model import Action, Policy, Reason, RemoteUser, SyncRecord
from profilesync.engine.planner import decide
from profilesync.engine.recognise import mark_own_avatars, needs_recognition

from .test_planner import MAX_AGE, NOW, OURS, photo, photos, record, user

THEIRS = "attachment:777/uuid-777"


def pending_record() -> SyncRecord:
    return replace(record(), avatar_ref=None, avatar_url=None, file_id="502", file_uuid="uuid-502")


def test_an_upload_never_seen_applied_is_finished_by_reassigning() -> None:
    """A record whose file was uploaded but never shown (its thumbnail lagged) → reassign/unfinished."""
    decision = decide(
        user(avatar_ref=OURS),
        photos(photo()),
        {"S1": pending_record()},
        now=NOW,
        policy=Policy.ENFORCE,
        max_age=MAX_AGE,
    )
    assert (decision.action, decision.reason) == (Action.REASSIGN, Reason.UNFINISHED)


def test_unfinished_under_respect_when_the_shown_picture_is_ours() -> None:
    """Under respect the old picture of ours still shown is nobody's choice: the pending file is set."""
    shown = replace(user(avatar_ref=OURS), avatar_ours=True)
    decision = decide(shown, photos(photo()), {"S1": pending_record()}, now=NOW, policy=Policy.RESPECT, max_age=MAX_AGE)
    assert (decision.action, decision.reason) == (Action.REASSIGN, Reason.UNFINISHED)


def test_a_new_photo_over_an_unfinished_upload_is_uploaded() -> None:
    """A photo changed again before the lagging upload was set → upload/changed (it replaces the pending file)."""
    decision = decide(
        user(avatar_ref=OURS),
        photos(photo(sha="bbb")),
        {"S1": pending_record()},
        now=NOW,
        policy=Policy.ENFORCE,
        max_age=MAX_AGE,
    )
    assert (decision.action, decision.reason) == (Action.UPLOAD, Reason.CHANGED)


def test_respect_with_no_history_uploads_over_our_own_earlier_picture() -> None:
    """Respect, no history, the user shows a picture the target recognises as ours → upload/new."""
    shown = replace(user(avatar_ref=OURS), avatar_ours=True)
    decision = decide(shown, photos(photo()), {}, now=NOW, policy=Policy.RESPECT, max_age=MAX_AGE)
    assert (decision.action, decision.reason) == (Action.UPLOAD, Reason.NEW)


def test_respect_with_no_history_still_respects_a_chosen_picture() -> None:
    """Respect, no history, a picture that is not ours → skip/user_choice, as before."""
    decision = decide(user(avatar_ref=THEIRS), photos(photo()), {}, now=NOW, policy=Policy.RESPECT, max_age=MAX_AGE)
    assert (decision.action, decision.reason) == (Action.SKIP, Reason.USER_CHOICE)


class FakeTarget:
    def __init__(self, ours: set[str]) -> None:
        self.ours = ours
        self.asked: list[list[str]] = []

    def own_avatars(self, users: list[RemoteUser]) -> set[str]:
        self.asked.append([u.user_id for u in users])
        return self.ours & {u.user_id for u in users}


def test_only_users_whose_decision_depends_on_it_are_asked_about() -> None:
    """Asked: a shown picture, a usable photo, no avatar of ours in the history. Not asked: blank avatars,
    users without a photo, users the history knows."""
    users = [
        user("S1", OURS, "1"),  # no history: asked
        user("S2", None, "2"),  # blank: not asked
        user("S3", OURS, "3"),  # no photo: not asked
        user("S4", OURS, "4"),  # known to the history: not asked
        user("S5", OURS, "5"),  # a pending upload in the history: asked
    ]
    history = {"S4": record("S4", user_id="4"), "S5": replace(record("S5", user_id="5"), avatar_ref=None)}
    found = photos(photo("S1"), photo("S2"), photo("S4"), photo("S5"))
    assert [u.user_id for u in users if needs_recognition(u, found, history)] == ["1", "5"]
    target = FakeTarget({"1"})
    marked = mark_own_avatars(target, users, found, history)  # type: ignore[arg-type]
    assert target.asked == [["1", "5"]]
    assert [u.user_id for u in marked if u.avatar_ours] == ["1"]
