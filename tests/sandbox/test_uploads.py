"""Uploads (docs/canvas.md §12, §13): masquerade-only preflight, the separate upload host, confirm, quota and
duplicates."""

from __future__ import annotations

import requests

from profilesync_sandbox import Sandbox

from .conftest import MakeSandbox
from .helpers import api, jpeg, options, preflight, send_bytes, set_avatar, student, token_of, upload


def test_admin_cannot_preflight_into_another_users_files(sb: Sandbox, admin: requests.Session) -> None:
    """POST /users/<other id>/files as the admin: 401 unauthorized (only the user may add files)."""
    response = admin.post(f"{sb.base_url}/api/v1/users/{student(sb).id}/files", data={"name": "a.jpg"})
    assert response.status_code == 401 and response.json()["status"] == "unauthorized"


def test_masquerading_admin_may_preflight(sb: Sandbox, admin: requests.Session) -> None:
    """POST /users/self/files?as_user_id=<id> is granted, with an upload URL on the other host."""
    response = preflight(sb, admin, student(sb).id, size=100)
    grant = response.json()
    assert response.status_code == 200
    assert grant["upload_url"].startswith(sb.upload_base_url + "/files?token=")
    assert grant["upload_params"] == {"filename": "photo.jpg", "content_type": "image/jpeg"}
    assert grant["file_param"] == "file"
    assert sb.upload_base_url != sb.base_url


def test_upload_host_records_an_authorization_header(sb: Sandbox, admin: requests.Session) -> None:
    """Sending the Canvas token to the upload host is recorded as a leak."""
    grant = preflight(sb, admin, student(sb).id).json()
    send_bytes(grant, jpeg(), headers={"Authorization": f"Bearer {sb.admin_token}"})
    assert sb.state.upload_auth_headers_seen == [f"Bearer {sb.admin_token}"]


def test_careful_upload_leaves_no_authorization_trace(sb: Sandbox, admin: requests.Session) -> None:
    """The full flow without the token on step 2 leaves upload_auth_headers_seen empty."""
    upload(sb, admin, student(sb).id, jpeg())
    assert sb.state.upload_auth_headers_seen == []
    assert [r.had_authorization for r in sb.state.requests("upload")] == [False]


def test_instfs_answers_201_with_location_and_file(sb: Sandbox, admin: requests.Session) -> None:
    """inst-fs mode: 201, a location on the Canvas host, and the file's id and uuid."""
    user = student(sb)
    sent = send_bytes(preflight(sb, admin, user.id).json(), jpeg())
    body = sent.json()
    assert sent.status_code == 201
    assert body["location"] == f"{sb.base_url}/api/v1/files/{body['id']}?include%5B%5D=enhanced_preview_url"
    assert admin.get(body["location"]).json()["uuid"] == body["uuid"]
    assert sb.state.files(user.id)[0].folder == "my files/profile pictures"


def test_instfs_body_can_omit_the_ids(make_sandbox: MakeSandbox) -> None:
    """instfs_body_ids=False: the 201 body carries only location."""
    sb = make_sandbox(instfs_body_ids=False)
    sent = send_bytes(preflight(sb, api(sb), student(sb).id).json(), jpeg())
    assert sent.status_code == 201 and list(sent.json()) == ["location"]


def test_local_mode_redirects_to_a_one_shot_confirm(make_sandbox: MakeSandbox) -> None:
    """local mode: 302 to create_success; the first confirm is 200, the second 400 with an empty body."""
    sb = make_sandbox(upload_mode="local")
    admin, user = api(sb), student(sb)
    grant = preflight(sb, admin, user.id).json()
    assert grant["upload_url"] == f"{sb.upload_base_url}/files_api"
    assert grant["file_param"] == "attachment[uploaded_data]"
    assert {"Policy", "Signature", "Filename", "key", "acl", "content-type"} <= set(grant["upload_params"])
    sent = send_bytes(grant, jpeg())
    assert sent.status_code == 302
    location = sent.headers["Location"]
    assert location.startswith(f"{sb.base_url}/api/v1/files/") and "/create_success?uuid=" in location
    first, second = admin.post(location), admin.get(location)
    assert first.status_code == 200 and first.json()["upload_status"] == "success"
    assert second.status_code == 400 and second.content == b""


def test_local_mode_confirm_includes_an_avatar_for_the_caller(make_sandbox: MakeSandbox) -> None:
    """The profile-pictures redirect asks for include[]=avatar; its token is for the caller, not the owner."""
    sb = make_sandbox(upload_mode="local")
    admin, user = api(sb), student(sb)
    sent = send_bytes(preflight(sb, admin, user.id).json(), jpeg())
    assert "include%5B%5D=avatar" in sent.headers["Location"]
    body = admin.get(sent.headers["Location"]).json()
    assert body["avatar"]["type"] == "attachment"
    assert token_of(options(sb, admin, user.id), body["id"]) != body["avatar"]["token"]


