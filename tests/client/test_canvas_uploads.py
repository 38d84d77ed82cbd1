"""The Canvas client's upload rules, with a mocked transport: the upload host's "slow down", the choice of
our two file names, the second "profile pictures" folder, and recognising our own uploads."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import pytest
import responses

from profilesync.engine.model import RemoteUser, SyncRecord
from profilesync.engine.ports import AvatarPending
from profilesync.targets.canvas.avatars import OUR_FILE_NAMES, name_for_upload

from .conftest import BASE, calls_to
from .test_canvas_target import (
    AVATARS,
    CONFIRM,
    FILE_JSON,
    FILE_URL,
    FILES_API,
    IMAGE,
    INSTFS,
    OLD_THUMB,
    PREFLIGHT,
    THUMB,
    USER,
    USER_URL,
    add_assign,
    add_local_upload,
    add_preflight,
    option,
    options,
    user_json,
)

A, B = OUR_FILE_NAMES
RATE_LIMITED = "403 Forbidden (Rate Limit Exceeded)\n"


def previous(file_id: str = "1111", file_name: str | None = A) -> SyncRecord:
    return SyncRecord(
        "canvas:x",
        "S1001",
        "1001",
        "aaa",
        file_id,
        "oldUuid",
        OLD_THUMB,
        None,
        datetime.now(UTC),
        None,
        None,
        file_name,
    )


SHOWING_OLD = replace(USER, avatar_ref="attachment:1111/oldUuid", avatar_url=OLD_THUMB)


def preflight_names(rsps: responses.RequestsMock) -> list[str]:
    return [parse_qs(str(c.request.body))["name"][0] for c in calls_to(rsps, "POST", PREFLIGHT)]


# -- the upload host says "slow down" ----------------------------------------------------------------------


def test_local_storage_rate_limit_resends_the_same_upload(rsps: responses.RequestsMock, make_target: Any) -> None:
    """Canvas's 403 "Rate Limit Exceeded" from /files_api is waited out and the same upload resent: one
    preflight, no failure."""
    made = make_target()
    add_preflight(rsps, FILES_API, upload_params={"Policy": "p", "Signature": "s"})
    rsps.add(responses.POST, FILES_API, status=403, body=RATE_LIMITED, content_type="text/plain; charset=utf-8")
    rsps.add(responses.POST, FILES_API, status=302, headers={"Location": f"{CONFIRM}?uuid=Zx9Quuid"})
    rsps.add(responses.POST, CONFIRM, json=FILE_JSON)
    add_assign(rsps)
    assert made.target.upload_avatar(USER, IMAGE).file_id == "5678"
    assert len(calls_to(rsps, "POST", PREFLIGHT)) == 1 and len(calls_to(rsps, "POST", FILES_API)) == 2


@pytest.mark.parametrize("status", [429, 503])
def test_instfs_retry_after_is_honoured(rsps: responses.RequestsMock, make_target: Any, status: int) -> None:
    """inst-fs's 429, or 503 with Retry-After, waits at least the seconds asked for, then sends again."""
    made = make_target()
    add_preflight(rsps)
    rsps.add(responses.POST, INSTFS, status=status, json={"error": "slow down"}, headers={"Retry-After": "7"})
    rsps.add(responses.POST, INSTFS, status=201, json=FILE_JSON)
    add_assign(rsps)
    assert made.target.upload_avatar(USER, IMAGE).file_id == "5678"
    assert max(made.pauses) >= 7.0 and len(calls_to(rsps, "POST", PREFLIGHT)) == 1


def test_a_token_spent_while_throttled_gets_a_fresh_preflight(rsps: responses.RequestsMock, make_target: Any) -> None:
    """A 400 after waiting out a throttle (the upload token expired meanwhile) starts over with a new preflight."""
    made = make_target()
    add_preflight(rsps)
    rsps.add(responses.POST, INSTFS, status=429, headers={"Retry-After": "1"})
    rsps.add(responses.POST, INSTFS, status=400, body="")
    rsps.add(responses.POST, INSTFS, status=201, json=FILE_JSON)
    add_assign(rsps)
    assert made.target.upload_avatar(USER, IMAGE).file_id == "5678"
    assert len(calls_to(rsps, "POST", PREFLIGHT)) == 2


