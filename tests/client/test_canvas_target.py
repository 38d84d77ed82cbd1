"""CanvasTarget against a mocked Canvas: listing, lookups, the masqueraded upload, assignment and its failures."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from responses import matchers

from profilesync.engine.model import RemoteUser, SyncRecord, Uploaded
from profilesync.engine.ports import AvatarPending
from profilesync.errors import (
    FatalRemoteError,
    PermissionDeniedError,
    QuotaError,
    RemoteError,
    TransientError,
)
from profilesync.targets.canvas.avatars import OUR_FILE_NAMES, THUMBNAIL_POLL_DELAYS_S, avatar_ref
from profilesync.targets.canvas.refusals import MASQUERADE_REFUSALS_BEFORE_FATAL
from profilesync.targets.canvas.target import CanvasTarget
from profilesync.targets.canvas.upload import UPLOAD_ATTEMPTS

from .conftest import BASE, TOKEN, calls_to, multipart_fields

AVATAR_FILE_NAME = OUR_FILE_NAMES[0]  # the name of our first upload for a user
LISTING = f"{BASE}/api/v1/accounts/self/users"
PREFLIGHT = f"{BASE}/api/v1/users/self/files"
INSTFS = "https://inst-fs.test/files"
FILES_API = f"{BASE}/files_api"
AVATARS = f"{BASE}/api/v1/users/1001/avatars"
USER_URL = f"{BASE}/api/v1/users/1001"
FILE_URL = f"{BASE}/api/v1/files/5678"
CONFIRM = f"{BASE}/api/v1/files/5678/create_success"
THUMB = f"{BASE}/images/thumbnails/5678/Zx9Quuid"
OLD_THUMB = f"{BASE}/images/thumbnails/1111/oldUuid"
DEFAULT_AVATAR = f"{BASE}/images/messages/avatar-50.png"
IMAGE = b"\xff\xd8\xff\xe0fake jpeg bytes\xff\xd9"
USER = RemoteUser(user_id="1001", key="S1001", name="Ada Lovelace", avatar_ref=None)
INSTFS_PARAMS = {"filename": AVATAR_FILE_NAME, "content_type": "image/jpeg"}
LOCAL_PARAMS = {
    "Filename": AVATAR_FILE_NAME,
    "key": "attachments/5678/profilesync-avatar.jpg",
    "acl": "private",
    "Policy": "cG9saWN5",
    "Signature": "c2lnbmF0dXJl",
    "content-type": "image/jpeg",
}
FILE_JSON = {"id": 5678, "uuid": "Zx9Quuid", "display_name": AVATAR_FILE_NAME, "upload_status": "success"}


def user_json(**overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "id": 1001,
        "name": "Ada Lovelace",
        "sortable_name": "Lovelace, Ada",
        "short_name": "Ada Lovelace",
        "sis_user_id": "S1001",
        "integration_id": None,
        "login_id": "ada@example.edu",
        "avatar_url": DEFAULT_AVATAR,
    }
    raw.update(overrides)
    return {k: v for k, v in raw.items() if v is not ...}


def option(file_id: int = 5678, token: str = "tok-5678", uuid: str = "Zx9Quuid") -> dict[str, Any]:
    url = f"{BASE}/images/thumbnails/{file_id}/{uuid}"
    return {"id": file_id, "uuid": uuid, "type": "attachment", "url": url, "token": token, "display_name": "x.jpg"}


GRAVATAR = {"type": "gravatar", "url": "https://secure.gravatar.com/avatar/abc", "token": "tok-g"}
NO_PIC = {"type": "no_pic", "url": f"{BASE}/images/dotted_pic.png", "token": "tok-n"}


def options(*attachments: dict[str, Any]) -> list[dict[str, Any]]:
    return [GRAVATAR, *attachments, NO_PIC]


def add_preflight(rsps: responses.RequestsMock, upload_url: str = INSTFS, **extra: Any) -> None:
    params = extra.pop("upload_params", INSTFS_PARAMS)
    body = {"upload_url": upload_url, "upload_params": params, "file_param": extra.pop("file_param", "file")}
    rsps.add(responses.POST, PREFLIGHT, json=body, **extra)


def add_assign(rsps: responses.RequestsMock, *, avatar_url: str = THUMB) -> None:
    rsps.add(responses.GET, AVATARS, json=options(option(), option(1111, "tok-1111", "oldUuid")))
    rsps.add(responses.PUT, USER_URL, json=user_json(avatar_url=avatar_url, avatar_state="approved"))


def add_instfs_upload(rsps: responses.RequestsMock, **answer: Any) -> None:
    """The inst-fs flow: preflight, 201 from the upload host, avatar options, the PUT."""
    add_preflight(rsps)
    rsps.add(responses.POST, INSTFS, status=201, **(answer or {"json": {**FILE_JSON, "location": FILE_URL}}))
    add_assign(rsps)


def add_local_upload(rsps: responses.RequestsMock, status: int = 302) -> None:
    """The local-storage flow up to the confirm redirect: preflight to /files_api, a 3xx to create_success."""
    add_preflight(rsps, FILES_API, upload_params=LOCAL_PARAMS, file_param="attachment[uploaded_data]")
    location = f"{CONFIRM}?uuid=Zx9Quuid&include%5B%5D=avatar"
    rsps.add(responses.POST, FILES_API, status=status, headers={"Location": location})


def api_calls(rsps: responses.RequestsMock) -> list[Any]:
    return [c for c in rsps.calls if str(c.request.url).startswith(f"{BASE}/api/")]


def record(file_id: str | None = "5678") -> SyncRecord:
    return SyncRecord(
        target_id=f"canvas:{BASE}",
        key="S1001",
        user_id="1001",
        photo_sha256="aaa",
        file_id=file_id,
        file_uuid="Zx9Quuid" if file_id else None,
        avatar_url=THUMB,
        avatar_ref="attachment:5678/Zx9Quuid",
        synced_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


# -- listing ------------------------------------------------------------------------------------------------


def test_list_users_maps_user_json(rsps: responses.RequestsMock, target: CanvasTarget) -> None:
    """Each listed user becomes a RemoteUser keyed by sis_user_id, with the thumbnail as attachment ref."""
    rsps.add(responses.GET, LISTING, json=[user_json(avatar_url=THUMB)])
    assert list(target.list_users()) == [
        RemoteUser(
            user_id="1001", key="S1001", name="Ada Lovelace", avatar_ref="attachment:5678/Zx9Quuid", avatar_url=THUMB
        )
    ]


def test_list_users_asks_for_avatars_100_per_page(rsps: responses.RequestsMock, target: CanvasTarget) -> None:
    """The listing sends include[]=avatar_url, sort=id (bookmark pages) and per_page=100 to the account's users."""
    query = matchers.query_param_matcher({"include[]": "avatar_url", "sort": "id", "per_page": "100"})
    rsps.add(responses.GET, LISTING, json=[user_json()], match=[query])
    assert len(list(target.list_users())) == 1


