"""Locked avatars (PROFILESYNC_LOCK_AVATARS): the state PUT, and what Canvas's answers say about the lock.

docs/canvas.md §18. ``UsersController#update`` accepts ``user[avatar][state]`` from a caller holding
``update_avatar`` and ``manage_user_details`` on the user, but it *replaces* the avatar hash with the state, so
``User#avatar_image=`` clears the picture before the state is applied: a token sent alongside is discarded, and
a state PUT alone leaves a locked silhouette. So the lock goes first and our token second: the admin's token PUT
gets past the lock and keeps it (``old_avatar_state == :locked``). Two requests the first time, one ever after.
"""

from __future__ import annotations

from typing import Any

from profilesync.errors import FatalRemoteError
from profilesync.http import Api

LOCKED = "locked"


def lock_avatar(api: Api, user_id: str) -> bool:
    """:calls: ``PUT /api/v1/users/:id`` with ``user[avatar][state]=locked`` as the admin.

    True when the answer shows the avatar locked. The answer carries ``avatar_state`` only for a caller with
    ``manage_user_details`` on the user — the right the state needs (``User#set_policy`` grants it with
    ``update_avatar``, so a token that sets avatars has it); without it Canvas cleared the picture and applied
    no state, which the token PUT that follows puts right.
    """
    body = api.json(
        "PUT",
        f"/api/v1/users/{user_id}",
        what=f"locking the avatar of user {user_id}",
        data={"user[avatar][state]": LOCKED},
    )
    return is_locked(body)


def is_locked(body: Any) -> bool:
    """The user JSON of an update says the avatar is locked (``avatar_state``, admins only: docs/canvas.md §5)."""
    return isinstance(body, dict) and body.get("avatar_state") == LOCKED


def lock_refused(user_id: str) -> FatalRemoteError:
    """Every user would fail the same way (and cost a clear-and-restore each): stop the run with the fix."""
    return FatalRemoteError(
        f"Canvas did not lock the avatar of user {user_id} (its picture was set again, unlocked)",
        advice="locking needs 'Users - manage login details' on the users' account, in a role with every right "
        "the users' own roles have (User#set_policy: manage_user_details); or turn PROFILESYNC_LOCK_AVATARS off",
    )
