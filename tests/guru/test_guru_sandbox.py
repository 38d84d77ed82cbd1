"""The Guru sandbox, one test per emulated behaviour, driven with plain requests."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from profilesync_sandbox import Sandbox
from profilesync_sandbox.command import sandbox as sandbox_command
from profilesync_sandbox.guru import GuruSandbox, GuruSandboxConfig
from profilesync_sandbox.samples import make_portrait


def session(guru: GuruSandbox, user: str | None = None, token: str | None = None) -> requests.Session:
    s = requests.Session()
    s.auth = (user or guru.user, token or guru.token)
    s.headers["Accept"] = "application/json"
    return s


def all_pages(guru: GuruSandbox, url: str, rel: str = "next-page") -> list[list[dict[str, Any]]]:
    api, pages = session(guru), []
    next_url: str | None = url
    while next_url:
        response = api.get(next_url)
        assert response.status_code == 200
        pages.append(response.json())
        next_url = response.links.get(rel, {}).get("url")
    return pages


def upload(guru: GuruSandbox, data: bytes, api: requests.Session | None = None) -> requests.Response:
    api = api or session(guru)
    return api.post(f"{guru.base_url}/app/picture", files={"profilePic": ("me.jpg", data, "image/jpeg")})


def test_api_needs_basic_auth(guru: GuruSandbox) -> None:
    """No credentials or wrong ones: 401 with a Basic challenge and a JSON description."""
    anonymous = requests.get(f"{guru.base_url}/api/v1/members")
    wrong = session(guru, token="nope").get(f"{guru.base_url}/api/v1/members")
    for response in (anonymous, wrong):
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Basic")
        assert response.json() == {"description": "Unauthorized"}


def test_members_are_paged_with_next_page_links(guru: GuruSandbox) -> None:
    """Pages of page_size, each but the last with Link rel="next-page"; together every member once."""
    pages = all_pages(guru, f"{guru.base_url}/api/v1/members")
    assert [len(p) for p in pages] == [5, 5, 2]
    ids = [m["user"]["id"] for page in pages for m in page]
    assert ids == [m.user_id for m in guru.state.members()]


def test_member_json_has_the_documented_shape(guru: GuruSandbox) -> None:
    """Each member looks like the seed's example: userAttributes, user{...}, id = email, dateCreated, groups."""
    first = session(guru).get(f"{guru.base_url}/api/v1/members").json()[0]
    assert list(first) == ["userAttributes", "user", "id", "dateCreated", "groups"]
    assert list(first["user"]) == ["id", "status", "email", "lastName", "firstName", "profilePicUrl"]
    assert first["id"] == first["user"]["email"]


def test_next_rel_can_be_the_rfc_name() -> None:
    """next_rel="next" emits rel="next" instead of Guru's "next-page"."""
    with GuruSandbox(GuruSandboxConfig(members=7, page_size=3, next_rel="next")) as guru:
        assert [len(p) for p in all_pages(guru, f"{guru.base_url}/api/v1/members", rel="next")] == [3, 3, 1]


def test_search_filters_members_case_insensitively(guru: GuruSandbox) -> None:
    """search=<email in any case> finds that member."""
    target = guru.state.members()[3]
    found = session(guru).get(f"{guru.base_url}/api/v1/members", params={"search": target.email.upper()}).json()
    assert [m["user"]["id"] for m in found] == [target.user_id]


def test_some_members_are_inactive(guru: GuruSandbox) -> None:
    """inactive_rate gives members whose user.status is INACTIVE."""
    statuses = {m.status for m in guru.state.members()}
    assert statuses == {"ACTIVE", "INACTIVE"}


def test_picture_upload_returns_a_url_served_publicly(guru: GuruSandbox) -> None:
    """POST /app/picture answers uploadedPictureUrl; the picture is served without credentials, GET and HEAD."""
    data = make_portrait("x", size=64)
    url = upload(guru, data).json()["uploadedPictureUrl"]
    assert url.startswith(f"{guru.base_url}/pp/") and url.endswith(".jpg")
    got = requests.get(url)
    assert got.status_code == 200 and got.content == data and got.headers["Content-Type"] == "image/jpeg"
    assert requests.head(url).status_code == 200
    assert guru.state.picture_auth_headers_seen == []


def test_picture_upload_refuses_non_images_and_missing_fields(guru: GuruSandbox) -> None:
    """A non-image or a file under another field name is a 400."""
    assert upload(guru, b"not an image").status_code == 400
    wrong_field = session(guru).post(f"{guru.base_url}/app/picture", files={"file": ("a.jpg", b"\xff\xd8\xff")})
    assert wrong_field.status_code == 400


def test_credentials_sent_to_the_picture_host_are_recorded(guru: GuruSandbox) -> None:
    """The public picture host notes any Authorization header (a leak the tests assert never happens)."""
    url = upload(guru, make_portrait("x", size=64)).json()["uploadedPictureUrl"]
    session(guru).get(url)
    assert len(guru.state.picture_auth_headers_seen) == 1