def test_list_users_null_sis_id_has_no_key(rsps: responses.RequestsMock, target: CanvasTarget) -> None:
    """A user whose login has no SIS id (null) gets key None."""
    rsps.add(responses.GET, LISTING, json=[user_json(sis_user_id=None)])
    assert next(target.list_users()).key is None


@pytest.mark.parametrize(
    "url",
    [
        DEFAULT_AVATAR,
        "https://du11hjcvx0uqb.cloudfront.net/dist/images/messages/avatar-50.png",
        "https://cdn.canvas.test/images/messages/avatar-50.png?v=2",
    ],
)
def test_default_avatar_on_any_host_is_no_avatar(rsps: responses.RequestsMock, target: CanvasTarget, url: str) -> None:
    """The fallback avatar is recognised by its path, on Canvas's host or a CDN: avatar_ref None."""
    rsps.add(responses.GET, LISTING, json=[user_json(avatar_url=url)])
    user = next(target.list_users())
    assert user.avatar_ref is None
    assert user.avatar_url == url


def test_avatar_ref_of_other_urls() -> None:
    """Thumbnails become attachment:<id>/<uuid>, other avatars keep their URL, nothing is None."""
    assert avatar_ref("https://other.host/images/thumbnails/42/u-u-i-d?x=1") == "attachment:42/u-u-i-d"
    assert avatar_ref("https://secure.gravatar.com/avatar/abc?s=50") == "https://secure.gravatar.com/avatar/abc?s=50"
    assert avatar_ref(None) is None
    assert avatar_ref("") is None


def test_list_users_follows_pages(rsps: responses.RequestsMock, target: CanvasTarget) -> None:
    """Users from every page are streamed; the empty page past the end stops the listing."""
    nxt = f"{LISTING}?include%5B%5D=avatar_url&page=2&per_page=100"
    page1 = [user_json(id=i, sis_user_id=f"S{i}") for i in range(100)]
    rsps.add(
        responses.GET,
        LISTING,
        json=page1,
        headers={"Link": f'<{nxt}>; rel="next"'},
        match=[matchers.query_param_matcher({"include[]": "avatar_url", "sort": "id", "per_page": "100"})],
    )
    end = f"{LISTING}?include%5B%5D=avatar_url&page=3&per_page=100"
    rsps.add(responses.GET, nxt, json=[], headers={"Link": f'<{end}>; rel="next"'})
    keys = [u.key for u in target.list_users()]
    assert keys == [f"S{i}" for i in range(100)]
    assert len(rsps.calls) == 2


def test_list_users_without_avatar_url_is_fatal(rsps: responses.RequestsMock, target: CanvasTarget) -> None:
    """An absent avatar_url key means avatars are disabled: the run stops with advice."""
    rsps.add(responses.GET, LISTING, json=[user_json(avatar_url=...)])
    with pytest.raises(FatalRemoteError, match="avatars are disabled") as caught:
        list(target.list_users())
    assert "profile pictures" in str(caught.value.advice)


def test_list_users_without_sis_user_id_names_the_permission(
    rsps: responses.RequestsMock, target: CanvasTarget
) -> None:
    """An absent sis_user_id key (no read_sis) stops the run naming the missing permission."""
    rsps.add(responses.GET, LISTING, json=[user_json(sis_user_id=..., integration_id=...)])
    with pytest.raises(FatalRemoteError, match="sis_user_id") as caught:
        list(target.list_users())
    assert "view SIS information" in str(caught.value.advice)
    assert "read_sis" in str(caught.value.advice)


