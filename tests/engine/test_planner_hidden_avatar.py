"""The decision table for a user whose current avatar the target hides (Canvas omits avatar_url for them)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from profilesync.engine.model import Action, Policy, Reason, RemoteUser

from .test_planner import photo, photos, record, run, user


def hidden(key: str = "S1") -> RemoteUser:
    return replace(user(key=key), avatar_known=False)


@pytest.mark.parametrize("policy", list(Policy))
def test_hidden_avatar_without_history_is_uploaded_as_new_never_user_choice(policy: Policy) -> None:
    """No history: upload/new under both policies (an avatar nobody can see is nobody's choice)."""
    assert run(hidden(), photos(photo()), {}, policy=policy) == (Action.UPLOAD, Reason.NEW)


@pytest.mark.parametrize("policy", list(Policy))
def test_hidden_avatar_with_a_changed_photo_is_uploaded(policy: Policy) -> None:
    """Photo content differs from the last synced one: upload/changed, whatever the policy."""
    assert run(hidden(), photos(photo(sha="bbb")), {"S1": record(sha="aaa")}, policy=policy) == (
        Action.UPLOAD,
        Reason.CHANGED,
    )


def test_hidden_avatar_with_old_history_is_uploaded_as_stale() -> None:
    """Last sync older than max age: upload/stale."""
    assert run(hidden(), photos(photo()), {"S1": record(age_days=45)}) == (Action.UPLOAD, Reason.STALE)


@pytest.mark.parametrize("policy", list(Policy))
def test_hidden_avatar_synced_and_unchanged_is_skipped_as_hidden(policy: Policy) -> None:
    """Synced, same photo, fresh: skip/avatar_hidden — neither unchanged (unseen) nor reassign/user_choice."""
    assert run(hidden(), photos(photo()), {"S1": record()}, policy=policy) == (Action.SKIP, Reason.AVATAR_HIDDEN)


def test_visible_default_avatar_after_sync_is_still_a_choice_under_respect() -> None:
    """Control: the same user with a visible default avatar under respect is user_choice (the rule is per user)."""
    assert run(user(), photos(photo()), {"S1": record()}, policy=Policy.RESPECT) == (Action.SKIP, Reason.USER_CHOICE)
