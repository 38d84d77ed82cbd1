"""GuruTarget against a mocked Guru: auth, pagination, member mapping, the whole-person PUT, errors, retries."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

import pytest
import requests
import responses

from profilesync.domain import Secret
from profilesync.engine.model import RemoteUser, SyncRecord, Uploaded
from profilesync.errors import FatalRemoteError, NotFoundError, PermissionDeniedError, RemoteError, TransientError
from profilesync.http import Retry
from profilesync.rategate import RateGate
from profilesync.targets.guru import PERMISSION_FAILURES_BEFORE_FATAL, GuruTarget, build_target, with_picture

BASE = "https://api.guru.test"
USER = "admin@school.test"
TOKEN = "gUrU-sEcReT-tOkEn-0123456789"
MEMBERS = f"{BASE}/api/v1/members"
PICTURE = f"{BASE}/app/picture"
PERSON = f"{BASE}/api/v1/people/u-1"
OLD_PIC = "https://pp.guru.test/old.png"
NEW_PIC = "https://pp.guru.test/new.jpg"
IMAGE = b"\xff\xd8\xff\xe0fake jpeg\xff\xd9"
ADA = RemoteUser(user_id="u-1", key="ada@school.test", name="Ada Lovelace", avatar_ref=OLD_PIC)


def member(n: int, *, email: str | None = None, status: str = "ACTIVE", pic: str | None = "") -> dict[str, Any]:
    email = email or f"m{n}@school.test"
    user: dict[str, Any] = {"id": f"u-{n}", "status": status, "email": email, "lastName": f"L{n}", "firstName": "F"}
    if pic is not None:
        user["profilePicUrl"] = pic
    return {"userAttributes": {"BILLING_TYPE": "CORE"}, "user": user, "id": email, "dateCreated": "x", "groups": []}


def person(pic: str = OLD_PIC, **extra: Any) -> dict[str, Any]:
    """The seed's person, in its key order, with a manager whose own picture must not be touched."""
    return {
        "pronouns": "",
        "displayName": "Ada Lovelace",
        "manager": {"displayName": "Boss", "userId": "u-9", "email": "boss@school.test", "profilePicUrl": OLD_PIC},
        "userId": "u-1",
        "slackProfileDetails": [],
        "jobTitle": "Teacher",
        "id": "p-1",
        "status": "ACTIVE",
        "email": "Ada@School.test",
        "profilePicUrl": pic,
        "userProfile": {"roleLevel": "Individual Contributor", "useCaseList": [], "role": "Teaching"},
        "lastName": "Lovelace",
        "firstName": "Ada",
        **extra,
    }


def record(file_id: str | None = NEW_PIC) -> SyncRecord:
    return SyncRecord(
        target_id=f"guru:{BASE}",
        key=ADA.key or "",
        user_id=ADA.user_id,
        photo_sha256="0" * 64,
        file_id=file_id,
        file_uuid=None,
        avatar_url=file_id,
        avatar_ref=file_id,
        synced_at=datetime.now(UTC),
    )


@pytest.fixture
def target(pauses: list[float]) -> GuruTarget:
    return build_target(BASE, USER, Secret(TOKEN), retry=Retry(attempts=3, base_delay_s=0.0, max_delay_s=0.0))


def calls(rsps: responses.RequestsMock, method: str, url: str) -> list[Any]:
    return [c for c in rsps.calls if c.request.method == method and str(c.request.url).split("?")[0] == url]


def multipart_fields(request: requests.PreparedRequest) -> list[tuple[str, bytes, str | None, str]]:
    body = request.body if isinstance(request.body, bytes) else str(request.body).encode()
    head = f"Content-Type: {request.headers['Content-Type']}\r\n\r\n".encode()
    fields = []
    for part in BytesParser(policy=HTTP).parsebytes(head + body).iter_parts():
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        name = str(part.get_param("name", header="content-disposition"))
        fields.append((name, payload, part.get_filename(), part.get_content_type()))
    return fields


def upload_flow(rsps: responses.RequestsMock, *, put_body: Any = None, put_status: int = 200) -> None:
    rsps.post(PICTURE, json={"uploadedPictureUrl": NEW_PIC})
    rsps.get(PERSON, json=person())
    if put_body is None:
        put_body = person(NEW_PIC)
    rsps.put(PERSON, json=put_body, status=put_status)


