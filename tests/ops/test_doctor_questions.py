"""The questions doctor asks Canvas and Guru, against mocked answers the sandbox does not give: typed answers
carrying the client's advice."""

from __future__ import annotations

import responses

from profilesync.doctor.checks import PROBE_RETRY
from profilesync.domain import Secret
from profilesync.targets.answers import NotReached, Rejected, Unanswered, Unreached
from profilesync.targets.canvas.account import TOKEN_ADVICE
from profilesync.targets.canvas.build import avatar_target
from profilesync.targets.canvas.listing import unknown_account_advice
from profilesync.targets.canvas.questions import (
    ActAs,
    CanvasQuestions,
    Identity,
    NoSuchAccount,
    UsersPage,
)
from profilesync.targets.canvas.refusals import ACT_AS_ADVICE
from profilesync.targets.guru import TOKEN_ADVICE as GURU_TOKEN_ADVICE
from profilesync.targets.guru import build_target
from profilesync.targets.guru_questions import GuruQuestions, Reached

BASE = "https://canvas.example.edu"
SELF = f"{BASE}/api/v1/users/self"
GURU = "https://api.getguru.com"
ME = Identity("1", "Admin", 5.0)


def canvas() -> CanvasQuestions:
    return CanvasQuestions(avatar_target(BASE, Secret("secret-token-123"), retry=PROBE_RETRY))


def page(*rows: dict[str, object]) -> UsersPage:
    return UsersPage("sis_user_id", list(rows))


@responses.activate
def test_identity_names_the_tokens_user() -> None:
    """A Canvas user in the answer: the token's identity, with how long Canvas took."""
    responses.get(SELF, json={"id": 7, "name": "Ada Admin"})
    answer = canvas().token_identity()
    assert isinstance(answer, Identity) and (answer.user_id, answer.name) == ("7", "Ada Admin")


@responses.activate
def test_redirect_is_not_reached_and_hides_the_location_query() -> None:
    """A redirected API is not reached; the Location is shown without its query (a token may be in it)."""
    responses.get(SELF, status=302, headers={"Location": "https://sso.example.edu/login?access_token=abc"})
    answer = canvas().token_identity()
    assert isinstance(answer, NotReached) and answer.why is Unreached.REDIRECTED
    assert "302" in answer.detail and "abc" not in answer.detail


@responses.activate
def test_html_page_is_not_the_api() -> None:
    """An HTML page (a school's website) is not Canvas's API."""
    responses.get(SELF, body="<!doctype html><html></html>", content_type="text/html")
    answer = canvas().token_identity()
    assert isinstance(answer, NotReached) and answer.why is Unreached.NOT_THE_API
    assert "an HTML page" in answer.detail


@responses.activate
def test_server_error_is_failing() -> None:
    """A 5xx answer in Canvas's JSON: the API is failing, not misaddressed."""
    responses.get(SELF, status=503, json={"errors": [{"message": "maintenance"}]})
    answer = canvas().token_identity()
    assert isinstance(answer, NotReached) and answer.why is Unreached.FAILING
    assert "maintenance" in answer.detail


@responses.activate
def test_invalid_token_is_rejected_with_the_clients_advice() -> None:
    """Canvas's invalid-token answer: rejected, with the advice the client gives."""
    responses.get(SELF, status=401, json={"errors": [{"message": "Invalid access token."}]})
    answer = canvas().token_identity()
    assert isinstance(answer, Rejected) and answer.advice == TOKEN_ADVICE
    assert answer.detail == "Canvas rejected the token: Invalid access token."


@responses.activate
def test_unknown_account_carries_the_listings_advice() -> None:
    """A 404 on the users listing: no such account, with the advice the sync gives for the same 404."""
    responses.get(f"{BASE}/api/v1/accounts/self/users", status=404, json={"errors": [{"message": "not found"}]})
    answer = canvas().users_page()
    assert answer == NoSuchAccount("self", unknown_account_advice(BASE, "self"))


@responses.activate
def test_act_as_tries_students_first_and_gives_the_clients_advice() -> None:
    """Users with an SIS id are tried first, at most three; refused, the answer carries the client's advice."""
    responses.get(SELF, status=401, json={"errors": "Invalid as_user_id"})
    rows = [{"id": n, "sis_user_id": None if n < 5 else f"S{n}"} for n in range(1, 9)]
    answer = canvas().act_as(ME, page(*rows))
    assert answer == ActAs(None, ("5", "6", "7"), "Invalid as_user_id")
    assert answer.advice == ACT_AS_ADVICE


@responses.activate
def test_act_as_stops_at_a_server_error() -> None:
    """A server error is not a refusal of one user: the others are not tried."""
    responses.get(SELF, status=500, json={"errors": [{"message": "boom"}]})
    answer = canvas().act_as(ME, page({"id": 2, "sis_user_id": "S2"}, {"id": 3, "sis_user_id": "S3"}))
    assert isinstance(answer, ActAs) and answer.tried == ("2",)


@responses.activate
def test_unreadable_features_are_unanswered() -> None:
    """A refused feature list leaves the limited-access question unanswered, with advice."""
    responses.get(f"{BASE}/api/v1/accounts/self/features/enabled", status=401, json={"errors": [{"message": "no"}]})
    answer = canvas().limited_access_allowed()
    assert isinstance(answer, Unanswered) and "Limited access for students" in str(answer.advice)


def guru() -> GuruQuestions:
    return GuruQuestions(build_target(GURU, "admin@school.test", Secret("guru-secret-token"), retry=PROBE_RETRY))


@responses.activate
def test_guru_members_list_is_reached() -> None:
    """A members list: Guru took the credentials."""
    responses.get(f"{GURU}/api/v1/members", json=[])
    assert isinstance(guru().member_access(), Reached)


@responses.activate
def test_guru_refusal_names_the_user_and_the_token_advice() -> None:
    """A 401 from Guru: rejected, naming the user, with the client's token advice."""
    responses.get(f"{GURU}/api/v1/members", status=401, json={"description": "bad credentials"})
    answer = guru().member_access()
    assert isinstance(answer, Rejected) and answer.advice == GURU_TOKEN_ADVICE
    assert "admin@school.test" in answer.detail and "bad credentials" in answer.detail


@responses.activate
def test_guru_redirect_is_not_the_api() -> None:
    """A redirect instead of the members list: not Guru's API."""
    responses.get(f"{GURU}/api/v1/members", status=302, headers={"Location": "https://www.getguru.com/"})
    answer = guru().member_access()
    assert isinstance(answer, NotReached) and answer.why is Unreached.NOT_THE_API