def test_list_users_by_login_without_login_id_names_the_permission(
    rsps: responses.RequestsMock, make_target: Any
) -> None:
    """Matching by login without view_user_logins names that permission."""
    rsps.add(responses.GET, LISTING, json=[user_json(login_id=...)])
    with pytest.raises(FatalRemoteError) as caught:
        list(make_target("login_id").target.list_users())
    assert "view_user_logins" in str(caught.value.advice)


def test_list_users_by_email_asks_for_email_and_casefolds(rsps: responses.RequestsMock, make_target: Any) -> None:
    """match=email adds include[]=email and compares emails case-folded."""
    query = matchers.query_param_matcher({"include[]": ["avatar_url", "email"], "sort": "id", "per_page": "100"})
    rsps.add(responses.GET, LISTING, json=[user_json(email="Ada.Lovelace@Example.EDU")], match=[query])
    user = next(make_target("email").target.list_users())
    assert user.key == "ada.lovelace@example.edu"


def test_list_users_of_an_empty_account(rsps: responses.RequestsMock, target: CanvasTarget) -> None:
    """An account with no users lists nothing and raises nothing."""
    rsps.add(responses.GET, LISTING, json=[])
    assert list(target.list_users()) == []


# -- find_user ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "path"),
    [
        ("S1001", "sis_user_id:S1001"),
        ("00123", "sis_user_id:00123"),
        ("CS/101", "sis_user_id:CS%2F101"),
        ("Ada Lovelace", "sis_user_id:Ada%20Lovelace"),
        ("A+B", "sis_user_id:A%2BB"),
        ("what?#x", "sis_user_id:what%3F%23x"),
        ("100%", "sis_user_id:100%25"),
        ("CS/101.11é", "sis_user_id:CS%2F101.11%C3%A9"),
        ("john.smith", "sis_user_id:john.smith"),
        ("john.json", "hex:sis_user_id:6a6f686e2e6a736f6e"),
        ("A/B.JSON", "hex:sis_user_id:412f422e4a534f4e"),
    ],
)
def test_find_user_encodes_the_sis_id_in_the_path(
    rsps: responses.RequestsMock, target: CanvasTarget, key: str, path: str
) -> None:
    """The exact URL requests sends escapes / space + ? # %, keeps zeros, and uses hex: for a trailing .json."""
    rsps.add(responses.GET, re.compile(rf"{re.escape(BASE)}/api/v1/users/.*"), json=user_json(sis_user_id=key))
    user = target.find_user(key)
    assert rsps.calls[0].request.url == f"{BASE}/api/v1/users/{path}"
    assert user is not None and user.key == key


def test_find_user_returns_the_remote_user(rsps: responses.RequestsMock, target: CanvasTarget) -> None:
    """A found user comes back as a RemoteUser with their current avatar."""
    rsps.add(responses.GET, f"{BASE}/api/v1/users/sis_user_id:S1001", json=user_json(avatar_url=THUMB))
    user = target.find_user("S1001")
    assert user is not None
    assert (user.user_id, user.key, user.avatar_ref) == ("1001", "S1001", "attachment:5678/Zx9Quuid")


def test_find_user_404_is_none(rsps: responses.RequestsMock, target: CanvasTarget) -> None:
    """An unknown SIS id (404) is None, not an error."""
    body = {"errors": [{"message": "The specified resource does not exist."}]}
    rsps.add(responses.GET, f"{BASE}/api/v1/users/sis_user_id:NOPE", status=404, json=body)
    assert target.find_user("NOPE") is None


def test_find_user_deleted_user_is_none(rsps: responses.RequestsMock, target: CanvasTarget) -> None:
    """A deleted user answers 404 with a full user body: still None."""
    rsps.add(responses.GET, f"{BASE}/api/v1/users/sis_user_id:S1001", status=404, json=user_json())
    assert target.find_user("S1001") is None


def test_find_user_by_login_uses_sis_login_id(rsps: responses.RequestsMock, make_target: Any) -> None:
    """match=login_id looks up sis_login_id:<login> and folds the key's case."""
    rsps.add(responses.GET, f"{BASE}/api/v1/users/sis_login_id:Ada%40Example.edu", json=user_json())
    user = make_target("login_id").target.find_user("Ada@Example.edu")
    assert user is not None and user.key == "ada@example.edu"


def test_find_user_by_email_searches_for_the_exact_address(rsps: responses.RequestsMock, make_target: Any) -> None:
    """match=email searches the account and returns only the user whose email equals the key, folded."""
    query = matchers.query_param_matcher(
        {"search_term": "Ada@Example.edu", "include[]": ["avatar_url", "email"], "per_page": "100"}
    )
    found = [
        user_json(id=1, email="ada@example.edu.evil"),
        user_json(id=2, email="ADA@example.edu"),
    ]
    rsps.add(responses.GET, LISTING, json=found, match=[query])
    user = make_target("email").target.find_user("Ada@Example.edu")
    assert user is not None and user.user_id == "2"


