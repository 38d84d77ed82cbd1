"""Building the population: generated users, scenario files, config validation, the Python API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from profilesync_sandbox import Sandbox, SandboxConfig

from .conftest import MakeSandbox
from .helpers import api


def test_generated_users_are_reproducible_for_a_seed() -> None:
    """Two sandboxes with the same seed have the same users and the same admin token."""
    first, second = Sandbox(SandboxConfig(users=20, seed=5)), Sandbox(SandboxConfig(users=20, seed=5))
    assert [u.name for u in first.state.users()] == [u.name for u in second.state.users()]
    assert first.admin_token == second.admin_token != Sandbox(SandboxConfig(seed=6)).admin_token


def test_generated_students_are_mostly_enrolled(make_sandbox: MakeSandbox) -> None:
    """unenrolled_rate leaves a few generated students without any enrollment."""
    sb = make_sandbox(users=400, unenrolled_rate=0.1)
    unenrolled = [u for u in sb.state.users() if u.sis_user_id and not u.enrollments]
    assert 10 < len(unenrolled) < 80


def test_missing_sis_rate(make_sandbox: MakeSandbox) -> None:
    """missing_sis_rate leaves some generated users without an SIS id."""
    sb = make_sandbox(users=200, missing_sis_rate=0.2)
    missing = [u for u in sb.state.users() if u.id > 1000 and u.sis_user_id is None]
    assert 15 < len(missing) < 70


def test_scenario_file_with_settings_tokens_and_avatars(tmp_path: Path, make_sandbox: MakeSandbox) -> None:
    """A scenario file defines users, a token, an own avatar, a locked state, and overrides settings."""
    path = tmp_path / "school.json"
    path.write_text(
        json.dumps(
            {
                "settings": {"upload_mode": "local", "avatars_setting": "sis_only"},
                "generate": 3,
                "users": [
                    {"id": 4001, "name": "Ada Lovelace", "sis_user_id": "A1", "token": "ada", "own_avatar": True},
                    {"name": "Locked Larry", "sis_user_id": "L1", "avatar_state": "locked"},
                ],
            }
        )
    )
    sb = make_sandbox(scenario=path)
    assert sb.config.upload_mode == "local" and sb.config.avatars_setting == "sis_only"
    users = {u.sis_user_id: u for u in sb.state.users()}
    assert len([u for u in users.values() if u.id > 1000]) == 5
    assert users["A1"].avatar_source == "attachment" and users["L1"].avatar_state == "locked"
    assert users["L1"].id == 4002
    assert api(sb, "ada").get(f"{sb.base_url}/api/v1/users/self").json()["id"] == 4001


def test_user_without_login_cannot_be_masqueraded(make_sandbox: MakeSandbox) -> None:
    """login_id null: no SIS lookup and no masquerading (there is no login in the root account)."""
    sb = make_sandbox(scenario={"users": [{"id": 4100, "name": "No Login", "sis_user_id": "N1", "login_id": None}]})
    admin = api(sb)
    assert admin.get(f"{sb.base_url}/api/v1/users/sis_user_id:N1").status_code == 404
    response = admin.get(f"{sb.base_url}/api/v1/users/self", params={"as_user_id": 4100})
    assert response.status_code == 401


def test_unknown_scenario_key_is_refused() -> None:
    """A typo in a scenario is an error, not silently ignored."""
    with pytest.raises(ValueError, match="unknown scenario keys: user"):
        Sandbox(SandboxConfig(scenario={"user": []}))


def test_unknown_scenario_setting_is_refused() -> None:
    """Settings must be SandboxConfig fields (and not the ports)."""
    with pytest.raises(ValueError, match="port"):
        Sandbox(SandboxConfig(scenario={"settings": {"port": 1}}))


def test_config_problems_are_reported_together() -> None:
    """Every bad value is named at once."""
    with pytest.raises(ValueError) as caught:
        Sandbox(SandboxConfig(error_rate=2.0, upload_mode="s3", hwm=900.0))  # type: ignore[arg-type]
    message = str(caught.value)
    assert "error_rate" in message and "upload_mode" in message and "maximum" in message


def test_hosts_bind_loopback_on_different_ports(sb: Sandbox) -> None:
    """Both hosts are on 127.0.0.1, on two different ephemeral ports."""
    assert sb.base_url.startswith("http://127.0.0.1:") and sb.upload_base_url.startswith("http://127.0.0.1:")
    assert sb.base_url != sb.upload_base_url


def test_add_user_helper_makes_a_listed_student(sb: Sandbox) -> None:
    """state.add_user creates a user visible through the API by SIS id."""
    user_id = sb.state.add_user("New Kid", sis_user_id="NEW1")
    assert api(sb).get(f"{sb.base_url}/api/v1/users/sis_user_id:NEW1").json()["id"] == user_id
    assert sb.state.user(user_id).enrollments == (("student", "active"),)


def test_stop_and_restart(make_sandbox: MakeSandbox) -> None:
    """stop() closes the ports; a context manager starts and stops."""
    with Sandbox(SandboxConfig(users=2)) as sb:
        url = sb.base_url
        assert api(sb).get(f"{url}/api/v1/users/self").status_code == 200
    with pytest.raises(Exception):  # noqa: B017 - any connection error will do
        api(sb).get(f"{url}/api/v1/users/self", timeout=2)
