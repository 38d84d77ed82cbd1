"""Observers (docs/canvas.md §14): create-user quirks, pairing codes and observee links."""

from __future__ import annotations

import string
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests

from profilesync_sandbox import Sandbox

from .conftest import MakeSandbox
from .helpers import api

LIMITED = ["manage_user_logins", "read_sis", "view_user_logins", "read_roster", "manage_user_observers"]
SCENARIO: dict[str, Any] = {
    "accounts": [{"id": 2, "name": "Other District"}],
    "users": [
        {"id": 3001, "name": "Stu Dent", "sis_user_id": "ST1", "enrollments": ["student"], "token": "student-token"},
        {"id": 3002, "name": "No Class", "sis_user_id": "ST2"},
        {
            "id": 3003,
            "name": "Far Away",
            "sis_user_id": "ST3",
            "root_account_ids": [2],
            "enrollments": [{"type": "student", "root_account_id": 2}],
        },
        {"id": 3004, "name": "Pat Parent", "login_id": "pat@example.com", "token": "parent-token"},
        {"id": 3005, "name": "Pending Parent", "login_id": "pending@example.com", "workflow_state": "creation_pending"},
        {"id": 3006, "name": "Limited Admin", "admin": LIMITED, "token": "limited-admin"},
        {"id": 3007, "name": "Cred Kid", "login_id": "credkid", "password": "pw", "enrollments": ["student"]},
        *[{"id": 3100 + i, "name": f"Kid {i:02d}", "enrollments": ["student"]} for i in range(12)],
    ],
    "observer_links": [{"observer": 3004, "student": 3100 + i} for i in range(12)],
}


@pytest.fixture
def osb(make_sandbox: MakeSandbox) -> Sandbox:
    return make_sandbox(scenario=SCENARIO)


def create(sb: Sandbox, token: str | None = None, **data: str) -> requests.Response:
    return api(sb, token).post(f"{sb.base_url}/api/v1/accounts/self/users", data=data)


def pairing_code(sb: Sandbox, student_id: int) -> str:
    response = api(sb).post(f"{sb.base_url}/api/v1/users/{student_id}/observer_pairing_codes")
    assert response.status_code == 200, response.text
    code: str = response.json()["code"]
    return code


def pair(sb: Sandbox, observer_id: int, **data: str) -> requests.Response:
    return api(sb).post(f"{sb.base_url}/api/v1/users/{observer_id}/observees", data=data)


def test_create_user_answers_200_with_the_new_user(osb: Sandbox) -> None:
    """POST accounts/self/users: 200 (not 201), login_id set, SIS keys present and null, uuid included."""
    response = create(osb, **{"user[name]": "Jo Guardian", "pseudonym[unique_id]": "jo@example.com"})
    body = response.json()
    assert response.status_code == 200
    assert body["login_id"] == "jo@example.com" and body["sis_user_id"] is None and body["integration_id"] is None
    assert body["sortable_name"] == "Guardian, Jo" and len(body["uuid"]) == 40 and body["locale"] is None
    assert osb.state.user(body["id"]).email == "jo@example.com"


def test_send_confirmation_records_an_email(osb: Sandbox) -> None:
    """pseudonym[send_confirmation] sends the registration email."""
    body = create(osb, **{"pseudonym[unique_id]": "a@example.com", "pseudonym[send_confirmation]": "1"}).json()
    assert [(e.user_id, e.kind) for e in osb.state.emails_sent()] == [(body["id"], "account_registration")]


def test_force_self_registration_sends_the_confirmation_email(osb: Sandbox) -> None:
    """pseudonym[force_self_registration] sends the self-registration confirmation (the seed's choice)."""
    create(osb, **{"pseudonym[unique_id]": "b@example.com", "pseudonym[force_self_registration]": "true"})
    assert [e.kind for e in osb.state.emails_sent()] == ["confirm_registration"]


def test_skip_confirmation_sends_nothing(osb: Sandbox) -> None:
    """communication_channel[skip_confirmation] means no email at all, even with send_confirmation."""
    create(
        osb,
        **{
            "pseudonym[unique_id]": "c@example.com",
            "pseudonym[send_confirmation]": "1",
            "communication_channel[skip_confirmation]": "1",
        },
    )
    assert osb.state.emails_sent() == []


def test_taken_login_is_a_nested_400(osb: Sandbox) -> None:
    """A login in use: 400 with errors.pseudonym.unique_id[].type == "taken" (case-insensitive match)."""
    response = create(osb, **{"pseudonym[unique_id]": "PAT@example.com"})
    errors = response.json()["errors"]
    assert response.status_code == 400
    assert errors["pseudonym"]["unique_id"][0]["type"] == "taken"
    assert errors["user"]["pseudonyms"][0]["type"] == "invalid"
    assert errors["observee"] == {} and errors["pairing_code"] == {} and errors["recaptcha"] is None