def test_find_user_checks_avatars_are_enabled(rsps: responses.RequestsMock, target: CanvasTarget) -> None:
    """A looked-up user without avatar_url means avatars are disabled: fatal."""
    rsps.add(responses.GET, f"{BASE}/api/v1/users/sis_user_id:S1001", json=user_json(avatar_url=...))
    with pytest.raises(FatalRemoteError, match="avatars are disabled"):
        target.find_user("S1001")


# -- upload_avatar: the inst-fs flow ---------------------------------------------------------------------


def test_preflight_asks_as_the_user_for_the_profile_pictures_folder(
    rsps: responses.RequestsMock, target: CanvasTarget
) -> None:
    """The preflight masquerades and names the stable file, its size and type, the folder and overwrite."""
    add_instfs_upload(rsps)
    target.upload_avatar(USER, IMAGE)
    sent = calls_to(rsps, "POST", PREFLIGHT)[0].request
    assert parse_qs(urlsplit(sent.url).query) == {"as_user_id": ["1001"]}
    assert parse_qs(sent.body) == {
        "name": [AVATAR_FILE_NAME],
        "size": [str(len(IMAGE))],
        "content_type": ["image/jpeg"],
        "parent_folder_path": ["profile pictures"],
        "on_duplicate": ["overwrite"],
    }
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"


def test_upload_to_inst_fs_carries_no_token(rsps: responses.RequestsMock, target: CanvasTarget) -> None:
    """The bytes go to the foreign upload host without any Authorization header."""
    add_instfs_upload(rsps)
    target.upload_avatar(USER, IMAGE)
    (upload,) = calls_to(rsps, "POST", INSTFS)
    assert "Authorization" not in upload.request.headers
    assert TOKEN not in str(upload.request.headers)
    assert TOKEN.encode() not in upload.request.body


def test_upload_sends_every_param_then_the_file_last(rsps: responses.RequestsMock, target: CanvasTarget) -> None:
    """The multipart body holds every upload_param unchanged, in order, then the file under file_param."""
    add_local_upload(rsps)
    rsps.add(responses.POST, CONFIRM, json=FILE_JSON)
    add_assign(rsps)
    target.upload_avatar(USER, IMAGE)
    (upload,) = calls_to(rsps, "POST", FILES_API)
    fields = multipart_fields(upload.request)
    assert [(name, value.decode()) for name, value, _ in fields[:-1]] == list(LOCAL_PARAMS.items())
    assert fields[-1] == ("attachment[uploaded_data]", IMAGE, AVATAR_FILE_NAME)


def test_upload_to_canvas_own_files_api_carries_no_token(rsps: responses.RequestsMock, target: CanvasTarget) -> None:
    """Even when upload_url is on Canvas's host (/files_api), the upload POST has no Authorization header."""
    add_local_upload(rsps)
    rsps.add(responses.POST, CONFIRM, json=FILE_JSON)
    add_assign(rsps)
    target.upload_avatar(USER, IMAGE)
    (upload,) = calls_to(rsps, "POST", FILES_API)
    assert "Authorization" not in upload.request.headers


def test_inst_fs_201_with_id_needs_three_api_requests(rsps: responses.RequestsMock, target: CanvasTarget) -> None:
    """The common case costs exactly preflight, avatars and PUT on the API, plus one upload POST."""
    add_instfs_upload(rsps)
    target.upload_avatar(USER, IMAGE)
    assert [(c.request.method, urlsplit(c.request.url).path) for c in api_calls(rsps)] == [
        ("POST", "/api/v1/users/self/files"),
        ("GET", "/api/v1/users/1001/avatars"),
        ("PUT", "/api/v1/users/1001"),
    ]
    assert target.api.requests_made == 3
    assert target.uploads_made == 1


def test_upload_returns_the_verified_avatar(rsps: responses.RequestsMock, target: CanvasTarget) -> None:
    """upload_avatar returns the file id, uuid, the avatar_url Canvas shows and its ref."""
    add_instfs_upload(rsps)
    assert target.upload_avatar(USER, IMAGE) == Uploaded(
        file_id="5678",
        file_uuid="Zx9Quuid",
        avatar_url=THUMB,
        avatar_ref="attachment:5678/Zx9Quuid",
        file_name=AVATAR_FILE_NAME,
    )


def test_inst_fs_201_with_only_location_reads_the_file(rsps: responses.RequestsMock, target: CanvasTarget) -> None:
    """A 201 naming only the location makes one GET of it, with the token, to learn the file id."""
    location = f"{FILE_URL}?include%5B%5D=enhanced_preview_url"
    add_instfs_upload(rsps, json={"location": location})
    rsps.add(responses.GET, FILE_URL, json=FILE_JSON)
    uploaded = target.upload_avatar(USER, IMAGE)
    (read,) = calls_to(rsps, "GET", FILE_URL)
    assert read.request.url == location
    assert read.request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert uploaded.file_id == "5678"
    assert target.api.requests_made == 4