# -- auth, listing, pagination


def test_every_api_request_uses_basic_auth(rsps: responses.RequestsMock, target: GuruTarget) -> None:
    """Basic auth is user:token, on the listing and on every write."""
    rsps.get(MEMBERS, json=[member(1)])
    upload_flow(rsps)
    list(target.list_users())
    target.upload_avatar(ADA, IMAGE)
    expected = "Basic " + base64.b64encode(f"{USER}:{TOKEN}".encode()).decode()
    assert [c.request.headers["Authorization"] for c in rsps.calls] == [expected] * 4


def test_listing_follows_next_page_links_not_page_sizes(rsps: responses.RequestsMock, target: GuruTarget) -> None:
    """Pages are followed by Link rel="next-page" (Guru's name) whatever their size, until no Link."""
    rsps.get(MEMBERS, json=[member(1), member(2)], headers={"Link": f'<{MEMBERS}?token=a>; rel="next-page"'})
    rsps.get(f"{MEMBERS}?token=a", json=[member(3)], headers={"Link": f'<{MEMBERS}?token=b>; rel="next"'})
    rsps.get(f"{MEMBERS}?token=b", json=[member(4)])
    assert [u.user_id for u in target.list_users()] == ["u-1", "u-2", "u-3", "u-4"]
    assert len(rsps.calls) == 3
    assert "per_page" not in str(rsps.calls[0].request.url)


def test_listing_stops_on_an_empty_page(rsps: responses.RequestsMock, target: GuruTarget) -> None:
    """An empty page ends the listing even if it carries a next link."""
    rsps.get(MEMBERS, json=[member(1)], headers={"Link": f'<{MEMBERS}?token=a>; rel="next-page"'})
    rsps.get(f"{MEMBERS}?token=a", json=[], headers={"Link": f'<{MEMBERS}?token=b>; rel="next-page"'})
    assert [u.user_id for u in target.list_users()] == ["u-1"]
    assert len(rsps.calls) == 2


def test_next_link_to_another_host_is_refused(rsps: responses.RequestsMock, target: GuruTarget) -> None:
    """The credentials never follow a next link off the API host."""
    rsps.get(MEMBERS, json=[member(1)], headers={"Link": '<https://evil.test/api/v1/members?x=1>; rel="next-page"'})
    with pytest.raises(FatalRemoteError, match="another host"):
        list(target.list_users())


def test_next_link_that_loops_is_refused(rsps: responses.RequestsMock, target: GuruTarget) -> None:
    """A next link back to a page already read stops the run instead of looping forever."""
    rsps.get(MEMBERS, json=[member(1)], headers={"Link": f'<{MEMBERS}>; rel="next-page"'})
    with pytest.raises(FatalRemoteError, match="already read"):
        list(target.list_users())


def test_members_map_to_remote_users(rsps: responses.RequestsMock, target: GuruTarget) -> None:
    """Key = folded email; active from user.status; empty or missing profilePicUrl = no avatar; repeats once."""
    rsps.get(
        MEMBERS,
        json=[
            member(1, email="Ada.Lovelace@School.TEST", pic=OLD_PIC),
            member(2, status="INACTIVE", pic=""),
            member(3, pic=None),
            {"id": "orphan@school.test", "user": {"email": "orphan@school.test"}},
            member(1, email="Ada.Lovelace@School.TEST", pic=OLD_PIC),
        ],
    )
    users = list(target.list_users())
    assert [(u.user_id, u.key, u.active, u.avatar_ref) for u in users] == [
        ("u-1", "ada.lovelace@school.test", True, OLD_PIC),
        ("u-2", "m2@school.test", False, None),
        ("u-3", "m3@school.test", True, None),
    ]
    assert users[0].name == "F L1" and users[0].avatar_url == OLD_PIC


def test_find_user_gets_the_one_member_by_email(rsps: responses.RequestsMock, target: GuruTarget) -> None:
    """`--user` is one GET /api/v1/members/{email} (Guru's documented lookup), no listing; any case matches."""
    rsps.get(f"{MEMBERS}/ADA@School.test", json=member(2, email="ada@school.test"))
    found = target.find_user("ADA@School.test")
    assert found is not None and found.user_id == "u-2" and found.key == "ada@school.test"
    assert len(rsps.calls) == 1