def test_sis_id_is_dropped_without_manage_sis(osb: Sandbox) -> None:
    """pseudonym[sis_user_id] is silently ignored for a caller without manage_sis."""
    body = create(
        osb, "limited-admin", **{"pseudonym[unique_id]": "d@example.com", "pseudonym[sis_user_id]": "P1"}
    ).json()
    assert body["sis_user_id"] is None and osb.state.user(body["id"]).sis_user_id is None


def test_sis_id_is_kept_with_manage_sis(osb: Sandbox) -> None:
    """The full admin's SIS id sticks, and a duplicate SIS id is refused."""
    body = create(osb, **{"pseudonym[unique_id]": "e@example.com", "pseudonym[sis_user_id]": "P2"}).json()
    assert body["sis_user_id"] == "P2"
    again = create(osb, **{"pseudonym[unique_id]": "f@example.com", "pseudonym[sis_user_id]": "P2"})
    assert again.status_code == 400 and again.json()["errors"]["pseudonym"]["sis_user_id"][0]["type"] == "taken"


def test_creation_pending_user_is_reused(osb: Sandbox) -> None:
    """An active login whose user is creation_pending is completed instead of refused."""
    response = create(osb, **{"user[name]": "Pen Parent", "pseudonym[unique_id]": "pending@example.com"})
    assert response.status_code == 200 and response.json()["id"] == 3005
    assert osb.state.user(3005).workflow_state == "pre_registered"


def test_create_user_without_permission_is_403_empty_object(osb: Sandbox) -> None:
    """No manage_user_logins and no self-registration: 403 with body {}."""
    response = create(osb, "student-token", **{"pseudonym[unique_id]": "g@example.com"})
    assert response.status_code == 403 and response.json() == {}


def test_pairing_code_shape(osb: Sandbox) -> None:
    """Six letters/digits, active, expiring in seven days."""
    response = api(osb).post(f"{osb.base_url}/api/v1/users/3001/observer_pairing_codes").json()
    assert response["user_id"] == 3001 and response["workflow_state"] == "active"
    assert len(response["code"]) == 6 and set(response["code"]) <= set(string.ascii_letters + string.digits)
    expires = datetime.fromisoformat(response["expires_at"].replace("Z", "+00:00"))
    assert timedelta(days=6, hours=23) < expires - datetime.now(timezone.utc) <= timedelta(days=7)


def test_pairing_code_needs_a_student_enrollment(osb: Sandbox) -> None:
    """A student with no enrollment: 401 unauthorized, whoever asks."""
    response = api(osb).post(f"{osb.base_url}/api/v1/users/3002/observer_pairing_codes")
    assert response.status_code == 401 and response.json()["status"] == "unauthorized"


def test_pairing_code_is_single_use(osb: Sandbox) -> None:
    """The first POST observees links; the same code again is 422 Invalid pairing code."""
    code = pairing_code(osb, 3001)
    first = pair(osb, 3004, pairing_code=code)
    assert first.status_code == 200 and first.json()["id"] == 3001
    assert first.json()["observation_link_root_account_ids"] == [1]
    second = pair(osb, 3004, pairing_code=code)
    assert second.status_code == 422 and second.json() == {"errors": [{"message": "Invalid pairing code."}]}


def test_expired_pairing_code_is_invalid(osb: Sandbox) -> None:
    """After seven days the code no longer works."""
    code = pairing_code(osb, 3001)
    osb.state.advance_clock(8 * 86400)
    assert pair(osb, 3004, pairing_code=code).status_code == 422


def test_admin_pairing_without_a_shared_root_account_is_refused(osb: Sandbox) -> None:
    """An admin's call: refused (401), no link made, and the code is used up anyway."""
    code = pairing_code(osb, 3003)
    response = pair(osb, 3004, pairing_code=code)
    assert response.status_code == 401
    assert response.json()["errors"] == [{"message": "user not authorized to perform that action"}]
    assert not [lk for lk in osb.state.observer_links() if lk.student_id == 3003]
    assert [c.workflow_state for c in osb.state.pairing_codes() if c.code == code] == ["deleted"]


def test_parents_own_pairing_without_a_shared_root_account_links_nothing(osb: Sandbox) -> None:
    """The parent's own call: 200 with observation_link_root_account_ids [], no link, the code used up."""
    code = pairing_code(osb, 3003)
    response = api(osb, "parent-token").post(f"{osb.base_url}/api/v1/users/self/observees", data={"pairing_code": code})
    assert response.status_code == 200 and response.json()["observation_link_root_account_ids"] == []
    assert not [lk for lk in osb.state.observer_links() if lk.student_id == 3003]
    assert [c.workflow_state for c in osb.state.pairing_codes() if c.code == code] == ["deleted"]


