"""Locked avatars against a mocked Canvas (docs/canvas.md §18): the lock goes first, our token second, and the
answer's ``avatar_state`` is what the history records."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs

import pytest
import responses

from profilesync.domain import Secret
from profilesync.errors import FatalRemoteError
from profilesync.targets.canvas.build import avatar_target
from profilesync.targets.canvas.target import CanvasTarget

from .conftest import BASE, FAST_RETRY, TOKEN
from .test_canvas_target import AVATARS, THUMB, USER, USER_URL, add_instfs_upload, option, options, record, user_json

LOCKED_ANSWER = user_json(avatar_url=f"{BASE}/images/messages/avatar-50.png", avatar_state="locked")
SHOWN = replace(USER, avatar_ref="attachment:5678/Zx9Quuid", avatar_url=THUMB)


def locking_target(*, lock: bool = True) -> CanvasTarget:
    return avatar_target(BASE, Secret(TOKEN), retry=FAST_RETRY, sleep=lambda _s: None, lock_avatars=lock)


def puts(rsps: responses.RequestsMock) -> list[dict[str, list[str]]]:
    """The form bodies of the PUTs to the user, in order."""
    found = []
    for call in rsps.calls:
        if call.request.method == "PUT" and str(call.request.url).startswith(USER_URL):
            body: Any = call.request.body
            found.append(parse_qs(body.decode() if isinstance(body, bytes) else str(body)))
    return found


def test_a_never_locked_avatar_is_locked_first_then_set_by_token(rsps: responses.RequestsMock) -> None:
    """Reassign with locking on: options, PUT state=locked, PUT token; the answer's lock is recorded."""
    rsps.add(responses.GET, AVATARS, json=options(option()))
    rsps.add(responses.PUT, USER_URL, json=LOCKED_ANSWER)
    rsps.add(responses.PUT, USER_URL, json=user_json(avatar_url=THUMB, avatar_state="locked"))
    uploaded = locking_target().reassign_avatar(SHOWN, record())
    assert uploaded is not None and uploaded.locked and uploaded.avatar_url == THUMB
    assert puts(rsps) == [{"user[avatar][state]": ["locked"]}, {"user[avatar][token]": ["tok-5678"]}]


def test_an_avatar_the_history_says_locked_costs_one_put(rsps: responses.RequestsMock) -> None:
    """Already locked: the admin's token PUT keeps the lock, so no state PUT is sent."""
    rsps.add(responses.GET, AVATARS, json=options(option()))
    rsps.add(responses.PUT, USER_URL, json=user_json(avatar_url=THUMB, avatar_state="locked"))
    uploaded = locking_target().reassign_avatar(SHOWN, replace(record(), locked=True))
    assert uploaded is not None and uploaded.locked
    assert puts(rsps) == [{"user[avatar][token]": ["tok-5678"]}]


def test_a_new_upload_is_locked_before_it_is_set(rsps: responses.RequestsMock) -> None:
    """The upload path: the lock is sent after the option is found, right before the token."""
    add_instfs_upload(rsps)  # its PUT answers approved: replaced below by the lock's answers
    rsps.replace(responses.PUT, USER_URL, json=LOCKED_ANSWER)
    rsps.add(responses.PUT, USER_URL, json=user_json(avatar_url=THUMB, avatar_state="locked"))
    uploaded = locking_target().upload_avatar(USER, b"\xff\xd8\xff\xe0jpeg\xff\xd9")
    assert uploaded.locked and uploaded.avatar_url == THUMB
    assert [list(p) for p in puts(rsps)] == [["user[avatar][state]"], ["user[avatar][token]"]]


def test_a_lock_canvas_does_not_apply_stops_the_run_after_the_picture_is_back(rsps: responses.RequestsMock) -> None:
    """No avatar_state in the answers (no manage_user_details): the token PUT still restores the picture,
    then the run stops with advice instead of clearing and restoring every user."""
    rsps.add(responses.GET, AVATARS, json=options(option()))
    rsps.add(responses.PUT, USER_URL, json=user_json(avatar_url=f"{BASE}/images/messages/avatar-50.png"))
    rsps.add(responses.PUT, USER_URL, json=user_json(avatar_url=THUMB))
    with pytest.raises(FatalRemoteError) as caught:
        locking_target().reassign_avatar(SHOWN, record())
    assert len(puts(rsps)) == 2 and "PROFILESYNC_LOCK_AVATARS" in str(caught.value.advice)


def test_locking_off_sends_no_state_and_records_the_answer(rsps: responses.RequestsMock) -> None:
    """Option off: one token PUT, as before; a lock someone else set is still read from the answer."""
    rsps.add(responses.GET, AVATARS, json=options(option()))
    rsps.add(responses.PUT, USER_URL, json=user_json(avatar_url=THUMB, avatar_state="locked"))
    uploaded = locking_target(lock=False).reassign_avatar(SHOWN, record())
    assert uploaded is not None and uploaded.locked
    assert puts(rsps) == [{"user[avatar][token]": ["tok-5678"]}]


def test_an_avatar_canvas_hides_is_not_locked(rsps: responses.RequestsMock) -> None:
    """A user whose avatar Canvas hides (avatars off for their account): nobody sees it, no lock is sent."""
    hidden = replace(USER, avatar_known=False)
    rsps.add(responses.GET, AVATARS, json=options(option()))
    rsps.add(responses.PUT, USER_URL, json={k: v for k, v in user_json().items() if k != "avatar_url"})
    uploaded = locking_target().reassign_avatar(hidden, record())
    assert uploaded is not None and not uploaded.locked
    assert puts(rsps) == [{"user[avatar][token]": ["tok-5678"]}]


def test_an_avatar_unlocked_since_the_history_saw_it_is_locked_again(rsps: responses.RequestsMock) -> None:
    """History says locked, Canvas's answer says approved (a moderator unlocked it): lock and token once more."""
    rsps.add(responses.GET, AVATARS, json=options(option()))
    rsps.add(responses.PUT, USER_URL, json=user_json(avatar_url=THUMB, avatar_state="approved"))
    rsps.add(responses.PUT, USER_URL, json=LOCKED_ANSWER)
    rsps.add(responses.PUT, USER_URL, json=user_json(avatar_url=THUMB, avatar_state="locked"))
    uploaded = locking_target().reassign_avatar(SHOWN, replace(record(), locked=True))
    assert uploaded is not None and uploaded.locked
    assert [list(p) for p in puts(rsps)] == [["user[avatar][token]"], ["user[avatar][state]"], ["user[avatar][token]"]]