def test_find_user_404_is_none(rsps: responses.RequestsMock, target: GuruTarget) -> None:
    """Guru answering 404 for the email means there is no such member."""
    rsps.get(f"{MEMBERS}/ada@school.test", status=404, json={"description": "Member not found"})
    assert target.find_user("ada@school.test") is None


def test_find_user_answer_for_another_email_is_none(rsps: responses.RequestsMock, target: GuruTarget) -> None:
    """An answer naming another member is never taken for the one asked about."""
    rsps.get(f"{MEMBERS}/ada@school.test", json=member(1, email="adam@school.test"))
    assert target.find_user("ada@school.test") is None


def test_find_user_answer_as_a_list_of_rows_is_read(rsps: responses.RequestsMock, target: GuruTarget) -> None:
    """Should Guru answer the lookup with a list of rows, the row with exactly that email is the member."""
    rows = [member(1, email="ada@school.test.org"), member(2, email="Ada@School.test")]
    rsps.get(f"{MEMBERS}/ada@school.test", json=rows)
    found = target.find_user("ada@school.test")
    assert found is not None and found.user_id == "u-2"


def test_find_user_by_id_reads_the_listing(rsps: responses.RequestsMock) -> None:
    """Matching by user id, which Guru cannot look up directly, reads the listing."""
    target = build_target(BASE, USER, Secret(TOKEN), match="id", retry=Retry(attempts=0))
    rsps.get(MEMBERS, json=[member(1), member(2)])
    found = target.find_user("u-2")
    assert found is not None and found.user_id == "u-2"


def test_base_url_with_api_v1_is_accepted(pauses: list[float]) -> None:
    """GURU_BASE_URL=https://api.getguru.com/api/v1 works like the bare host."""
    target = build_target(f"{BASE}/api/v1/", USER, Secret(TOKEN))
    assert target.target_id == f"guru:{BASE}" and target.api.url("/app/picture") == PICTURE


def test_unsupported_match_field_is_refused() -> None:
    """Guru members have no SIS id: matching by one is a programming error caught early."""
    with pytest.raises(ValueError, match="email or id"):
        build_target(BASE, USER, Secret(TOKEN), match="sis_user_id")


# -- the upload and the whole-person PUT


def test_upload_posts_the_picture_then_puts_the_whole_person(rsps: responses.RequestsMock, target: GuruTarget) -> None:
    """POST profilePic, GET the person, PUT it back byte-for-byte but for profilePicUrl, key order kept."""
    upload_flow(rsps)
    uploaded = target.upload_avatar(ADA, IMAGE)
    assert uploaded == Uploaded(file_id=NEW_PIC, file_uuid=None, avatar_url=NEW_PIC, avatar_ref=NEW_PIC)
    assert [(c.request.method, str(c.request.url)) for c in rsps.calls] == [
        ("POST", PICTURE),
        ("GET", PERSON),
        ("PUT", PERSON),
    ]
    name, payload, filename, content_type = multipart_fields(rsps.calls[0].request)[0]
    assert (name, payload, filename, content_type) == ("profilePic", IMAGE, "profilesync-avatar.jpg", "image/jpeg")
    put = rsps.calls[2].request
    assert put.headers["Content-Type"] == "application/json"
    sent = json.loads(put.body or b"")
    assert sent == person(NEW_PIC) and list(sent) == list(person())
    assert sent["manager"]["profilePicUrl"] == OLD_PIC


def test_unknown_person_fields_survive_the_put(rsps: responses.RequestsMock, target: GuruTarget) -> None:
    """Fields this client has never heard of go back exactly as read (nested, unicode, nulls)."""
    extra = {"customFields": {"room": "B12", "ext": [1, None, True, 1.5]}, "bio": "Ünïcödé ✓"}
    rsps.post(PICTURE, json={"uploadedPictureUrl": NEW_PIC})
    rsps.get(PERSON, json=person(**extra))
    rsps.put(PERSON, json=person(NEW_PIC, **extra))
    target.upload_avatar(ADA, IMAGE)
    assert json.loads(rsps.calls[2].request.body or b"") == person(NEW_PIC, **extra)