def test_deleted_picture_is_no_longer_served(guru: GuruSandbox) -> None:
    """delete_picture makes the URL answer 404."""
    url = upload(guru, make_portrait("x", size=64)).json()["uploadedPictureUrl"]
    guru.state.delete_picture(url)
    assert requests.head(url).status_code == 404 and guru.state.picture(url) is None


def test_faithful_put_records_no_problem(guru: GuruSandbox) -> None:
    """GET then PUT the same person with only profilePicUrl replaced: applied, echoed, no problem recorded."""
    member = guru.state.members()[2]
    api, url = session(guru), f"{guru.base_url}/api/v1/people/{member.user_id}"
    person = api.get(url).json()
    person["profilePicUrl"] = "https://pp.getguru.com/new.png"
    answer = api.put(url, json=person)
    assert answer.status_code == 200 and answer.json() == person
    assert guru.state.member(member.user_id).profile_pic_url == "https://pp.getguru.com/new.png"
    assert guru.state.put_problems == []


def test_careless_put_records_every_problem(guru: GuruSandbox) -> None:
    """A PUT that drops, invents, changes or reorders fields is applied (data really lost) and recorded."""
    member = guru.state.members()[2]
    api, url = session(guru), f"{guru.base_url}/api/v1/people/{member.user_id}"
    person = api.get(url).json()
    careless = {"profilePicUrl": "https://pp.getguru.com/new.png"}
    careless.update({k: v for k, v in person.items() if k not in ("jobTitle", "profilePicUrl")})
    careless["userProfile"] = dict(careless["userProfile"], role="Changed")
    careless["avatar"] = "invented"
    assert api.put(url, json=careless).status_code == 200
    problems = {(p.kind, p.path) for p in guru.state.put_problems}
    assert problems == {
        ("lost", "jobTitle"),
        ("invented", "avatar"),
        ("changed", "userProfile.role"),
        ("reordered", "."),
    }
    assert "jobTitle" not in guru.state.person(member.user_id)


def test_put_needs_a_json_object(guru: GuruSandbox) -> None:
    """A form-encoded body is 415; a JSON list is 400; an unknown person is 404."""
    member = guru.state.members()[0]
    api, url = session(guru), f"{guru.base_url}/api/v1/people/{member.user_id}"
    assert api.put(url, data={"profilePicUrl": "x"}).status_code == 415
    assert api.put(url, json=[1, 2]).status_code == 400
    assert api.put(f"{guru.base_url}/api/v1/people/nobody", json={}).status_code == 404
    assert api.get(f"{guru.base_url}/api/v1/people/nobody").status_code == 404


def test_put_can_answer_without_a_body() -> None:
    """put_echoes_person=False: the PUT answers 204 and clients must read the person again."""
    with GuruSandbox(GuruSandboxConfig(members=3, put_echoes_person=False)) as guru:
        member = guru.state.members()[0]
        api, url = session(guru), f"{guru.base_url}/api/v1/people/{member.user_id}"
        response = api.put(url, json=api.get(url).json())
        assert response.status_code == 204 and response.content == b""


def test_collection_token_reads_but_cannot_write(guru: GuruSandbox) -> None:
    """The read-only Collection credentials list members but get 403 on the picture POST and the PUT."""
    api = session(guru, guru.collection_id, guru.collection_token)
    assert api.get(f"{guru.base_url}/api/v1/members").status_code == 200
    assert upload(guru, make_portrait("x", size=64), api).status_code == 403
    member = guru.state.members()[0]
    url = f"{guru.base_url}/api/v1/people/{member.user_id}"
    assert api.put(url, json=api.get(url).json()).status_code == 403


def test_rate_limit_answers_429_with_retry_after() -> None:
    """Over rate_limit_per_s, requests answer 429 with Retry-After."""
    with GuruSandbox(GuruSandboxConfig(members=3, rate_limit_per_s=2.0)) as guru:
        api = session(guru)
        statuses = [api.get(f"{guru.base_url}/api/v1/members") for _ in range(4)]
        assert [r.status_code for r in statuses] == [200, 200, 429, 429]
        assert statuses[2].headers["Retry-After"] == "1"


def test_latency_is_injected() -> None:
    """latency_ms delays every answer."""
    with GuruSandbox(GuruSandboxConfig(members=2, latency_ms=80)) as guru:
        started = time.monotonic()
        session(guru).get(f"{guru.base_url}/api/v1/members")
        assert time.monotonic() - started >= 0.08


