"""avatar_url decided per user: ``user.account.service_enabled?(:avatars)``, where User#account is the first login's."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from click.testing import CliRunner

from profilesync_sandbox import Sandbox
from profilesync_sandbox.command import sandbox

from .conftest import MakeSandbox
from .helpers import api


def rows(sb: Sandbox, **params: Any) -> list[dict[str, Any]]:
    url = f"{sb.base_url}/api/v1/accounts/self/users"
    response = api(sb).get(url, params={"include[]": "avatar_url", "per_page": 100, "sort": "id", **params})
    return response.json()  # type: ignore[no-any-return]


def test_generated_school_shows_avatar_url_for_everyone_by_default(make_sandbox: MakeSandbox) -> None:
    """Off by default: every listed user carries the avatar_url key."""
    sb = make_sandbox(users=10)
    assert all("avatar_url" in row for row in rows(sb))


def test_foreign_home_users_lack_the_key_while_the_others_keep_it(make_sandbox: MakeSandbox) -> None:
    """foreign_home_users=2: the two lowest ids have no avatar_url key at all (absent, not null); the rest have it."""
    sb = make_sandbox(users=10, foreign_home_users=2)
    listed = rows(sb)
    assert [row["id"] for row in listed if "avatar_url" not in row] == [1001, 1002]
    assert all(row["avatar_url"].endswith("/images/messages/avatar-50.png") for row in listed[2:])
    assert listed[0]["sis_user_id"] == "S000001"  # their login here still shows its SIS id


def test_show_and_put_hide_avatar_url_for_that_user_too(make_sandbox: MakeSandbox) -> None:
    """GET /users/:id and the avatar PUT answer use the same user_json rule for a foreign-home user."""
    sb = make_sandbox(users=3, foreign_home_users=1)
    session = api(sb)
    assert "avatar_url" not in session.get(f"{sb.base_url}/api/v1/users/1001").json()
    assert "avatar_url" in session.get(f"{sb.base_url}/api/v1/users/1002").json()
    put = session.put(f"{sb.base_url}/api/v1/users/1001", data={"user[avatar][token]": "stale"})
    assert put.status_code == 200 and "avatar_url" not in put.json()


def test_scenario_user_homed_in_an_account_with_avatars_off(make_sandbox: MakeSandbox) -> None:
    """A scenario user whose home_account_id names an account with avatars_service false lacks the key."""
    scenario = {
        "accounts": [{"id": 2, "name": "Consortium", "avatars_service": False}],
        "users": [
            {"id": 1001, "name": "Ada Lovelace", "sis_user_id": "S1", "home_account_id": 2},
            {"id": 1002, "name": "Alan Turing", "sis_user_id": "S2"},
        ],
    }
    sb = make_sandbox(scenario=scenario)
    assert [("avatar_url" in row) for row in rows(sb)] == [False, True]


def test_account_avatars_off_hides_the_key_from_everyone(make_sandbox: MakeSandbox) -> None:
    """Control: with the account's service off nobody has the key."""
    sb = make_sandbox(users=5, avatars_service_enabled=False)
    assert not any("avatar_url" in row for row in rows(sb))


def test_sandbox_command_switches_foreign_home_users_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """`profilesync sandbox --foreign-home-users 1` starts a school whose first user lacks avatar_url."""
    seen: dict[str, Any] = {}

    def interrupt(sb: Sandbox) -> None:
        listing = requests.get(
            f"{sb.base_url}/api/v1/accounts/self/users?include[]=avatar_url&sort=id",
            headers={"Authorization": f"Bearer {sb.admin_token}"},
        ).json()
        seen["keys"] = ["avatar_url" in row for row in listing]
        raise KeyboardInterrupt

    monkeypatch.setattr("profilesync_sandbox.command.wait_for_interrupt", interrupt)
    result = CliRunner().invoke(sandbox, ["--users", "3", "--foreign-home-users", "1"])
    assert result.exit_code == 0, result.output
    assert seen["keys"] == [False, True, True]
