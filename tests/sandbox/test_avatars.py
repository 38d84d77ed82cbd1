"""Avatar options (docs/canvas.md §10), the PUT with its silent no-ops (§11), and the avatar URL rules (§9)."""

from __future__ import annotations

import requests

from profilesync_sandbox import Sandbox
from profilesync_sandbox.canvas.avatars import construct_token

from .conftest import MakeSandbox
from .helpers import api, jpeg, options, set_avatar, student, token_of, upload

FALLBACK = "/images/messages/avatar-50.png"


def shown(sb: Sandbox, admin: requests.Session, user_id: int) -> str:
    """The avatar_url Canvas shows for the user."""
    url: str = admin.get(f"{sb.base_url}/api/v1/users/{user_id}").json()["avatar_url"]
    return url


def test_options_list_newest_images_first_then_no_pic(sb: Sandbox, admin: requests.Session) -> None:
    """Attachment options newest id first, no_pic last; non-images and other folders are left out."""
    user = student(sb)
    first = upload(sb, admin, user.id, jpeg((1, 1, 1)), name="a.jpg")
    second = upload(sb, admin, user.id, jpeg((2, 2, 2)), name="b.jpg")
    upload(sb, admin, user.id, b"not an image", name="notes.txt", content_type="text/plain")
    upload(sb, admin, user.id, jpeg((3, 3, 3)), name="c.jpg", folder="elsewhere")
    opts = options(sb, admin, user.id)
    assert [o["type"] for o in opts] == ["attachment", "attachment", "no_pic"]
    assert [o["id"] for o in opts[:2]] == [second["id"], first["id"]]
    assert opts[0]["url"] == f"{sb.base_url}/images/thumbnails/{second['id']}/{second['uuid']}"
    assert all(len(o["token"]) == 40 for o in opts)


def test_svg_never_becomes_an_option(sb: Sandbox, admin: requests.Session) -> None:
    """Images Canvas cannot thumbnail (SVG) never appear."""
    user = student(sb)
    upload(sb, admin, user.id, b"<svg xmlns='http://www.w3.org/2000/svg'/>", name="a.svg", content_type="image/svg+xml")
    assert [o["type"] for o in options(sb, admin, user.id)] == ["no_pic"]


def test_gravatar_option_comes_first_when_enabled(make_sandbox: MakeSandbox) -> None:
    """gravatar_enabled adds a gravatar option before everything else."""
    sb = make_sandbox(gravatar_enabled=True)
    opts = options(sb, api(sb), student(sb).id)
    assert opts[0]["type"] == "gravatar" and opts[0]["url"].startswith("https://secure.gravatar.com/avatar/")


def test_avatars_is_not_paginated(sb: Sandbox, admin: requests.Session) -> None:
    """No Link header on /avatars."""
    response = admin.get(f"{sb.base_url}/api/v1/users/{student(sb).id}/avatars")
    assert "Link" not in response.headers


def test_listing_avatars_creates_the_profile_pictures_folder(sb: Sandbox, admin: requests.Session) -> None:
    """Reading the options creates my files/profile pictures as a side effect."""
    user = student(sb)
    options(sb, admin, user.id)
    with sb.state.lock:
        names = {f.name for f in sb.state.folders.values() if f.user_id == user.id}
    assert names == {"my files", "profile pictures"}


def test_students_cannot_read_someone_elses_options(sb: Sandbox) -> None:
    """/avatars needs update_avatar: self or an admin."""
    token = sb.token_for(student(sb, 0).id)
    response = api(sb, token).get(f"{sb.base_url}/api/v1/users/{student(sb, 1).id}/avatars")
    assert response.status_code == 401


def test_admin_put_sets_an_approved_avatar(sb: Sandbox, admin: requests.Session) -> None:
    """A token PUT as the admin sets the thumbnail URL, state approved, and says so in the response."""
    user = student(sb)
    file = upload(sb, admin, user.id, jpeg())
    response = set_avatar(sb, admin, user.id, token_of(options(sb, admin, user.id), file["id"]) or "")
    body = response.json()
    assert response.status_code == 200
    assert body["avatar_url"] == f"{sb.base_url}/images/thumbnails/{file['id']}/{file['uuid']}"
    assert body["avatar_state"] == "approved" and sb.state.user(user.id).avatar_state == "approved"


def test_thumbnail_lag_hides_new_uploads(make_sandbox: MakeSandbox) -> None:
    """A confirmed image is missing from /avatars until thumbnail_lag_s has passed."""
    sb = make_sandbox(thumbnail_lag_s=60)
    admin, user = api(sb), student(sb)
    file = upload(sb, admin, user.id, jpeg())
    assert token_of(options(sb, admin, user.id), file["id"]) is None
    sb.state.advance_clock(61)
    assert token_of(options(sb, admin, user.id), file["id"]) is not None


