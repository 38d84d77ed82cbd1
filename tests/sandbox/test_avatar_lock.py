"""Locked avatars in the sandbox (docs/canvas.md §11.4, §18): the admin's state PUT clears then locks, the admin's
token PUT gets past the lock and keeps it, and the user's own change is a silent 200 that changes nothing."""

from __future__ import annotations

import requests

from profilesync_sandbox import Sandbox

from .helpers import api, jpeg, options, set_avatar, student, token_of, upload

FALLBACK = "/images/messages/avatar-50.png"


def lock(sb: Sandbox, admin: requests.Session, user_id: int) -> dict[str, object]:
    response = admin.put(f"{sb.base_url}/api/v1/users/{user_id}", data={"user[avatar][state]": "locked"})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_a_state_put_clears_the_picture_and_locks(sb: Sandbox, admin: requests.Session) -> None:
    """UsersController#update replaces the avatar hash with the state: avatar_image= clears, then the state."""
    user = student(sb)
    sb.state.user_sets_own_avatar(user.id, jpeg())
    body = lock(sb, admin, user.id)
    assert body["avatar_state"] == "locked" and str(body["avatar_url"]).endswith(FALLBACK)
    assert sb.state.user(user.id).avatar_source == "no_pic"


def test_lock_then_token_sets_the_picture_and_keeps_the_lock(sb: Sandbox, admin: requests.Session) -> None:
    """profilesync's order: the lock first, the admin's token second; the picture shows, locked."""
    user = student(sb)
    file = upload(sb, admin, user.id, jpeg())
    lock(sb, admin, user.id)
    body = set_avatar(sb, admin, user.id, token_of(options(sb, admin, user.id), file["id"]) or "").json()
    assert body["avatar_url"] == file["thumbnail_url"] and body["avatar_state"] == "locked"


def test_the_users_own_change_of_a_locked_avatar_changes_nothing(sb: Sandbox, admin: requests.Session) -> None:
    """With the user's own token: 200, no avatar_state (no manage_user_details), the locked picture stays."""
    user = student(sb)
    ours = upload(sb, admin, user.id, jpeg((10, 10, 10)), name="ours.jpg")
    lock(sb, admin, user.id)
    set_avatar(sb, admin, user.id, token_of(options(sb, admin, user.id), ours["id"]) or "")
    own = api(sb, sb.token_for(user.id))
    theirs = upload(sb, admin, user.id, jpeg((90, 90, 90)), name="mine.jpg")
    response = set_avatar(sb, own, user.id, token_of(options(sb, own, user.id), theirs["id"]) or "")
    assert response.status_code == 200 and "avatar_state" not in response.json()
    assert response.json()["avatar_url"] == ours["thumbnail_url"]
    unlock = own.put(f"{sb.base_url}/api/v1/users/{user.id}", data={"user[avatar][state]": "approved"})
    assert unlock.status_code == 200 and sb.state.user(user.id).avatar_state == "locked"
    assert sb.state.user(user.id).avatar_url == ours["thumbnail_url"]


def test_the_ui_pick_of_a_locked_avatar_changes_nothing(sb: Sandbox, admin: requests.Session) -> None:
    """user_sets_own_avatar (the UI's upload-and-pick) uploads the file but leaves a locked avatar alone."""
    user = student(sb)
    ours = upload(sb, admin, user.id, jpeg())
    lock(sb, admin, user.id)
    set_avatar(sb, admin, user.id, token_of(options(sb, admin, user.id), ours["id"]) or "")
    sb.state.user_sets_own_avatar(user.id, jpeg((1, 2, 3)))
    assert sb.state.user(user.id).avatar_url == ours["thumbnail_url"]


def test_permissions_say_a_locked_avatar_cannot_be_updated(sb: Sandbox, admin: requests.Session) -> None:
    """GET /users/:id permissions.can_update_avatar is false once locked (docs/canvas.md §8.1)."""
    user = student(sb)
    lock(sb, admin, user.id)
    body = admin.get(f"{sb.base_url}/api/v1/users/{user.id}").json()
    assert body["permissions"]["can_update_avatar"] is False