def test_avatar_options_are_polled_until_the_file_appears(rsps: responses.RequestsMock, target: CanvasTarget) -> None:
    """A new file missing from /avatars (no thumbnail yet) is polled for, with a short pause."""
    add_preflight(rsps)
    rsps.add(responses.POST, INSTFS, status=201, json=FILE_JSON)
    rsps.add(responses.GET, AVATARS, json=options(option(1111, "tok-1111", "oldUuid")))
    rsps.add(responses.GET, AVATARS, json=options(option(1111, "tok-1111", "oldUuid")))
    rsps.add(responses.GET, AVATARS, json=options(option(), option(1111, "tok-1111", "oldUuid")))
    rsps.add(responses.PUT, USER_URL, json=user_json(avatar_url=THUMB))
    assert target.upload_avatar(USER, IMAGE).file_id == "5678"
    assert len(calls_to(rsps, "GET", AVATARS)) == 3


def test_a_poll_whose_read_keeps_failing_is_followed_by_the_next_poll(
    rsps: responses.RequestsMock, target: CanvasTarget
) -> None:
    """While polling for a new file, an avatar-options read that fails through all its retries is not the user's
    failure: the next poll reads again and the avatar is set."""
    add_preflight(rsps)
    rsps.add(responses.POST, INSTFS, status=201, json=FILE_JSON)
    failing_read = target.api.retry.attempts + 1  # the first try and every retry
    for _ in range(failing_read):
        rsps.add(responses.GET, AVATARS, status=502, json={"errors": [{"message": "An error occurred."}]})
    rsps.add(responses.GET, AVATARS, json=options(option()))
    rsps.add(responses.PUT, USER_URL, json=user_json(avatar_url=THUMB))
    assert target.upload_avatar(USER, IMAGE).file_id == "5678"
    assert len(calls_to(rsps, "GET", AVATARS)) == failing_read + 1


def test_avatar_poll_pauses_follow_the_schedule(rsps: responses.RequestsMock, make_target: Any) -> None:
    """The pauses between avatar polls come from the poll schedule, through the injected sleep."""
    made = make_target()
    add_preflight(rsps)
    rsps.add(responses.POST, INSTFS, status=201, json=FILE_JSON)
    rsps.add(responses.GET, AVATARS, json=options())
    rsps.add(responses.GET, AVATARS, json=options(option()))
    rsps.add(responses.PUT, USER_URL, json=user_json(avatar_url=THUMB))
    made.target.upload_avatar(USER, IMAGE)
    assert made.pauses == [THUMBNAIL_POLL_DELAYS_S[1]]


def test_avatar_is_set_by_token_as_the_admin(rsps: responses.RequestsMock, target: CanvasTarget) -> None:
    """The PUT sends our file's token (not another option's) and does not masquerade."""
    add_instfs_upload(rsps)
    target.upload_avatar(USER, IMAGE)
    (put,) = calls_to(rsps, "PUT", USER_URL)
    assert parse_qs(put.request.body) == {"user[avatar][token]": ["tok-5678"]}
    assert "as_user_id" not in put.request.url
    assert put.request.headers["Authorization"] == f"Bearer {TOKEN}"
    (avatars,) = calls_to(rsps, "GET", AVATARS)
    assert "as_user_id" not in avatars.request.url


# -- upload_avatar: the local-storage flow ----------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307])
def test_redirect_is_confirmed_once_with_the_token(
    rsps: responses.RequestsMock, target: CanvasTarget, status: int
) -> None:
    """A 3xx from the upload host is confirmed by one POST to its Location, with the token."""
    add_local_upload(rsps, status)
    rsps.add(responses.POST, CONFIRM, json=FILE_JSON)
    add_assign(rsps)
    assert target.upload_avatar(USER, IMAGE).file_id == "5678"
    (confirm,) = calls_to(rsps, "POST", CONFIRM)
    assert confirm.request.url == f"{CONFIRM}?uuid=Zx9Quuid&include%5B%5D=avatar"
    assert confirm.request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert calls_to(rsps, "GET", FILE_URL) == []


@pytest.mark.parametrize(
    "failure",
    [
        {"body": requests.ConnectionError("answer lost")},
        {"status": 400, "body": ""},
        {"status": 502, "body": "bad gateway"},
    ],
    ids=["lost-answer", "400-already-confirmed", "502"],
)
def test_failed_confirm_falls_back_to_reading_the_file(
    rsps: responses.RequestsMock, target: CanvasTarget, failure: dict[str, Any]
) -> None:
    """A lost or refused confirm is never repeated: the file is read with GET /files/:id instead."""
    add_local_upload(rsps)
    rsps.add(responses.POST, CONFIRM, **failure)
    rsps.add(responses.GET, FILE_URL, json=FILE_JSON)
    add_assign(rsps)
    assert target.upload_avatar(USER, IMAGE).file_id == "5678"
    assert len(calls_to(rsps, "POST", CONFIRM)) == 1
    assert len(calls_to(rsps, "GET", FILE_URL)) == 1
    assert len(calls_to(rsps, "POST", PREFLIGHT)) == 1


def test_redirect_to_another_host_is_not_followed(rsps: responses.RequestsMock, target: CanvasTarget) -> None:
    """A confirm Location on a foreign host is refused; nothing is sent there."""
    add_preflight(rsps, FILES_API, upload_params=LOCAL_PARAMS)
    rsps.add(responses.POST, FILES_API, status=302, headers={"Location": "https://evil.test/api/v1/files/5/x"})
    with pytest.raises(RemoteError, match="unexpected host"):
        target.upload_avatar(USER, IMAGE)
    assert calls_to(rsps, "POST", "https://evil.test") == []