def test_stale_token_is_a_silent_no_op(sb: Sandbox, admin: requests.Session) -> None:
    """A token for a file that was since replaced: 200, nothing changes."""
    user = student(sb)
    old = upload(sb, admin, user.id, jpeg((1, 1, 1)))
    stale = token_of(options(sb, admin, user.id), old["id"]) or ""
    upload(sb, admin, user.id, jpeg((2, 2, 2)))
    response = set_avatar(sb, admin, user.id, stale)
    assert response.status_code == 200 and response.json()["avatar_url"].endswith(FALLBACK)


def test_another_users_token_is_a_silent_no_op(sb: Sandbox, admin: requests.Session) -> None:
    """Tokens are bound to the user they were listed for."""
    alice, bob = student(sb, 0), student(sb, 1)
    file = upload(sb, admin, alice.id, jpeg())
    token = token_of(options(sb, admin, alice.id), file["id"]) or ""
    response = set_avatar(sb, admin, bob.id, token)
    assert response.status_code == 200 and response.json()["avatar_url"].endswith(FALLBACK)
    assert sb.state.user(bob.id).avatar_url is None


def test_token_for_a_thumbnail_not_ready_is_a_silent_no_op(make_sandbox: MakeSandbox) -> None:
    """Even the right token does nothing while the file is not yet in the options list."""
    sb = make_sandbox(thumbnail_lag_s=60)
    admin, user = api(sb), student(sb)
    file = upload(sb, admin, user.id, jpeg())
    token = construct_token(sb.state, user.id, "attachment", file["thumbnail_url"])
    assert set_avatar(sb, admin, user.id, token).json()["avatar_url"].endswith(FALLBACK)
    sb.state.advance_clock(61)
    assert set_avatar(sb, admin, user.id, token).json()["avatar_url"] == file["thumbnail_url"]


def test_locked_avatar_ignores_masquerade_updates(sb: Sandbox, admin: requests.Session) -> None:
    """A self/masquerade PUT on a locked avatar: 200 and no change."""
    user = student(sb)
    file = upload(sb, admin, user.id, jpeg())
    token = token_of(options(sb, admin, user.id), file["id"]) or ""
    sb.state.set_avatar_state(user.id, "locked")
    response = admin.put(
        f"{sb.base_url}/api/v1/users/{user.id}", params={"as_user_id": user.id}, data={"user[avatar][token]": token}
    )
    assert response.status_code == 200 and response.json()["avatar_url"].endswith(FALLBACK)


def test_locked_avatar_is_replaced_by_the_admin_and_stays_locked(sb: Sandbox, admin: requests.Session) -> None:
    """The admin path bypasses the lock and keeps the state locked."""
    user = student(sb)
    file = upload(sb, admin, user.id, jpeg())
    sb.state.set_avatar_state(user.id, "locked")
    body = set_avatar(sb, admin, user.id, token_of(options(sb, admin, user.id), file["id"]) or "").json()
    assert body["avatar_url"] == file["thumbnail_url"] and body["avatar_state"] == "locked"


def test_masquerade_update_leaves_state_submitted(sb: Sandbox, admin: requests.Session) -> None:
    """Updating as the user (masquerade) sets the avatar with state submitted, and omits avatar_state."""
    user = student(sb)
    file = upload(sb, admin, user.id, jpeg())
    token = token_of(options(sb, admin, user.id), file["id"]) or ""
    body = admin.put(
        f"{sb.base_url}/api/v1/users/{user.id}",
        params={"as_user_id": user.id},
        json={"user": {"avatar": {"token": token}}},
    ).json()
    assert body["avatar_url"] == file["thumbnail_url"] and "avatar_state" not in body
    assert sb.state.user(user.id).avatar_state == "submitted"


def test_enabled_pending_hides_submitted_avatars(make_sandbox: MakeSandbox) -> None:
    """Under enabled_pending a masquerade-set (submitted) avatar shows the fallback until approved."""
    sb = make_sandbox(avatars_setting="enabled_pending")
    admin, user = api(sb), student(sb)
    file = upload(sb, admin, user.id, jpeg())
    token = token_of(options(sb, admin, user.id), file["id"]) or ""
    admin.put(
        f"{sb.base_url}/api/v1/users/{user.id}", params={"as_user_id": user.id}, data={"user[avatar][token]": token}
    )
    assert shown(sb, admin, user.id).endswith(FALLBACK)
    set_avatar(sb, admin, user.id, token)
    assert shown(sb, admin, user.id) == file["thumbnail_url"]