def test_a_plain_403_from_the_upload_host_is_not_throttling(rsps: responses.RequestsMock, target: Any) -> None:
    """A 403 without "Rate Limit Exceeded" (an invalid policy) still fails the user, once, without waiting."""
    add_preflight(rsps, FILES_API, upload_params={"Policy": "p", "Signature": "s"})
    rsps.add(responses.POST, FILES_API, status=403, body="denied")
    with pytest.raises(Exception, match="refused it"):
        target.upload_avatar(USER, IMAGE)
    assert len(calls_to(rsps, "POST", FILES_API)) == 1


# -- two names, in turn ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "record", "shown_name", "expected"),
    [
        (USER, None, None, A),  # first sync, blank avatar
        (SHOWING_OLD, previous(file_name=A), None, B),  # shows our file A: write B
        (SHOWING_OLD, previous(file_name=B), None, A),  # shows our file B: write A
        (SHOWING_OLD, previous(file_name=None), None, B),  # a record from before the two names: A was the name
        (SHOWING_OLD, previous("2222", B), None, B),  # our last file (B) is not shown (lag, own pick): reuse B
        (SHOWING_OLD, None, B, A),  # no history, the shown file is our B (looked up)
        (SHOWING_OLD, None, "me.jpg", A),  # no history, the user's own picture: nothing of ours shown
        (SHOWING_OLD, replace(previous(file_name=A), user_id="9"), A, B),  # the record is another account's
    ],
    ids=["blank", "shows-a", "shows-b", "legacy", "ours-not-shown", "new-db-b", "own-pick", "other-account"],
)
def test_the_name_written_is_never_the_one_shown(
    user: RemoteUser, record: SyncRecord | None, shown_name: str | None, expected: str
) -> None:
    """The preflight's name is the one of our two whose file the user does not show."""
    assert name_for_upload(user, record, shown_name) == expected


def test_a_changed_photo_goes_under_the_other_name(rsps: responses.RequestsMock, target: Any) -> None:
    """A user showing our earlier file A gets the new photo as B, in the 3 Canvas requests of any upload."""
    add_preflight(rsps)
    rsps.add(responses.POST, INSTFS, status=201, json=FILE_JSON)
    add_assign(rsps)
    uploaded = target.upload_avatar(SHOWING_OLD, IMAGE, previous(file_name=A))
    assert preflight_names(rsps) == [B] and uploaded.file_name == B
    assert len([c for c in rsps.calls if str(c.request.url).startswith(f"{BASE}/api/")]) == 3


def test_no_history_looks_the_shown_file_up_once(rsps: responses.RequestsMock, target: Any) -> None:
    """With no history, a user showing a file costs one options read first, so our shown B is not overwritten."""
    rsps.add(responses.GET, AVATARS, json=options({**option(1111, "tok-1111", "oldUuid"), "display_name": B}))
    add_preflight(rsps)
    rsps.add(responses.POST, INSTFS, status=201, json=FILE_JSON)
    add_assign(rsps)
    target.upload_avatar(SHOWING_OLD, IMAGE, None)
    assert preflight_names(rsps) == [A] and len(calls_to(rsps, "GET", AVATARS)) == 2


# -- a second "profile pictures" folder -----------------------------------------------------------------------


