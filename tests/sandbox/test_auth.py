"""Authentication, masquerading and the error bodies of docs/canvas.md §2, plus the §1.4 response-encoding quirks."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import requests

from profilesync_sandbox import Sandbox

from .conftest import MakeSandbox
from .helpers import api, jpeg, preflight, send_bytes, student

UNAUTHORIZED = {"status": "unauthorized", "errors": [{"message": "user not authorized to perform that action"}]}


def test_invalid_token_is_401_with_www_authenticate(sb: Sandbox) -> None:
    """An unknown token: 401, Invalid access token, and a Bearer challenge."""
    response = api(sb, "1~not-a-real-token").get(f"{sb.base_url}/api/v1/users/self")
    assert response.status_code == 401
    assert response.json() == {"errors": [{"message": "Invalid access token."}]}
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="canvas-lms"'


def test_missing_token_is_401_unauthenticated(sb: Sandbox) -> None:
    """No token at all on an action that needs a user: status unauthenticated."""
    response = requests.get(f"{sb.base_url}/api/v1/users/self", headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert response.json() == {"status": "unauthenticated", "errors": [{"message": "user authorization required"}]}
    assert "WWW-Authenticate" in response.headers


def test_scheme_must_be_exactly_bearer(sb: Sandbox) -> None:
    """'bearer <token>' is not recognised, so the request is unauthenticated."""
    headers = {"Authorization": f"bearer {sb.admin_token}", "Accept": "application/json"}
    assert requests.get(f"{sb.base_url}/api/v1/users/self", headers=headers).json()["status"] == "unauthenticated"


def test_access_token_parameter_authenticates(sb: Sandbox) -> None:
    """?access_token= works as a fallback to the header."""
    response = requests.get(f"{sb.base_url}/api/v1/users/self", params={"access_token": sb.admin_token})
    assert response.status_code == 200 and response.json()["id"] == 1


def test_permission_error_is_401_by_default(sb: Sandbox) -> None:
    """A student listing the account's users: 401 with status unauthorized."""
    token = sb.token_for(student(sb).id)
    response = api(sb, token).get(f"{sb.base_url}/api/v1/accounts/self/users")
    assert response.status_code == 401 and response.json() == UNAUTHORIZED
    assert "WWW-Authenticate" not in response.headers


def test_permission_error_is_403_with_api_auth_error_updates(make_sandbox: MakeSandbox) -> None:
    """Behind the api_auth_error_updates flag the same body comes with 403."""
    sb = make_sandbox(api_auth_error_updates=True)
    token = sb.token_for(student(sb).id)
    response = api(sb, token).get(f"{sb.base_url}/api/v1/accounts/self/users")
    assert response.status_code == 403 and response.json() == UNAUTHORIZED


def test_bad_as_user_id_is_401_with_a_string_error(sb: Sandbox, admin: requests.Session) -> None:
    """as_user_id naming nobody: 401 {"errors":"Invalid as_user_id"} (a string, not a list)."""
    response = admin.get(f"{sb.base_url}/api/v1/users/self", params={"as_user_id": "sis_user_id:NOPE"})
    assert response.status_code == 401 and response.json() == {"errors": "Invalid as_user_id"}


def test_masquerade_by_sis_id(sb: Sandbox, admin: requests.Session) -> None:
    """as_user_id accepts SIS forms; the request then runs as that user."""
    user = student(sb)
    response = admin.get(f"{sb.base_url}/api/v1/users/self", params={"as_user_id": f"sis_user_id:{user.sis_user_id}"})
    assert response.json()["id"] == user.id
    assert "sis_user_id" not in response.json()  # a student cannot read SIS data, even about themself


def test_masquerade_without_become_user_is_refused(sb: Sandbox) -> None:
    """A token without "Become other users" gets 401 Invalid as_user_id (docs/canvas.md §1.2)."""
    response = api(sb, sb.no_masquerade_token).get(
        f"{sb.base_url}/api/v1/users/self", params={"as_user_id": student(sb).id}
    )
    assert response.status_code == 401 and response.json() == {"errors": "Invalid as_user_id"}


def test_masquerade_denial_ignores_api_auth_error_updates(make_sandbox: MakeSandbox) -> None:
    """load_user renders its own 401 "Invalid as_user_id", never the 403 permission-error body."""
    sb = make_sandbox(api_auth_error_updates=True)
    response = api(sb, sb.no_masquerade_token).get(
        f"{sb.base_url}/api/v1/users/self", params={"as_user_id": student(sb).id}
    )
    assert response.status_code == 401 and response.json() == {"errors": "Invalid as_user_id"}


def test_permissions_endpoint_reports_become_user(sb: Sandbox) -> None:
    """GET /accounts/self/permissions tells the two admin tokens apart."""
    url = f"{sb.base_url}/api/v1/accounts/self/permissions"
    params = {"permissions[]": ["become_user", "manage_user_logins"]}
    assert api(sb).get(url, params=params).json() == {"become_user": True, "manage_user_logins": True}
    assert api(sb, sb.no_masquerade_token).get(url, params=params).json()["become_user"] is False