def test_create_user_with_a_pairing_code_links_on_creation(osb: Sandbox) -> None:
    """user[initial_enrollment_type]=observer + pairing_code[code] creates the parent already linked."""
    code = pairing_code(osb, 3001)
    body = create(
        osb,
        **{
            "pseudonym[unique_id]": "h@example.com",
            "user[initial_enrollment_type]": "observer",
            "pairing_code[code]": code,
        },
    ).json()
    assert "observation_link_root_account_ids" not in body
    assert [(lk.observer_id, lk.student_id) for lk in osb.state.observer_links() if lk.student_id == 3001] == [
        (body["id"], 3001)
    ]


def test_create_user_with_a_bad_pairing_code_creates_nobody(osb: Sandbox) -> None:
    """An invalid code: 400 with errors.pairing_code.code[].type invalid; no user."""
    before = len(osb.state.users())
    response = create(
        osb,
        **{
            "pseudonym[unique_id]": "i@example.com",
            "user[initial_enrollment_type]": "observer",
            "pairing_code[code]": "XXXXXX",
        },
    )
    assert response.status_code == 400
    assert response.json()["errors"]["pairing_code"]["code"][0]["type"] == "invalid"
    assert len(osb.state.users()) == before


def test_put_observee_is_idempotent(osb: Sandbox) -> None:
    """PUT twice: 200 both times, one link, an observer enrollment for the student."""
    url = f"{osb.base_url}/api/v1/users/3004/observees/3001"
    first, second = api(osb).put(url), api(osb).put(url)
    assert first.status_code == second.status_code == 200
    assert second.json()["observation_link_root_account_ids"] == [1]
    assert len([lk for lk in osb.state.observer_links() if lk.student_id == 3001]) == 1
    assert ("observer", "active") in osb.state.user(3004).enrollments


def test_put_observee_without_shared_root_account_is_404(osb: Sandbox) -> None:
    """Observer and student share no root account: 404."""
    assert api(osb).put(f"{osb.base_url}/api/v1/users/3004/observees/3003").status_code == 404


def test_put_observee_by_sis_id(osb: Sandbox) -> None:
    """The observee id accepts SIS forms."""
    response = api(osb).put(f"{osb.base_url}/api/v1/users/3004/observees/sis_user_id:ST1")
    assert response.status_code == 200 and response.json()["id"] == 3001


def test_observees_page_ten_by_default_with_last(osb: Sandbox) -> None:
    """GET observees: 10 per page by default, a last link, next while more remain."""
    admin = api(osb)
    first = admin.get(f"{osb.base_url}/api/v1/users/3004/observees")
    assert len(first.json()) == 10 and set(first.links) == {"current", "next", "first", "last"}
    second = admin.get(first.links["next"]["url"])
    assert [u["name"] for u in second.json()] == ["Kid 10", "Kid 11"]
    assert "next" not in second.links and second.links["last"]["url"].endswith("page=2&per_page=10")


def test_observees_include_avatar_url(osb: Sandbox) -> None:
    """include[]=avatar_url adds the key; each item has observation_link_root_account_ids."""
    row = api(osb).get(f"{osb.base_url}/api/v1/users/3004/observees", params={"include[]": "avatar_url"}).json()[0]
    assert row["avatar_url"].endswith("/images/messages/avatar-50.png")
    assert row["observation_link_root_account_ids"] == [1]


def test_access_token_parameter_collides_with_auth(osb: Sandbox) -> None:
    """access_token in the body is read as the observee's token: that token's owner is linked."""
    response = api(osb).post(f"{osb.base_url}/api/v1/users/3004/observees", data={"access_token": "student-token"})
    assert response.status_code == 200 and response.json()["id"] == 3001


def test_observee_credentials(osb: Sandbox) -> None:
    """observee[unique_id]+[password]: a wrong password is 401, the right one links."""
    wrong = pair(osb, 3004, **{"observee[unique_id]": "credkid", "observee[password]": "nope"})
    assert wrong.status_code == 401 and wrong.json() == {"errors": [{"message": "Invalid credentials provided."}]}
    right = pair(osb, 3004, **{"observee[unique_id]": "CREDKID", "observee[password]": "pw"})
    assert right.status_code == 200 and right.json()["id"] == 3007


def test_post_observees_without_a_method_is_500(osb: Sandbox) -> None:
    """Sending none of the three methods crashes Canvas: 500."""
    assert pair(osb, 3004).status_code == 500


def test_delete_observee_removes_the_link(osb: Sandbox) -> None:
    """DELETE returns the student and the link is gone; a second DELETE is 404."""
    url = f"{osb.base_url}/api/v1/users/3004/observees/3100"
    assert api(osb).delete(url).json()["id"] == 3100
    assert api(osb).delete(url).status_code == 404
    assert all(lk.student_id != 3100 for lk in osb.state.observer_links())
