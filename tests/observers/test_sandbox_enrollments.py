"""The sandbox's ``GET /api/v1/users/:user_id/enrollments`` (what the observers job reads before linking)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from profilesync_sandbox import Sandbox, SandboxConfig

SCENARIO: dict[str, Any] = {
    "users": [
        {
            "id": 3001,
            "name": "Many Classes",
            "sis_user_id": "M1",
            "enrollments": [
                "student",
                {"type": "student", "state": "invited"},
                {"type": "student", "state": "completed"},
                {"type": "student", "state": "deleted"},
                "teacher",
            ],
            "token": "student-token",
        },
        {"id": 3002, "name": "No Classes", "sis_user_id": "M2"},
    ]
}


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(scenario=SCENARIO)) as sandbox:
        yield sandbox


def enrollments(sb: Sandbox, user: str, token: str | None = None, **params: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {token or sb.admin_token}", "Accept": "application/json"}
    return requests.get(f"{sb.base_url}/api/v1/users/{user}/enrollments", params=params, headers=headers, timeout=10)


def test_default_lists_active_and_invited(sb: Sandbox) -> None:
    """Without state[], active and invited enrollments are listed, of every type."""
    body = enrollments(sb, "3001").json()
    assert [(e["type"], e["enrollment_state"]) for e in body] == [
        ("StudentEnrollment", "active"),
        ("StudentEnrollment", "invited"),
        ("TeacherEnrollment", "active"),
    ]


def test_type_and_state_filters(sb: Sandbox) -> None:
    """type[] and state[] narrow the list."""
    filters: dict[str, Any] = {"type[]": "StudentEnrollment", "state[]": ["completed", "deleted"]}
    body = enrollments(sb, "sis_user_id:M1", **filters).json()
    assert [e["enrollment_state"] for e in body] == ["completed", "deleted"]


def test_per_page_limits_with_next_link(sb: Sandbox) -> None:
    """per_page=1 gives one enrollment and a next link."""
    response = enrollments(sb, "3001", per_page=1)
    assert len(response.json()) == 1 and "next" in response.links


def test_user_without_enrollments_gets_an_empty_list(sb: Sandbox) -> None:
    """A user with no enrollment gets 200 and []."""
    response = enrollments(sb, "3002")
    assert (response.status_code, response.json()) == (200, [])


def test_other_users_enrollments_need_read_roster(sb: Sandbox) -> None:
    """A student may read their own enrollments, not another user's (401)."""
    assert enrollments(sb, "3001", token="student-token").status_code == 200
    assert enrollments(sb, "3002", token="student-token").status_code == 401