def test_show_user_without_permission_is_404(sb: Sandbox) -> None:
    """GET /users/:id of someone else, as a student: 404, not 401."""
    token = sb.token_for(student(sb, 0).id)
    response = api(sb, token).get(f"{sb.base_url}/api/v1/users/{student(sb, 1).id}")
    assert response.status_code == 404


def test_deleted_user_is_404_with_a_full_body(sb: Sandbox, admin: requests.Session) -> None:
    """A deleted user comes back 404 but with the user JSON."""
    user = student(sb)
    with sb.state.lock:
        sb.state.user_records[user.id].workflow_state = "deleted"
    response = admin.get(f"{sb.base_url}/api/v1/users/{user.id}")
    assert response.status_code == 404 and response.json()["id"] == user.id


def test_unknown_api_route_is_a_json_404(sb: Sandbox, admin: requests.Session) -> None:
    """Unrouted /api/ paths answer Canvas's not-found JSON."""
    response = admin.get(f"{sb.base_url}/api/v1/nothing/here")
    assert response.status_code == 404 and response.json()["errors"][0]["message"]


def test_tokenless_get_without_accept_json_gets_while1_prefix(make_sandbox: MakeSandbox) -> None:
    """Following the confirm redirect with no token and no Accept: application/json: while(1); before the JSON."""
    sb = make_sandbox(upload_mode="local")
    sent = send_bytes(preflight(sb, api(sb), student(sb).id).json(), jpeg())
    response = requests.get(sent.headers["Location"])
    assert response.status_code == 200 and response.text.startswith('while(1);{"id":')


def test_accept_json_or_a_token_avoids_the_prefix(sb: Sandbox) -> None:
    """Asking for JSON, or sending a token, gives plain JSON."""
    plain = requests.get(f"{sb.base_url}/api/v1/users/self", headers={"Accept": "application/json"})
    assert plain.text.startswith("{")
    with_token = requests.get(f"{sb.base_url}/api/v1/users/self", headers={"Authorization": f"Bearer {sb.admin_token}"})
    assert with_token.text.startswith("{")


def test_multipart_request_to_non_json_url_answers_text_html(sb: Sandbox, admin: requests.Session) -> None:
    """A multipart preflight gets JSON labelled text/html, unless the URL ends in .json."""
    user = student(sb)
    fields = {"name": (None, "a.jpg"), "parent_folder_path": (None, "profile pictures")}
    url = f"{sb.base_url}/api/v1/users/self/files"
    response = admin.post(url, params={"as_user_id": user.id}, files=fields)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "upload_url" in response.json()
    as_json = admin.post(url + ".json", params={"as_user_id": user.id}, files=fields)
    assert as_json.headers["Content-Type"].startswith("application/json")


def test_user_json_visibility_for_an_admin(sb: Sandbox, admin: requests.Session) -> None:
    """SIS keys are present (null when missing), login_id shown; the avatar_url key needs include[]."""
    user = student(sb)
    sb.state.set_sis_id(user.id, None)
    row = admin.get(f"{sb.base_url}/api/v1/accounts/self/users", params={"search_term": user.login_id}).json()[0]
    assert row["sis_user_id"] is None and row["integration_id"] is None and "sis_import_id" in row
    assert row["login_id"] == user.login_id and "avatar_url" not in row
    assert row["created_at"].endswith("-07:00")


def test_keep_alive_connections_are_reused(sb: Sandbox) -> None:
    """Two requests travel over one HTTP/1.1 connection."""
    conn = http.client.HTTPConnection(urlsplit(sb.base_url).netloc, timeout=10)
    headers = {"Authorization": f"Bearer {sb.admin_token}", "Accept": "application/json"}
    for _ in range(2):
        conn.request("GET", "/api/v1/users/self", headers=headers)
        response = conn.getresponse()
        assert response.status == 200 and response.read()
        assert response.version == 11 and not response.will_close
    conn.close()


def test_profile_fills_login_id_for_the_user_themself(sb: Sandbox) -> None:
    """GET /users/self/profile as a student shows login_id, which user JSON would hide from them."""
    user = student(sb)
    session = api(sb, sb.token_for(user.id))
    assert "login_id" not in session.get(f"{sb.base_url}/api/v1/users/self").json()
    profile = session.get(f"{sb.base_url}/api/v1/users/self/profile").json()
    assert profile["login_id"] == user.login_id and profile["primary_email"] == user.email
    assert profile["avatar_url"].endswith("/images/messages/avatar-50.png")


def test_add_admin_gives_a_token_with_exactly_those_rights(sb: Sandbox) -> None:
    """state.add_admin(rights): an unlisted admin whose token lacks what was left out (here: manage login details)."""
    from profilesync_sandbox.canvas.records import ALL_PERMISSIONS

    limited = api(sb, sb.state.add_admin(ALL_PERMISSIONS - {"manage_user_logins"}))
    user = student(sb)
    assert limited.get(f"{sb.base_url}/api/v1/accounts/self/users").status_code == 200
    refused = limited.get(f"{sb.base_url}/api/v1/users/{user.id}/avatars")
    assert (refused.status_code, refused.json()) == (401, UNAUTHORIZED)
    listed = api(sb).get(f"{sb.base_url}/api/v1/accounts/self/users", params={"per_page": 100}).json()
    assert all(u["name"] != "Limited Admin" for u in listed)