def test_with_picture_adds_the_field_only_when_missing() -> None:
    """A person without profilePicUrl gets it (the one field we set), nothing else changes."""
    bare = {"id": "p", "email": "x@y"}
    assert with_picture(bare, NEW_PIC) == {"id": "p", "email": "x@y", "profilePicUrl": NEW_PIC}
    assert bare == {"id": "p", "email": "x@y"}


def test_put_answer_without_the_picture_is_checked_by_reading_again(
    rsps: responses.RequestsMock, target: GuruTarget
) -> None:
    """A 204 (or an answer without profilePicUrl) is verified with one more GET."""
    rsps.post(PICTURE, json={"uploadedPictureUrl": NEW_PIC})
    rsps.get(PERSON, json=person())
    rsps.put(PERSON, status=204)
    rsps.get(PERSON, json=person(NEW_PIC))
    assert target.upload_avatar(ADA, IMAGE).avatar_ref == NEW_PIC
    assert len(calls(rsps, "GET", PERSON)) == 2


def test_put_that_changed_nothing_fails_the_member(rsps: responses.RequestsMock, target: GuruTarget) -> None:
    """A 200 that still shows the old picture is a failure, never recorded as synced."""
    upload_flow(rsps, put_body=person(OLD_PIC))
    with pytest.raises(RemoteError, match="shows another picture"):
        target.upload_avatar(ADA, IMAGE)


def test_person_of_another_email_is_never_put(rsps: responses.RequestsMock, target: GuruTarget) -> None:
    """If the person endpoint returns somebody else, nothing is written."""
    rsps.post(PICTURE, json={"uploadedPictureUrl": NEW_PIC})
    rsps.get(PERSON, json=dict(person(), email="grace@school.test"))
    with pytest.raises(RemoteError, match="not this member"):
        target.upload_avatar(ADA, IMAGE)
    assert calls(rsps, "PUT", PERSON) == []


def test_picture_answer_without_url_fails_the_member(rsps: responses.RequestsMock, target: GuruTarget) -> None:
    """An upload answer with no uploadedPictureUrl is a per-member failure; no profile is touched."""
    rsps.post(PICTURE, json={"ok": True})
    with pytest.raises(RemoteError, match="uploadedPictureUrl"):
        target.upload_avatar(ADA, IMAGE)
    assert len(rsps.calls) == 1


@pytest.mark.parametrize("answer", [{"url": NEW_PIC, "ok": True}, NEW_PIC])
def test_picture_answer_with_one_url_elsewhere_is_taken(
    rsps: responses.RequestsMock, target: GuruTarget, answer: Any
) -> None:
    """Guru's docs do not name the answer's field: the one URL it holds (or a bare URL string) is the picture."""
    rsps.post(PICTURE, json=answer)
    rsps.get(PERSON, json=person())
    rsps.put(PERSON, json=person(NEW_PIC))
    assert target.upload_avatar(ADA, IMAGE).avatar_url == NEW_PIC
    assert json.loads(calls(rsps, "PUT", PERSON)[0].request.body)["profilePicUrl"] == NEW_PIC


def test_picture_answer_with_two_urls_fails_the_member(rsps: responses.RequestsMock, target: GuruTarget) -> None:
    """Two candidate URLs and no uploadedPictureUrl: no guessing, the member fails naming the fields seen."""
    rsps.post(PICTURE, json={"a": NEW_PIC, "b": OLD_PIC})
    with pytest.raises(RemoteError, match="got a, b"):
        target.upload_avatar(ADA, IMAGE)
    assert len(rsps.calls) == 1