def test_local_mode_accepts_the_file_field(make_sandbox: MakeSandbox) -> None:
    """Local storage also takes the file under the name "file"."""
    sb = make_sandbox(upload_mode="local")
    grant = preflight(sb, api(sb), student(sb).id).json()
    grant["file_param"] = "file"
    assert send_bytes(grant, jpeg()).status_code == 302


def test_local_mode_rejects_a_tampered_policy(make_sandbox: MakeSandbox) -> None:
    """A Policy whose Signature does not match: 400 with an empty body."""
    sb = make_sandbox(upload_mode="local")
    grant = preflight(sb, api(sb), student(sb).id).json()
    grant["upload_params"]["Signature"] = "AAAA"
    sent = send_bytes(grant, jpeg())
    assert sent.status_code == 400 and sent.content == b""


def test_upload_params_must_all_come_back(sb: Sandbox, admin: requests.Session) -> None:
    """Dropping an upload_param is refused."""
    grant = preflight(sb, admin, student(sb).id).json()
    del grant["upload_params"]["filename"]
    assert send_bytes(grant, jpeg()).status_code == 400


def test_fields_after_the_file_are_ignored(sb: Sandbox, admin: requests.Session) -> None:
    """As on S3, params sent after the file part do not count: the file must go last."""
    grant = preflight(sb, admin, student(sb).id).json()
    parts = [("file", ("photo.jpg", jpeg(), "image/jpeg"))] + [
        (k, (None, v)) for k, v in grant["upload_params"].items()
    ]
    assert requests.post(grant["upload_url"], files=parts, allow_redirects=False).status_code == 400


def test_expired_upload_token_is_refused(sb: Sandbox, admin: requests.Session) -> None:
    """The upload grant expires after 30 minutes."""
    grant = preflight(sb, admin, student(sb).id).json()
    sb.state.advance_clock(31 * 60)
    assert send_bytes(grant, jpeg()).status_code == 400


def test_folder_path_and_id_together_is_400(sb: Sandbox, admin: requests.Session) -> None:
    """parent_folder_path with parent_folder_id: 400 with a top-level message."""
    response = admin.post(
        f"{sb.base_url}/api/v1/users/self/files",
        params={"as_user_id": student(sb).id},
        data={"name": "a.jpg", "parent_folder_path": "x", "parent_folder_id": "1"},
    )
    assert response.status_code == 400 and response.json() == {"message": "Can't set folder path and folder id"}


def test_invalid_on_duplicate_is_400(sb: Sandbox, admin: requests.Session) -> None:
    """on_duplicate must be overwrite or rename."""
    response = preflight(sb, admin, student(sb).id, on_duplicate="replace")
    assert response.status_code == 400 and response.json() == {"message": "invalid on_duplicate option"}


def test_unknown_folder_id_is_404_with_a_message(sb: Sandbox, admin: requests.Session) -> None:
    """A parent_folder_id that does not exist: 404 with message at the top level."""
    response = admin.post(
        f"{sb.base_url}/api/v1/users/self/files",
        params={"as_user_id": student(sb).id},
        data={"name": "a.jpg", "parent_folder_id": "999999"},
    )
    assert response.status_code == 404 and response.json() == {"message": "The specified resource does not exist."}


def test_quota_is_checked_early_when_size_is_sent(sb: Sandbox, admin: requests.Session) -> None:
    """A size beyond the quota fails the preflight with "file size exceeds quota"."""
    user = student(sb)
    sb.state.set_quota(user.id, 1000)
    response = preflight(sb, admin, user.id, size=2000)
    assert response.status_code == 400 and response.json() == {"message": "file size exceeds quota"}


def test_quota_is_checked_late_on_instfs(sb: Sandbox, admin: requests.Session) -> None:
    """Without size, the upload itself fails with "file size exceeds quota limits"."""
    user = student(sb)
    sb.state.set_quota(user.id, 1000)
    sent = send_bytes(preflight(sb, admin, user.id).json(), jpeg(size=200))
    assert sent.status_code == 400 and sent.json() == {"message": "file size exceeds quota limits"}
    assert sb.state.files(user.id) == []


def test_quota_is_checked_late_at_confirm_in_local_mode(make_sandbox: MakeSandbox) -> None:
    """Local storage takes the bytes, then create_success refuses them over quota."""
    sb = make_sandbox(upload_mode="local")
    admin, user = api(sb), student(sb)
    sb.state.set_quota(user.id, 1000)
    sent = send_bytes(preflight(sb, admin, user.id).json(), jpeg(size=200))
    confirm = admin.post(sent.headers["Location"])
    assert confirm.status_code == 400 and confirm.json() == {"message": "file size exceeds quota limits"}


