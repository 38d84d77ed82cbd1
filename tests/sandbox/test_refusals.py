"""Refusals the sandbox emulates: "Limited access for students" on a student's upload, and users Canvas won't act as."""

from __future__ import annotations

import pytest
import requests
from click.testing import CliRunner

from profilesync_sandbox import Sandbox, SandboxConfig
from profilesync_sandbox.canvas.records import ALL_PERMISSIONS
from profilesync_sandbox.canvas.refusals import grant_admin, merge_user, move_login
from profilesync_sandbox.canvas.storage import PLACEHOLDER_PNG
from profilesync_sandbox.command import sandbox

from .conftest import MakeSandbox
from .helpers import api, options, preflight, set_avatar, student

UNAUTHORIZED = {"status": "unauthorized", "errors": [{"message": "user not authorized to perform that action"}]}


def test_limited_access_is_off_by_default(sb: Sandbox, admin: requests.Session) -> None:
    """A stock sandbox lets the admin preflight as a student."""
    assert preflight(sb, admin, student(sb).id).status_code == 200


def test_limited_access_refuses_a_students_preflight(make_sandbox: MakeSandbox) -> None:
    """With the setting on, a student's own upload is refused with the ordinary unauthorized body (401)."""
    sb = make_sandbox(limited_access_for_students=True)
    response = preflight(sb, api(sb), student(sb).id)
    assert response.status_code == 401 and response.json() == UNAUTHORIZED


def test_limited_access_answers_403_under_api_auth_error_updates(make_sandbox: MakeSandbox) -> None:
    """The newer error format: the same body with 403."""
    sb = make_sandbox(limited_access_for_students=True, api_auth_error_updates=True)
    response = preflight(sb, api(sb), student(sb).id)
    assert response.status_code == 403 and response.json() == UNAUTHORIZED


def test_limited_access_spares_staff(make_sandbox: MakeSandbox) -> None:
    """A teacher (no active student enrollment) may still upload while students may not."""
    sb = make_sandbox(limited_access_for_students=True)
    teacher = sb.state.add_user("Tess Teacher", sis_user_id="T1", enrollments=("teacher",))
    assert preflight(sb, api(sb), teacher).status_code == 200


def test_limited_access_leaves_the_admin_avatar_put_alone(make_sandbox: MakeSandbox) -> None:
    """UsersController#update has no limited-access check: an option already there is still set by the admin."""
    sb = make_sandbox(limited_access_for_students=True)
    user = student(sb)
    first = sb.state.user_sets_own_avatar(user.id, PLACEHOLDER_PNG, filename="one.png")
    sb.state.user_sets_own_avatar(user.id, PLACEHOLDER_PNG, filename="two.png")
    token = next(o["token"] for o in options(sb, api(sb), user.id) if o.get("id") == first)
    assert set_avatar(sb, api(sb), user.id, token).status_code == 200
    assert f"/images/thumbnails/{first}/" in str(sb.state.user(user.id).avatar_url)


def test_higher_ranked_user_refuses_the_masquerade(make_sandbox: MakeSandbox) -> None:
    """A user whose admin rights exceed the token's: 401 Invalid as_user_id, while other users work."""
    sb = make_sandbox()
    token = sb.state.add_admin(ALL_PERMISSIONS - {"manage_sis"})
    boss = student(sb, 0)
    grant_admin(sb.state, boss.id)
    refused = preflight(sb, api(sb, token), boss.id)
    assert refused.status_code == 401 and refused.json() == {"errors": "Invalid as_user_id"}
    assert preflight(sb, api(sb, token), student(sb, 1).id).status_code == 200


def test_user_with_a_login_elsewhere_refuses_the_masquerade(make_sandbox: MakeSandbox) -> None:
    """A user whose only login is in another root account (trust/consortium) cannot be acted as."""
    sb = make_sandbox(scenario={"accounts": [{"id": 2, "name": "Consortium"}], "generate": 5})
    user = student(sb)
    move_login(sb.state, user.id, 2)
    refused = preflight(sb, api(sb), user.id)
    assert refused.status_code == 401 and refused.json() == {"errors": "Invalid as_user_id"}


def test_merged_user_refusal_names_the_survivor(make_sandbox: MakeSandbox) -> None:
    """A merged user (deleted, logins moved): Invalid as_user_id naming merged_into_user_id."""
    sb = make_sandbox()
    gone, survivor = student(sb, 0), student(sb, 1)
    merge_user(sb.state, gone.id, survivor.id)
    refused = preflight(sb, api(sb), gone.id)
    assert refused.status_code == 401
    assert refused.json() == {"errors": "Invalid as_user_id", "merged_into_user_id": survivor.id}
    assert gone.id not in {u["id"] for u in api(sb).get(f"{sb.base_url}/api/v1/accounts/self/users").json()}


def test_scenario_sets_merged_users(make_sandbox: MakeSandbox) -> None:
    """A scenario's ``merged_into`` makes that user deleted and refused as merged."""
    scenario = {
        "users": [{"id": 1001, "name": "Kept Person"}, {"id": 1002, "name": "Gone Person", "merged_into": 1001}]
    }
    sb = make_sandbox(scenario=scenario)
    assert sb.state.user(1002).workflow_state == "deleted"
    assert preflight(sb, api(sb), 1002).json()["merged_into_user_id"] == 1001


def test_acting_as_oneself_always_works(make_sandbox: MakeSandbox) -> None:
    """User#can_masquerade? returns true for oneself first, even without "Become other users"."""
    sb = make_sandbox()
    helpdesk = api(sb, sb.no_masquerade_token)
    me = helpdesk.get(f"{sb.base_url}/api/v1/users/self").json()["id"]
    assert helpdesk.get(f"{sb.base_url}/api/v1/users/self", params={"as_user_id": me}).status_code == 200


def test_command_option_turns_limited_access_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """`profilesync sandbox --limited-access-for-students` starts a sandbox with the setting (and its feature) on."""
    seen: dict[str, object] = {}

    def interrupt(sb: Sandbox) -> None:
        seen["config"] = sb.config
        seen["features"] = api(sb).get(f"{sb.base_url}/api/v1/accounts/self/features/enabled").json()
        raise KeyboardInterrupt

    monkeypatch.setattr("profilesync_sandbox.command.wait_for_interrupt", interrupt)
    result = CliRunner().invoke(sandbox, ["--users", "3", "--limited-access-for-students"])
    assert result.exit_code == 0, result.output
    config = seen["config"]
    assert isinstance(config, SandboxConfig) and config.limited_access_for_students
    assert seen["features"] == ["allow_limited_access_for_students"]


def test_features_endpoint_lists_nothing_by_default(sb: Sandbox, admin: requests.Session) -> None:
    """FeatureFlagsController#enabled_features: an empty list when limited access is off."""
    assert admin.get(f"{sb.base_url}/api/v1/accounts/self/features/enabled").json() == []


def test_limited_access_needs_an_active_student_enrollment(make_sandbox: MakeSandbox) -> None:
    """User#student_in_limited_access_account? reads active student enrollments: a completed one is not limited."""
    sb = make_sandbox(limited_access_for_students=True)
    alumnus = sb.state.add_user("Alum Former", sis_user_id="X1", enrollments=())
    sb.state.add_enrollment(alumnus, "student", state="completed")
    assert preflight(sb, api(sb), alumnus).status_code == 200