@pytest.mark.parametrize("method", ["listing", "lookup", "upload"])
def test_credentials_echoed_in_an_error_never_leave_the_adapter(
    rsps: responses.RequestsMock, target: GuruTarget, method: str
) -> None:
    """An error body quoting the token, user:token or the Authorization value is cleaned before it is raised."""
    basic = base64.b64encode(f"{USER}:{TOKEN}".encode()).decode()
    echo = {"description": f"bad request; Authorization: Basic {basic} ({USER}:{TOKEN})"}
    with pytest.raises(RemoteError) as caught:
        if method == "listing":
            rsps.get(MEMBERS, status=400, json=echo)
            list(target.list_users())
        elif method == "lookup":
            rsps.get(f"{MEMBERS}/ada@school.test", status=400, json=echo)
            target.find_user("ada@school.test")
        else:
            rsps.post(PICTURE, status=400, json=echo)
            target.upload_avatar(ADA, IMAGE)
    text = f"{caught.value} {caught.value.args} {caught.value.advice}"
    assert "<hidden>" in text and TOKEN not in text and basic not in text


def test_unknown_person_is_not_found(rsps: responses.RequestsMock, target: GuruTarget) -> None:
    """A 404 on the person fails that member with not_found."""
    rsps.post(PICTURE, json={"uploadedPictureUrl": NEW_PIC})
    rsps.get(PERSON, status=404, json={"description": "User not found"})
    with pytest.raises(NotFoundError):
        target.upload_avatar(ADA, IMAGE)


# -- errors that stop the run, and retries


def test_rejected_credentials_are_fatal_without_the_token(rsps: responses.RequestsMock, target: GuruTarget) -> None:
    """A 401 stops the run with advice; neither the token nor its base64 form is in the message."""
    rsps.get(MEMBERS, status=401, json={"description": "Unauthorized"})
    with pytest.raises(FatalRemoteError) as caught:
        list(target.list_users())
    text = str(caught.value)
    assert "Guru rejected the credentials" in text and "GURU_API_TOKEN" in text
    assert TOKEN not in text and base64.b64encode(f"{USER}:{TOKEN}".encode()).decode() not in text


def test_refused_picture_upload_is_fatal(rsps: responses.RequestsMock, target: GuruTarget) -> None:
    """A 403 on /app/picture is not about one member (a read-only token): the run stops."""
    rsps.post(PICTURE, status=403, json={"description": "Collection tokens are read-only"})
    with pytest.raises(FatalRemoteError, match="read-only"):
        target.upload_avatar(ADA, IMAGE)


def test_refused_put_fails_the_member_then_the_run(rsps: responses.RequestsMock, target: GuruTarget) -> None:
    """A 403 on one PUT fails that member; refusals before any success stop the run."""
    for _ in range(PERMISSION_FAILURES_BEFORE_FATAL):
        upload_flow(rsps, put_body={"description": "Forbidden"}, put_status=403)
    for _ in range(PERMISSION_FAILURES_BEFORE_FATAL - 1):
        with pytest.raises(PermissionDeniedError):
            target.upload_avatar(ADA, IMAGE)
    with pytest.raises(FatalRemoteError, match="refused to update"):
        target.upload_avatar(ADA, IMAGE)


def test_redirect_is_fatal_with_base_url_advice(rsps: responses.RequestsMock, target: GuruTarget) -> None:
    """A redirect means GURU_BASE_URL is not the API address."""
    rsps.get(MEMBERS, status=301, headers={"Location": "https://app.guru.test/login"})
    with pytest.raises(FatalRemoteError, match="GURU_BASE_URL"):
        list(target.list_users())


def test_html_answer_is_fatal_with_base_url_advice(rsps: responses.RequestsMock, target: GuruTarget) -> None:
    """An HTML page instead of JSON says the URL is wrong."""
    rsps.get(MEMBERS, body="<!DOCTYPE html><html>login</html>", content_type="text/html")
    with pytest.raises(FatalRemoteError, match="HTML page"):
        list(target.list_users())


def test_throttled_writes_pause_and_retry(
    rsps: responses.RequestsMock, target: GuruTarget, pauses: list[float]
) -> None:
    """A 429 on the picture POST and on the PUT pauses and retries: the member still succeeds."""
    rsps.post(PICTURE, status=429, json={"description": "Too Many Requests"}, headers={"Retry-After": "1"})
    rsps.post(PICTURE, json={"uploadedPictureUrl": NEW_PIC})
    rsps.get(PERSON, status=429)
    rsps.get(PERSON, json=person())
    rsps.put(PERSON, status=429)
    rsps.put(PERSON, json=person(NEW_PIC))
    assert target.upload_avatar(ADA, IMAGE).avatar_ref == NEW_PIC
    assert len(pauses) == 3 and target.api.gate.throttled == 3