def test_quota_counts_at_least_512_bytes_per_file(sb: Sandbox, admin: requests.Session) -> None:
    """GET /files/quota: a 10-byte file uses 512 bytes; the default quota is 50 MB."""
    user = student(sb)
    upload(sb, admin, user.id, b"0123456789", name="tiny.txt", content_type="text/plain")
    body = admin.get(f"{sb.base_url}/api/v1/users/{user.id}/files/quota").json()
    assert body == {"quota": 52428800, "quota_used": 512}


def test_overwrite_replaces_the_file_with_a_new_id_and_uuid(sb: Sandbox, admin: requests.Session) -> None:
    """on_duplicate=overwrite: the same name in the same folder deletes the old file; the new one has new ids."""
    user = student(sb)
    old = upload(sb, admin, user.id, jpeg((1, 2, 3)))
    new = upload(sb, admin, user.id, jpeg((4, 5, 6)))
    assert (new["id"], new["uuid"]) != (old["id"], old["uuid"]) and new["display_name"] == "photo.jpg"
    assert [f.id for f in sb.state.files(user.id)] == [new["id"]]
    assert admin.get(f"{sb.base_url}/api/v1/files/{old['id']}").status_code == 404


def test_overwrite_clears_an_avatar_showing_the_old_file(sb: Sandbox, admin: requests.Session) -> None:
    """An avatar pointing at the replaced file is cleared, as clear_avatar_image_url_with_uuid would."""
    user = student(sb)
    old = upload(sb, admin, user.id, jpeg((1, 2, 3)))
    set_avatar(sb, admin, user.id, token_of(options(sb, admin, user.id), old["id"]) or "")
    assert sb.state.user(user.id).avatar_url
    upload(sb, admin, user.id, jpeg((4, 5, 6)))
    assert sb.state.user(user.id).avatar_url is None


def test_rename_gives_a_unique_name(sb: Sandbox, admin: requests.Session) -> None:
    """on_duplicate=rename keeps both files and suffixes the new name (photo-1.jpg)."""
    user = student(sb)
    upload(sb, admin, user.id, jpeg((1, 2, 3)), on_duplicate="rename")
    second = upload(sb, admin, user.id, jpeg((4, 5, 6)), on_duplicate="rename")
    assert second["display_name"] == "photo-1.jpg"
    assert len(sb.state.files(user.id)) == 2


def test_parent_folder_path_creates_folders(sb: Sandbox, admin: requests.Session) -> None:
    """Missing folders in parent_folder_path are created under my files."""
    user = student(sb)
    upload(sb, admin, user.id, jpeg(), folder="my files/photos/2024")
    assert sb.state.files(user.id)[0].folder == "my files/photos/2024"


def test_pending_file_is_not_found_until_confirmed(make_sandbox: MakeSandbox) -> None:
    """GET /files/:id of an unconfirmed local upload is 404; after confirming it is the file."""
    sb = make_sandbox(upload_mode="local")
    admin = api(sb)
    sent = send_bytes(preflight(sb, admin, student(sb).id).json(), jpeg())
    file_id = sent.headers["Location"].split("/files/")[1].split("/")[0]
    assert admin.get(f"{sb.base_url}/api/v1/files/{file_id}").status_code == 404
    admin.post(sent.headers["Location"])
    assert admin.get(f"{sb.base_url}/api/v1/files/{file_id}").json()["id"] == int(file_id)


def test_thumbnail_and_placeholder_images_are_served(sb: Sandbox, admin: requests.Session) -> None:
    """The thumbnail URL returns the stored bytes; the no-avatar URL a PNG; no token needed."""
    user = student(sb)
    data = jpeg()
    file = upload(sb, admin, user.id, data)
    thumb = requests.get(file["thumbnail_url"])
    assert thumb.status_code == 200 and thumb.content == data and thumb.headers["Content-Type"] == "image/jpeg"
    placeholder = requests.get(f"{sb.base_url}/images/messages/avatar-50.png")
    assert placeholder.content.startswith(b"\x89PNG")


def test_unconfirmed_uploads_are_invisible_in_state_files(make_sandbox: MakeSandbox) -> None:
    """A pending (unconfirmed) local upload is not among the user's files unless asked for."""
    sb = make_sandbox(upload_mode="local")
    user = student(sb)
    send_bytes(preflight(sb, api(sb), user.id).json(), jpeg())
    assert sb.state.files(user.id) == []
    assert [f.state for f in sb.state.files(user.id, include_pending=True)] == ["pending"]
