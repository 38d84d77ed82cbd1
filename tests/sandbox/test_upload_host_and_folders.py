"""The upload host's own throttle, in each upload style, and a user with two "profile pictures" folders."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from click.testing import CliRunner

from profilesync_sandbox import Sandbox
from profilesync_sandbox.command import sandbox

from .conftest import MakeSandbox
from .helpers import api, jpeg, options, preflight, send_bytes, student, upload


def test_upload_throttle_is_off_by_default(sb: Sandbox, admin: requests.Session) -> None:
    """By default the upload host never refuses and sends no rate headers."""
    sent = send_bytes(preflight(sb, admin, student(sb).id).json(), jpeg())
    assert sent.status_code == 201 and "X-Rate-Limit-Remaining" not in sent.headers


def test_local_upload_throttle_answers_like_request_throttle(make_sandbox: MakeSandbox) -> None:
    """local: /files_api over its bucket answers Canvas's 403 text "Rate Limit Exceeded" with a remaining, and
    the refused upload can be sent again once there is room (its policy was not used)."""
    sb = make_sandbox(upload_mode="local", upload_throttle=True, upload_hwm=40.0)  # one reservation is too many
    grant = preflight(sb, api(sb), student(sb).id).json()
    refused = send_bytes(grant, jpeg())
    assert refused.status_code == 403 and refused.text == "403 Forbidden (Rate Limit Exceeded)\n"
    assert refused.headers["Content-Type"].startswith("text/plain") and "X-Rate-Limit-Remaining" in refused.headers
    assert "Retry-After" not in refused.headers  # Canvas sends none
    assert sb.state.files(student(sb).id, include_pending=True)[0].state == "pending"


@pytest.mark.parametrize("status", [429, 503])
def test_instfs_upload_throttle_answers_with_retry_after(make_sandbox: MakeSandbox, status: int) -> None:
    """inst-fs: over its bucket the upload host answers 429 (or 503) with Retry-After, and stores nothing."""
    sb = make_sandbox(upload_throttle=True, upload_hwm=40.0, upload_throttle_status=status)
    refused = send_bytes(preflight(sb, api(sb), student(sb).id).json(), jpeg())
    assert refused.status_code == status and int(refused.headers["Retry-After"]) >= 1
    assert sb.state.files(student(sb).id, include_pending=True) == []


def test_two_uploads_at_once_from_one_client_are_throttled(make_sandbox: MakeSandbox) -> None:
    """The bucket is per client address: with room for one upload in flight, a second at once is refused."""
    sb = make_sandbox(upload_throttle=True, upload_hwm=90.0, latency_ms=300)
    grants = [preflight(sb, api(sb), student(sb, i).id).json() for i in range(2)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        statuses = sorted(r.status_code for r in pool.map(lambda g: send_bytes(g, jpeg()), grants))
    assert statuses == [201, 429]


def test_an_earlier_profile_pictures_folder_is_where_avatars_come_from(make_sandbox: MakeSandbox) -> None:
    """A user whose first "profile pictures" folder is elsewhere: the options list that folder's images only,
    so an upload by path never becomes an option, and one by that folder's id does."""
    sb = make_sandbox()
    user = student(sb)
    folder_id = sb.state.add_second_profile_pictures_folder(user.id)
    admin = api(sb)
    by_path = upload(sb, admin, user.id, jpeg())
    listed = [o for o in options(sb, admin, user.id) if o["type"] == "attachment"]
    assert [o["folder_id"] for o in listed] == [folder_id] and by_path["id"] not in [o["id"] for o in listed]
    assert by_path["folder_id"] != folder_id
    grant = admin.post(
        f"{sb.base_url}/api/v1/users/self/files",
        params={"as_user_id": user.id},
        data={"name": "p.jpg", "parent_folder_id": folder_id, "content_type": "image/jpeg"},
    ).json()
    by_id = send_bytes(grant, jpeg(), name="p.jpg").json()
    assert by_id["id"] in [o["id"] for o in options(sb, admin, user.id) if o["type"] == "attachment"]


def test_two_folders_rate_gives_some_users_an_earlier_folder(make_sandbox: MakeSandbox) -> None:
    """two_profile_folders_rate picks users (reproducibly) and gives each an earlier folder with a picture."""
    sb = make_sandbox(two_profile_folders_rate=0.5)
    odd = {f.user_id for f in sb.state.files() if f.folder == "my files/Old Files/profile pictures"}
    assert 0 < len(odd) < len([u for u in sb.state.users() if u.sis_user_id])


def test_sandbox_command_switches_the_upload_throttle_and_folders(monkeypatch: pytest.MonkeyPatch) -> None:
    """`profilesync sandbox --upload-throttle --upload-hwm --upload-throttle-status --two-profile-folders`
    reach the sandbox's config."""
    seen: dict[str, Sandbox] = {}

    def interrupt(sb: Sandbox) -> None:
        seen["sb"] = sb
        raise KeyboardInterrupt

    monkeypatch.setattr("profilesync_sandbox.command.wait_for_interrupt", interrupt)
    args = ["--users", "5", "--upload-throttle", "--upload-hwm", "120", "--upload-throttle-status", "503"]
    result = CliRunner().invoke(sandbox, [*args, "--two-profile-folders"])
    assert result.exit_code == 0, result.output
    config = seen["sb"].config
    assert (config.upload_throttle, config.upload_hwm, config.upload_throttle_status) == (True, 120.0, 503)
    assert config.two_profile_folders_rate > 0


def test_list_all_folders_is_flat_by_name_and_paginated(make_sandbox: MakeSandbox) -> None:
    """GET /users/:id/folders (FoldersController#list_all_folders): every active folder, by name, 10 a page by
    default with a next link; the admin may read it."""
    sb = make_sandbox()
    user = student(sb)
    admin = api(sb)
    sb.state.add_second_profile_pictures_folder(user.id, empty=True)
    upload(sb, admin, user.id, jpeg())  # makes "my files/profile pictures"
    listed = admin.get(f"{sb.base_url}/api/v1/users/{user.id}/folders", params={"per_page": 100})
    names = [f["full_name"] for f in listed.json()]
    assert listed.status_code == 200
    assert names == [
        "my files",
        "my files/Old Files",
        "my files/Old Files/profile pictures",
        "my files/profile pictures",
    ]
    first = admin.get(f"{sb.base_url}/api/v1/users/{user.id}/folders", params={"per_page": 2})
    assert len(first.json()) == 2 and "next" in first.links