def test_server_errors_on_writes_are_retried(rsps: responses.RequestsMock, target: GuruTarget) -> None:
    """5xx on the picture POST (a repeat only orphans a picture) and on the PUT are retried."""
    rsps.post(PICTURE, status=502)
    rsps.post(PICTURE, json={"uploadedPictureUrl": NEW_PIC})
    rsps.get(PERSON, json=person())
    rsps.put(PERSON, status=503)
    rsps.put(PERSON, json=person(NEW_PIC))
    assert target.upload_avatar(ADA, IMAGE).avatar_ref == NEW_PIC
    assert target.uploads_made == 1 and target.api.requests_made == 5  # both picture POSTs hit the API host


def test_server_errors_that_persist_fail_the_member(rsps: responses.RequestsMock, target: GuruTarget) -> None:
    """A PUT that keeps answering 5xx is a transient failure of that member."""
    rsps.post(PICTURE, json={"uploadedPictureUrl": NEW_PIC})
    rsps.get(PERSON, json=person())
    rsps.put(PERSON, status=500)
    with pytest.raises(TransientError):
        target.upload_avatar(ADA, IMAGE)
    assert len(calls(rsps, "PUT", PERSON)) == 4  # the first try and three retries


def test_gate_recovers_one_step_per_success_after_throttling() -> None:
    """With no remaining-quota header, a throttled gate opens up again by one per round of successes."""
    clock = [1000.0]
    gate = RateGate(4, up_front_cost=5.0, clock=lambda: clock[0])
    clock[0] += gate.throttle(None)  # the pause is waited out
    assert gate.in_flight_limit == 1
    limits = []
    for _ in range(7):
        gate.observe(None)
        limits.append(gate.in_flight_limit)
    assert limits == [2, 2, 3, 3, 3, 4, 4]


def test_throttled_answers_during_a_pause_do_not_lengthen_it() -> None:
    """A burst of 429s from requests already in flight is one throttling episode."""
    gate = RateGate(8, up_front_cost=5.0, clock=lambda: 1000.0)
    first = gate.throttle(None)
    later = [gate.throttle(None) for _ in range(6)]
    assert all(pause == pytest.approx(first) for pause in later) and gate.throttled == 7


# -- reassigning a recorded picture


def test_reassign_checks_the_picture_without_credentials_then_puts_it(
    rsps: responses.RequestsMock, target: GuruTarget
) -> None:
    """Reassigning HEADs the recorded URL (no Authorization), then GET + PUT: no upload."""
    rsps.head(NEW_PIC)
    rsps.get(PERSON, json=person(OLD_PIC))
    rsps.put(PERSON, json=person(NEW_PIC))
    assert target.reassign_avatar(ADA, record()) == Uploaded(NEW_PIC, None, NEW_PIC, NEW_PIC)
    head = rsps.calls[0].request
    assert head.method == "HEAD" and "Authorization" not in head.headers
    assert json.loads(rsps.calls[2].request.body or b"")["profilePicUrl"] == NEW_PIC
    assert target.uploads_made == 0


@pytest.mark.parametrize("status", [403, 404, 410])
def test_reassign_of_a_picture_no_longer_served_is_none(
    rsps: responses.RequestsMock, target: GuruTarget, status: int
) -> None:
    """A recorded picture that is gone gives None (the executor uploads again) and touches no profile."""
    rsps.head(NEW_PIC, status=status)
    assert target.reassign_avatar(ADA, record()) is None
    assert len(rsps.calls) == 1


def test_reassign_when_the_picture_host_fails_is_transient(rsps: responses.RequestsMock, target: GuruTarget) -> None:
    """If the picture host cannot say, the member fails for now and the next run retries."""
    rsps.head(NEW_PIC, status=503)
    with pytest.raises(TransientError):
        target.reassign_avatar(ADA, record())


def test_reassign_without_a_recorded_picture_is_none(rsps: responses.RequestsMock, target: GuruTarget) -> None:
    """No recorded URL, nothing to put back."""
    assert target.reassign_avatar(ADA, record(None)) is None
    assert len(rsps.calls) == 0