# -- quota, masquerade and upload-host failures ---------------------------------------------------------


def test_quota_at_preflight_is_quota_error(rsps: responses.RequestsMock, target: CanvasTarget) -> None:
    """The early 400 "file size exceeds quota" becomes QuotaError and nothing is uploaded."""
    rsps.add(responses.POST, PREFLIGHT, status=400, json={"message": "file size exceeds quota"})
    with pytest.raises(QuotaError) as caught:
        target.upload_avatar(USER, IMAGE)
    assert caught.value.kind == "quota"
    assert target.uploads_made == 0
    assert len(rsps.calls) == 1


def test_quota_at_confirm_is_quota_error(rsps: responses.RequestsMock, target: CanvasTarget) -> None:
    """The late 400 "file size exceeds quota limits" at confirm becomes QuotaError, without reading the file."""
    add_local_upload(rsps)
    rsps.add(responses.POST, CONFIRM, status=400, json={"message": "file size exceeds quota limits"})
    with pytest.raises(QuotaError):
        target.upload_avatar(USER, IMAGE)
    assert calls_to(rsps, "GET", FILE_URL) == []


def test_quota_from_the_upload_host_is_quota_error(rsps: responses.RequestsMock, target: CanvasTarget) -> None:
    """inst-fs relaying the late quota failure is a QuotaError too, with no second attempt."""
    add_preflight(rsps)
    rsps.add(responses.POST, INSTFS, status=400, json={"message": "file size exceeds quota limits"})
    with pytest.raises(QuotaError):
        target.upload_avatar(USER, IMAGE)
    assert len(calls_to(rsps, "POST", PREFLIGHT)) == 1


MASQUERADE_REFUSED: dict[str, Any] = {"status": 401, "json": {"errors": "Invalid as_user_id"}}


def test_masquerade_refused_fails_the_user(rsps: responses.RequestsMock, target: CanvasTarget) -> None:
    """A 401 "Invalid as_user_id" at preflight fails that user alone (masquerade_refused), saying why."""
    rsps.add(responses.POST, PREFLIGHT, **MASQUERADE_REFUSED)
    with pytest.raises(PermissionDeniedError) as caught:
        target.upload_avatar(USER, IMAGE)
    assert caught.value.kind == "masquerade_refused"
    assert "Invalid as_user_id" in caught.value.message
    assert "merged" in str(caught.value.advice) and "no login in this root account" in str(caught.value.advice)
    assert target.uploads_made == 0


def test_masquerade_never_working_becomes_fatal(rsps: responses.RequestsMock, target: CanvasTarget) -> None:
    """Twenty distinct users refused without one accepted stop the run, naming "Become other users"."""
    rsps.add(responses.POST, PREFLIGHT, **MASQUERADE_REFUSED)
    count = MASQUERADE_REFUSALS_BEFORE_FATAL
    users = [RemoteUser(user_id=str(1001 + i), key=f"S{i}", name="x", avatar_ref=None) for i in range(count)]
    for user in users[:-1]:
        with pytest.raises(PermissionDeniedError):
            target.upload_avatar(user, IMAGE)
    with pytest.raises(FatalRemoteError) as caught:
        target.upload_avatar(users[-1], IMAGE)
    assert "Become other users" in str(caught.value.advice)
    assert "act as" in str(caught.value)


def test_masquerade_refusals_after_a_success_stay_per_user(rsps: responses.RequestsMock, target: CanvasTarget) -> None:
    """Once masquerading worked this run, later refusals only fail their own users."""
    add_instfs_upload(rsps)
    target.upload_avatar(USER, IMAGE)
    rsps.replace(responses.POST, PREFLIGHT, **MASQUERADE_REFUSED)
    for _ in range(5):
        with pytest.raises(PermissionDeniedError):
            target.upload_avatar(USER, IMAGE)


def test_revoked_token_at_preflight_is_fatal_not_masquerade(rsps: responses.RequestsMock, target: CanvasTarget) -> None:
    """A token revoked mid-run stops the run with token advice, not as a per-user masquerade refusal."""
    add_instfs_upload(rsps)
    target.upload_avatar(USER, IMAGE)
    rsps.replace(responses.POST, PREFLIGHT, status=401, json={"errors": [{"message": "Revoked access token."}]})
    with pytest.raises(FatalRemoteError) as caught:
        target.upload_avatar(USER, IMAGE)
    assert "token" in caught.value.message
    assert "act as" not in str(caught.value)


def test_failing_upload_host_redoes_the_preflight(rsps: responses.RequestsMock, make_target: Any) -> None:
    """A 500 from the upload host starts over with a new preflight, after a pause, and then succeeds."""
    made = make_target()
    add_preflight(rsps)
    rsps.add(responses.POST, INSTFS, status=500, body="oops")
    rsps.add(responses.POST, INSTFS, status=201, json=FILE_JSON)
    add_assign(rsps)
    assert made.target.upload_avatar(USER, IMAGE).file_id == "5678"
    assert len(calls_to(rsps, "POST", PREFLIGHT)) == 2
    assert len(calls_to(rsps, "POST", INSTFS)) == 2
    assert made.pauses == [0.5]


