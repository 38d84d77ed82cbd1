"""The sandbox's accounts: account JSON, the rights endpoint, sub-account admins, read-less tokens, two spellings."""

from __future__ import annotations

from profilesync_sandbox import Sandbox

from .conftest import MakeSandbox
from .helpers import api, student


def sub_sandbox(make_sandbox: MakeSandbox) -> tuple[Sandbox, str, int]:
    sb = make_sandbox(users=30, sub_account_users=10)
    assert sb.sub_account_token is not None and sb.sub_account_id is not None
    return sb, sb.sub_account_token, sb.sub_account_id


def test_root_account_json_has_uuid_and_no_parent(sb: Sandbox) -> None:
    """GET /accounts/self is the domain root account: its uuid, null parent and root account ids."""
    body = api(sb).get(f"{sb.base_url}/api/v1/accounts/self").json()
    assert body["id"] == 1 and body["uuid"] == sb.state.accounts[1].uuid
    assert body["parent_account_id"] is None and body["root_account_id"] is None


def test_sub_account_json_names_its_parent_and_root(make_sandbox: MakeSandbox) -> None:
    """A sub-account read by the root admin names its parent and its root account."""
    sb, _token, sub = sub_sandbox(make_sandbox)
    body = api(sb).get(f"{sb.base_url}/api/v1/accounts/{sub}").json()
    assert body["parent_account_id"] == 1 and body["root_account_id"] == 1


def test_sub_account_admin_lists_only_its_users(make_sandbox: MakeSandbox) -> None:
    """The sub-account admin lists the sub-account's users, SIS ids included, and cannot list the root's."""
    sb, token, sub = sub_sandbox(make_sandbox)
    session = api(sb, token)
    listed = session.get(f"{sb.base_url}/api/v1/accounts/{sub}/users", params={"per_page": 100})
    assert listed.status_code == 200 and len(listed.json()) == 10
    assert all(row["sis_user_id"] for row in listed.json())  # logins live in the root account
    assert session.get(f"{sb.base_url}/api/v1/accounts/self/users").status_code == 401


def test_sub_account_admin_has_no_root_account_rights(make_sandbox: MakeSandbox) -> None:
    """The root account and its rights are refused (401); on its own account, become_user is still false."""
    sb, token, sub = sub_sandbox(make_sandbox)
    session = api(sb, token)
    assert session.get(f"{sb.base_url}/api/v1/accounts/self").status_code == 401
    assert session.get(f"{sb.base_url}/api/v1/accounts/self/permissions").status_code == 401
    own = session.get(
        f"{sb.base_url}/api/v1/accounts/{sub}/permissions",
        params=[("permissions[]", "become_user"), ("permissions[]", "read_roster")],
    ).json()
    assert own == {"become_user": False, "read_roster": True}


def test_sub_account_admin_cannot_act_as_or_set_avatars(make_sandbox: MakeSandbox) -> None:
    """Acting as one of its own users is refused, and so is reading their avatar options."""
    sb, token, sub = sub_sandbox(make_sandbox)
    session = api(sb, token)
    member = session.get(f"{sb.base_url}/api/v1/accounts/{sub}/users").json()[0]["id"]
    acting = session.get(f"{sb.base_url}/api/v1/users/self", params={"as_user_id": member})
    assert acting.status_code == 401 and acting.json() == {"errors": "Invalid as_user_id"}
    assert session.get(f"{sb.base_url}/api/v1/users/{member}/avatars").status_code == 401


def test_root_admin_rights_are_all_true(sb: Sandbox) -> None:
    """The root admin holds become_user and manage_user_logins on the root account; unknown names are false."""
    asked = [("permissions[]", n) for n in ("become_user", "manage_user_logins", "no_such_right")]
    body = api(sb).get(f"{sb.base_url}/api/v1/accounts/self/permissions", params=asked).json()
    assert body == {"become_user": True, "manage_user_logins": True, "no_such_right": False}


def test_read_less_token_gets_404_for_a_user_the_admin_sees(sb: Sandbox) -> None:
    """users_controller.rb#api_show: a token that may not read users gets 404 for an existing user."""
    path = f"{sb.base_url}/api/v1/users/sis_user_id:{student(sb).sis_user_id}"
    assert api(sb).get(path).status_code == 200
    assert api(sb, sb.read_less_token()).get(path).status_code == 404


def test_sandbox_answers_under_a_second_spelling(sb: Sandbox) -> None:
    """The alias address (localhost for 127.0.0.1) reaches the same Canvas."""
    assert sb.alias_base_url != sb.base_url
    body = api(sb).get(f"{sb.alias_base_url}/api/v1/accounts/self").json()
    assert body["uuid"] == sb.state.accounts[1].uuid


def test_scenario_declares_a_sub_account_and_its_admin(make_sandbox: MakeSandbox) -> None:
    """A scenario's sub-account, its member and its admin behave like the config-made ones."""
    scenario = {
        "accounts": [{"id": 7, "name": "East High", "parent": 1}],
        "users": [
            {"id": 2001, "name": "Eve East", "sis_user_id": "E1", "sub_accounts": [7]},
            {"id": 2002, "name": "Sam Sub", "admin": True, "admin_account": 7, "token": "sub-token"},
        ],
    }
    sb = make_sandbox(scenario=scenario)
    session = api(sb, "sub-token")
    listed = session.get(f"{sb.base_url}/api/v1/accounts/7/users").json()
    assert [row["sis_user_id"] for row in listed] == ["E1"]
    assert session.get(f"{sb.base_url}/api/v1/accounts/self/permissions").status_code == 401
    assert api(sb).get(f"{sb.base_url}/api/v1/accounts/7").json()["parent_account_id"] == 1