def test_an_upload_into_the_wrong_folder_is_redone_where_canvas_looks(
    rsps: responses.RequestsMock, target: Any
) -> None:
    """Options from another folder than the upload's mean Canvas looks elsewhere: the photo is uploaded again
    with that folder's id (no path), and assigned."""
    add_preflight(rsps)
    rsps.add(responses.POST, INSTFS, status=201, json={**FILE_JSON, "folder_id": 301})
    rsps.add(responses.GET, AVATARS, json=options({**option(1111, "tok-1111", "oldUuid"), "folder_id": 299}))
    rsps.add(responses.POST, INSTFS, status=201, json={**FILE_JSON, "id": 5679, "folder_id": 299})
    rsps.add(responses.GET, AVATARS, json=options({**option(5679, "tok-5679"), "folder_id": 299}))
    rsps.add(responses.PUT, USER_URL, json=user_json(avatar_url=f"{BASE}/images/thumbnails/5679/Zx9Quuid"))
    assert target.upload_avatar(USER, IMAGE).file_id == "5679"
    bodies = [parse_qs(str(c.request.body)) for c in calls_to(rsps, "POST", PREFLIGHT)]
    assert [b.get("parent_folder_path") for b in bodies] == [["profile pictures"], None]
    assert bodies[1]["parent_folder_id"] == ["299"]


# -- our own uploads --------------------------------------------------------------------------------------------


def test_own_avatars_recognises_our_names_only(rsps: responses.RequestsMock, target: Any) -> None:
    """A shown file named like ours is ours; the user's own picture and a blank avatar are not (no request
    for the blank one)."""
    mine = replace(USER, user_id="1002", avatar_ref="attachment:3333/u", avatar_url=f"{BASE}/images/thumbnails/3333/u")
    rsps.add(responses.GET, AVATARS, json=options({**option(1111, "t", "oldUuid"), "display_name": B}))
    rsps.add(
        responses.GET,
        f"{BASE}/api/v1/users/1002/avatars",
        json=options({**option(3333, "t3", "u"), "display_name": "me.jpg"}),
    )
    blank = replace(USER, user_id="1003")
    assert target.own_avatars([SHOWING_OLD, mine, blank]) == {"1001"}
    assert len(rsps.calls) == 2


def test_local_upload_still_confirms(rsps: responses.RequestsMock, target: Any) -> None:
    """The local flow (302 to the one-shot confirm) is unchanged by the throttle handling."""
    add_local_upload(rsps)
    rsps.add(responses.POST, CONFIRM, json=FILE_JSON)
    add_assign(rsps)
    assert target.upload_avatar(USER, IMAGE).avatar_url == THUMB


# -- an unfinished upload ---------------------------------------------------------------------------------------


def unfinished(hours_ago: float) -> SyncRecord:
    at = datetime.now(UTC) - timedelta(hours=hours_ago)
    return SyncRecord("canvas:x", "S1001", "1001", "aaa", "5678", "Zx9Quuid", None, None, at, None, None, B)


def test_an_unfinished_upload_still_without_thumbnail_is_waited_for(rsps: responses.RequestsMock, target: Any) -> None:
    """Not an option yet but still on Canvas: AvatarPending again, and no upload (the reassign's caller would)."""
    rsps.add(responses.GET, AVATARS, json=options(option(1111, "tok-1111", "oldUuid")))
    rsps.add(responses.GET, FILE_URL, json=FILE_JSON)
    with pytest.raises(AvatarPending, match="still has no thumbnail") as raised:
        target.reassign_avatar(SHOWING_OLD, unfinished(hours_ago=1))
    assert raised.value.uploaded.file_id == "5678" and raised.value.uploaded.file_name == B


@pytest.mark.parametrize("hours_ago", [1, 13], ids=["gone", "waited-too-long"])
def test_an_unfinished_upload_gone_or_too_old_is_uploaded_again(
    rsps: responses.RequestsMock, target: Any, hours_ago: float
) -> None:
    """Deleted meanwhile, or no thumbnail after 12 hours: reassign gives up (None) so the caller uploads again."""
    rsps.add(responses.GET, AVATARS, json=options(option(1111, "tok-1111", "oldUuid")))
    if hours_ago < 12:  # past 12 hours the file is not even looked for
        rsps.add(
            responses.GET,
            FILE_URL,
            status=404,
            json={"errors": [{"message": "The specified resource does not exist."}]},
        )
    assert target.reassign_avatar(SHOWING_OLD, unfinished(hours_ago)) is None
    assert len(calls_to(rsps, "GET", FILE_URL)) == (1 if hours_ago < 12 else 0)