def test_requests_are_counted_by_route(guru: GuruSandbox) -> None:
    """counts() tallies requests by route key; reset_counts() starts over."""
    api = session(guru)
    api.get(f"{guru.base_url}/api/v1/members")
    api.get(f"{guru.base_url}/api/v1/people/{guru.state.members()[0].user_id}")
    api.get(f"{guru.base_url}/nowhere")
    assert guru.state.counts() == {"GET /api/v1/members": 1, "GET /api/v1/people/:id": 1, "?": 1}
    guru.state.reset_counts()
    assert guru.state.counts() == {}


def test_scripted_faults_work_as_for_canvas(guru: GuruSandbox) -> None:
    """faults.fail_next answers an injected error once, then the endpoint works again."""
    guru.faults.fail_next("GET", r"^/api/v1/members$", 503, host="guru")
    api = session(guru)
    assert api.get(f"{guru.base_url}/api/v1/members").status_code == 503
    assert api.get(f"{guru.base_url}/api/v1/members").status_code == 200


def test_token_is_derived_from_the_seed() -> None:
    """The same seed gives the same token (a restarted sandbox keeps working with the same .env)."""
    assert GuruSandbox(GuruSandboxConfig(seed=4)).token == GuruSandbox(GuruSandboxConfig(seed=4)).token
    assert GuruSandbox(GuruSandboxConfig(seed=4)).token != GuruSandbox(GuruSandboxConfig(seed=5)).token


def test_bad_config_is_refused() -> None:
    """Every bad knob is reported at once."""
    with pytest.raises(ValueError, match=r"members.*page_size"):
        GuruSandbox(GuruSandboxConfig(members=-1, page_size=0))


def test_sandbox_command_can_start_guru_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """`profilesync sandbox --guru` also runs the Guru emulator and prints its .env lines."""
    started: list[GuruSandbox] = []
    served: dict[str, int] = {}

    class Recorded(GuruSandbox):
        def start(self) -> GuruSandbox:
            started.append(self)
            return super().start()

    def interrupt(sb: Sandbox) -> None:
        served["status"] = session(started[0]).get(f"{started[0].base_url}/api/v1/members").status_code
        raise KeyboardInterrupt

    monkeypatch.setattr("profilesync_sandbox.command.GuruSandbox", Recorded)
    monkeypatch.setattr("profilesync_sandbox.command.wait_for_interrupt", interrupt)
    result = CliRunner().invoke(sandbox_command, ["--users", "4", "--guru"])
    assert result.exit_code == 0, result.output
    guru = started[0]
    assert served["status"] == 200 and len(guru.state.members()) == 4
    assert guru.env_snippet() in result.output
    assert "--guru" in CliRunner().invoke(sandbox_command, ["--help"]).output


def test_one_member_by_email(guru: GuruSandbox) -> None:
    """GET /api/v1/members/{email}: that member's listing row, any letter case; 404 for an unknown email."""
    api = session(guru)
    row = next(m for page in all_pages(guru, f"{guru.base_url}/api/v1/members") for m in page)
    found = api.get(f"{guru.base_url}/api/v1/members/{row['user']['email'].upper()}")
    missing = api.get(f"{guru.base_url}/api/v1/members/nobody@elsewhere.test")
    assert found.status_code == 200 and found.json() == row
    assert missing.status_code == 404 and missing.json() == {"description": "Member not found"}


def test_picture_answer_field_is_a_knob() -> None:
    """picture_answer_field renames the upload answer's URL field (Guru's docs do not name it)."""
    with GuruSandbox(GuruSandboxConfig(members=2, picture_answer_field="link")) as guru:
        answer = upload(guru, make_portrait("x", size=64)).json()
    assert list(answer) == ["link"] and answer["link"].startswith(guru.base_url)


def test_echo_credentials_in_errors_is_off_by_default_and_quotes_them_when_on(guru: GuruSandbox) -> None:
    """echo_credentials_in_errors: every error answer quotes the Authorization header and user:token."""
    quiet = session(guru).get(f"{guru.base_url}/api/v1/people/nobody")
    assert guru.token not in quiet.text
    with GuruSandbox(GuruSandboxConfig(members=2, echo_credentials_in_errors=True)) as echoing:
        api = session(echoing)
        loud = api.get(f"{echoing.base_url}/api/v1/people/nobody")
        echoing.faults.fail_next("GET", r"^/api/v1/members$", 503, host="guru")
        injected = api.get(f"{echoing.base_url}/api/v1/members")
        fine = api.get(f"{echoing.base_url}/api/v1/members")
    for response in (loud, injected):
        assert f"{echoing.user}:{echoing.token}" in response.json()["description"]
        assert "Authorization: Basic " in response.json()["description"]
    assert fine.status_code == 200 and echoing.token not in fine.text


def test_sandbox_command_has_the_echo_credentials_switch() -> None:
    """`profilesync sandbox --guru-echo-credentials` is documented in the command's help."""
    result = CliRunner().invoke(sandbox_command, ["--help"])
    assert "--guru-echo-credentials" in result.output