def test_disabled_setting_always_shows_the_fallback(make_sandbox: MakeSandbox) -> None:
    """avatars setting disabled: the fallback whatever is stored."""
    sb = make_sandbox(avatars_setting="disabled")
    user = student(sb)
    sb.state.user_sets_own_avatar(user.id, jpeg())
    assert shown(sb, api(sb), user.id).endswith(FALLBACK)


def test_url_outside_instructure_clears_the_avatar(sb: Sandbox, admin: requests.Session) -> None:
    """user[avatar][url] on any other host silently removes the picture."""
    user = student(sb)
    sb.state.user_sets_own_avatar(user.id, jpeg())
    response = admin.put(
        f"{sb.base_url}/api/v1/users/{user.id}", data={"user[avatar][url]": "https://cdn.example.com/pic.jpg"}
    )
    assert response.status_code == 200 and response.json()["avatar_url"].endswith(FALLBACK)
    assert sb.state.user(user.id).avatar_source == "no_pic"


def test_instructure_url_is_kept_as_external(sb: Sandbox, admin: requests.Session) -> None:
    """A URL matching the default external pattern is stored as is."""
    user = student(sb)
    url = "https://school.instructure.com/pic.png"
    body = admin.put(f"{sb.base_url}/api/v1/users/{user.id}", data={"user[avatar][url]": url}).json()
    assert body["avatar_url"] == url and sb.state.user(user.id).avatar_source == "external"


def test_state_param_replaces_the_whole_avatar_hash(sb: Sandbox, admin: requests.Session) -> None:
    """user[avatar][state] with a token in the same request: only the state is applied."""
    user = student(sb)
    file = upload(sb, admin, user.id, jpeg())
    token = token_of(options(sb, admin, user.id), file["id"]) or ""
    body = admin.put(
        f"{sb.base_url}/api/v1/users/{user.id}", data={"user[avatar][token]": token, "user[avatar][state]": "locked"}
    ).json()
    assert body["avatar_state"] == "locked" and body["avatar_url"].endswith(FALLBACK)


def test_student_cannot_set_someone_elses_avatar(sb: Sandbox) -> None:
    """user[avatar] without update_avatar on the target: 401 unauthorized."""
    token = sb.token_for(student(sb, 0).id)
    response = api(sb, token).put(f"{sb.base_url}/api/v1/users/{student(sb, 1).id}", data={"user[avatar][token]": "x"})
    assert response.status_code == 401 and response.json()["status"] == "unauthorized"


def test_service_off_removes_the_avatar_url_key(make_sandbox: MakeSandbox) -> None:
    """With the avatars service off the key is absent (not null), in listings and in show."""
    sb = make_sandbox(avatars_service_enabled=False)
    admin = api(sb)
    row = admin.get(f"{sb.base_url}/api/v1/accounts/self/users", params={"include[]": "avatar_url"}).json()[0]
    assert "avatar_url" not in row
    assert "avatar_url" not in admin.get(f"{sb.base_url}/api/v1/users/{row['id']}").json()


def test_fallback_can_live_on_a_cdn_host(make_sandbox: MakeSandbox) -> None:
    """With a CDN host the no-avatar URL is on that host; only the path identifies it."""
    sb = make_sandbox(cdn_host="du11hjcvx0uqb.cloudfront.net")
    assert shown(sb, api(sb), student(sb).id) == f"https://du11hjcvx0uqb.cloudfront.net{FALLBACK}"


def test_user_setting_own_avatar_shows_in_the_listing(sb: Sandbox, admin: requests.Session) -> None:
    """The test helper behaves like the UI: a new profile picture, state submitted, shown in listings."""
    user = student(sb)
    file_id = sb.state.user_sets_own_avatar(user.id, jpeg())
    row = admin.get(
        f"{sb.base_url}/api/v1/accounts/self/users", params={"include[]": "avatar_url", "search_term": user.login_id}
    ).json()[0]
    assert f"/images/thumbnails/{file_id}/" in row["avatar_url"]
    assert sb.state.user(user.id).avatar_state == "submitted"
    assert token_of(options(sb, admin, user.id), file_id)


def test_deleting_the_shown_file_clears_the_avatar(sb: Sandbox) -> None:
    """delete_file on the avatar's file falls back to no picture."""
    user = student(sb)
    file_id = sb.state.user_sets_own_avatar(user.id, jpeg())
    sb.state.delete_file(file_id)
    assert sb.state.user(user.id).avatar_url is None