def test_dropped_upload_connection_is_redone_at_most_upload_attempts_times(
    rsps: responses.RequestsMock, make_target: Any
) -> None:
    """An upload host that keeps dropping the connection fails the user after 5 full attempts."""
    made = make_target()
    add_preflight(rsps)
    rsps.add(responses.POST, INSTFS, body=requests.ConnectionError("reset"))
    with pytest.raises(TransientError, match="did not answer"):
        made.target.upload_avatar(USER, IMAGE)
    assert len(calls_to(rsps, "POST", PREFLIGHT)) == UPLOAD_ATTEMPTS == 5
    assert len(calls_to(rsps, "POST", INSTFS)) == 5
    assert made.pauses == [0.5, 1.0, 2.0, 4.0]


def test_upload_host_refusal_is_not_redone(rsps: responses.RequestsMock, target: CanvasTarget) -> None:
    """A 4xx from the upload host (an expired policy) fails the user at once."""
    add_preflight(rsps)
    rsps.add(responses.POST, INSTFS, status=400, body="")
    with pytest.raises(RemoteError, match="refused"):
        target.upload_avatar(USER, IMAGE)
    assert len(calls_to(rsps, "POST", PREFLIGHT)) == 1


def test_preflight_5xx_is_retried(rsps: responses.RequestsMock, target: CanvasTarget) -> None:
    """The preflight is harmless to repeat, so a 5xx there is retried like a GET."""
    rsps.add(responses.POST, PREFLIGHT, status=503, body="busy")
    add_instfs_upload(rsps)
    assert target.upload_avatar(USER, IMAGE).file_id == "5678"
    assert len(calls_to(rsps, "POST", PREFLIGHT)) == 2


def test_preflight_without_upload_url_is_an_error(rsps: responses.RequestsMock, target: CanvasTarget) -> None:
    """A preflight answer with no upload_url fails the user."""
    rsps.add(responses.POST, PREFLIGHT, json={"progress": None})
    with pytest.raises(RemoteError, match="upload_url"):
        target.upload_avatar(USER, IMAGE)


# -- assignment and verification ---------------------------------------------------------------------------


def test_silent_noop_put_refetches_the_token_once_then_fails(
    rsps: responses.RequestsMock, target: CanvasTarget
) -> None:
    """A 200 PUT that leaves the old avatar gets one fresh token and retry, then RemoteError with advice."""
    add_preflight(rsps)
    rsps.add(responses.POST, INSTFS, status=201, json=FILE_JSON)
    rsps.add(responses.GET, AVATARS, json=options(option(token="stale")))
    rsps.add(responses.GET, AVATARS, json=options(option(token="fresh")))
    rsps.add(responses.PUT, USER_URL, json=user_json(avatar_url=OLD_THUMB))
    with pytest.raises(RemoteError, match="did not change") as caught:
        target.upload_avatar(USER, IMAGE)
    assert "locked" in str(caught.value.advice)
    puts = calls_to(rsps, "PUT", USER_URL)
    assert [parse_qs(p.request.body)["user[avatar][token]"] for p in puts] == [["stale"], ["fresh"]]
    assert len(calls_to(rsps, "GET", AVATARS)) == 2


def test_silent_noop_then_fresh_token_succeeds(rsps: responses.RequestsMock, target: CanvasTarget) -> None:
    """When the fresh token works on the second PUT, the upload is verified."""
    add_preflight(rsps)
    rsps.add(responses.POST, INSTFS, status=201, json=FILE_JSON)
    rsps.add(responses.GET, AVATARS, json=options(option()))
    rsps.add(responses.PUT, USER_URL, json=user_json(avatar_url=DEFAULT_AVATAR))
    rsps.add(responses.PUT, USER_URL, json=user_json(avatar_url=THUMB))
    assert target.upload_avatar(USER, IMAGE).avatar_url == THUMB
    assert len(calls_to(rsps, "PUT", USER_URL)) == 2


def test_file_that_never_appears_is_pending(rsps: responses.RequestsMock, make_target: Any) -> None:
    """A file missing from /avatars through the whole poll schedule is AvatarPending naming the uploaded
    file (for the history), without a PUT: the user keeps the picture they had."""
    made = make_target()
    add_preflight(rsps)
    rsps.add(responses.POST, INSTFS, status=201, json=FILE_JSON)
    rsps.add(responses.GET, AVATARS, json=options(option(1111, "tok-1111", "oldUuid")))
    with pytest.raises(AvatarPending, match="thumbnail yet") as raised:
        made.target.upload_avatar(USER, IMAGE)
    assert isinstance(raised.value, TransientError)
    assert raised.value.uploaded == Uploaded("5678", "Zx9Quuid", None, None, AVATAR_FILE_NAME)
    assert len(calls_to(rsps, "GET", AVATARS)) == len(THUMBNAIL_POLL_DELAYS_S)
    assert made.pauses == [d for d in THUMBNAIL_POLL_DELAYS_S if d]
    assert calls_to(rsps, "PUT", USER_URL) == []
    assert len(calls_to(rsps, "POST", PREFLIGHT)) == 1


def test_reassign_puts_the_existing_file_back(rsps: responses.RequestsMock, target: CanvasTarget) -> None:
    """A file still among the options is reassigned by one avatars read and one PUT, no upload."""
    add_assign(rsps)
    uploaded = target.reassign_avatar(USER, record())
    assert uploaded == Uploaded(
        file_id="5678", file_uuid="Zx9Quuid", avatar_url=THUMB, avatar_ref="attachment:5678/Zx9Quuid"
    )
    assert [c.request.method for c in rsps.calls] == ["GET", "PUT"]
    assert target.uploads_made == 0


def test_reassign_of_a_deleted_file_is_none(rsps: responses.RequestsMock, make_target: Any) -> None:
    """A file no longer among the options gives None after one read, with no PUT and no pause."""
    made = make_target()
    rsps.add(responses.GET, AVATARS, json=options(option(9999, "tok-9999")))
    assert made.target.reassign_avatar(USER, record()) is None
    assert [c.request.method for c in rsps.calls] == ["GET"]
    assert made.pauses == []


def test_reassign_without_a_file_is_none(rsps: responses.RequestsMock, target: CanvasTarget) -> None:
    """A history record without a file id needs no request at all."""
    assert target.reassign_avatar(USER, record(file_id=None)) is None
    assert len(rsps.calls) == 0


def test_preflight_answered_with_html_is_a_remote_error(rsps: responses.RequestsMock, target: CanvasTarget) -> None:
    """A preflight answered 200 with a non-JSON page fails the user with a RemoteError, not a crash."""
    rsps.add(responses.POST, PREFLIGHT, body="<html><body>maintenance</body></html>", content_type="text/html")
    with pytest.raises(RemoteError, match="upload_url"):
        target.upload_avatar(USER, IMAGE)


def test_upload_host_non_json_answer_is_a_remote_error(rsps: responses.RequestsMock, target: CanvasTarget) -> None:
    """A 2xx non-JSON answer from the upload host with no Location fails the user with a RemoteError."""
    add_preflight(rsps)
    rsps.add(responses.POST, INSTFS, status=200, body="<html>ok</html>", content_type="text/html")
    with pytest.raises(RemoteError, match="names no file"):
        target.upload_avatar(USER, IMAGE)


def test_upload_host_location_header_names_the_file(rsps: responses.RequestsMock, target: CanvasTarget) -> None:
    """A 201 whose body is not JSON but whose Location header names the file is read from there."""
    add_preflight(rsps)
    rsps.add(responses.POST, INSTFS, status=201, body="<ok/>", headers={"Location": FILE_URL})
    rsps.add(responses.GET, FILE_URL, json=FILE_JSON)
    add_assign(rsps)
    assert target.upload_avatar(USER, IMAGE).file_id == "5678"


def test_pending_file_after_a_lost_confirm_redoes_the_upload(
    rsps: responses.RequestsMock, target: CanvasTarget
) -> None:
    """A lost confirm whose file reads back still pending is transient: a new preflight starts over."""
    add_local_upload(rsps)
    rsps.add(responses.POST, CONFIRM, body=requests.ConnectionError("lost"))
    rsps.add(responses.POST, CONFIRM, json=FILE_JSON)
    rsps.add(responses.GET, FILE_URL, json={**FILE_JSON, "upload_status": "pending"})
    add_assign(rsps)
    assert target.upload_avatar(USER, IMAGE).file_id == "5678"
    assert len(calls_to(rsps, "POST", PREFLIGHT)) == 2
    assert len(calls_to(rsps, "POST", CONFIRM)) == 2  # one per upload, never twice for one file


def test_confirm_that_never_reached_canvas_is_sent_again(rsps: responses.RequestsMock, target: CanvasTarget) -> None:
    """A failed confirm whose file reads back 404 (still pending) is sent once more, without a new upload."""
    add_local_upload(rsps)
    rsps.add(responses.POST, CONFIRM, status=502, body="bad gateway")
    rsps.add(responses.POST, CONFIRM, json=FILE_JSON)
    rsps.add(
        responses.GET, FILE_URL, status=404, json={"errors": [{"message": "The specified resource does not exist."}]}
    )
    add_assign(rsps)
    assert target.upload_avatar(USER, IMAGE).file_id == "5678"
    assert len(calls_to(rsps, "POST", CONFIRM)) == 2
    assert len(calls_to(rsps, "POST", PREFLIGHT)) == 1


def test_confirm_failing_twice_on_a_pending_file_redoes_the_upload(
    rsps: responses.RequestsMock, target: CanvasTarget
) -> None:
    """Two failed confirms of a still-pending file are transient: the upload starts over from a new preflight."""
    add_local_upload(rsps)
    rsps.add(responses.POST, CONFIRM, status=503, body="unavailable")
    rsps.add(responses.POST, CONFIRM, status=503, body="unavailable")
    rsps.add(responses.POST, CONFIRM, json=FILE_JSON)
    rsps.add(
        responses.GET, FILE_URL, status=404, json={"errors": [{"message": "The specified resource does not exist."}]}
    )
    add_assign(rsps)
    assert target.upload_avatar(USER, IMAGE).file_id == "5678"
    assert len(calls_to(rsps, "POST", PREFLIGHT)) == 2
    assert len(calls_to(rsps, "POST", CONFIRM)) == 3
