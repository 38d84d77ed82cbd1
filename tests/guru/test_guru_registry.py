"""`--target guru` in the target registry: settings checked all at once, the adapter built from them."""

from __future__ import annotations

import pytest

from profilesync import app
from profilesync.config import Settings
from profilesync.domain import Secret
from profilesync.errors import ConfigError
from profilesync.targets.guru import DEFAULT_IN_FLIGHT, GuruTarget

GURU = app.AvatarRequest(target="guru")


def test_guru_target_is_built_from_the_settings() -> None:
    """GURU_* settings give a GuruTarget named guru:<base url>, matching by email."""
    settings = Settings(guru_user="admin@school.test", guru_token=Secret("t"))
    target = app.build_target(settings, GURU)
    assert isinstance(target, GuruTarget)
    assert target.target_id == "guru:https://api.getguru.com" and target.match == "email"
    assert target.api.gate.max_in_flight == DEFAULT_IN_FLIGHT


def test_workers_option_bounds_requests_in_flight() -> None:
    """--workers sets the Guru requests in flight as it does for Canvas."""
    settings = Settings(guru_user="a@b.test", guru_token=Secret("t"))
    target = app.build_target(settings, app.AvatarRequest(target="guru", workers=3))
    assert isinstance(target, GuruTarget) and target.api.gate.max_in_flight == 3


def test_every_missing_setting_is_reported_at_once() -> None:
    """No user, no token and an unusable match field: one ConfigError listing all three."""
    with pytest.raises(ConfigError) as caught:
        app.build_target(Settings(match="sis_user_id"), GURU)
    problems = caught.value.problems
    assert len(problems) == 3
    assert any("GURU_USER" in p for p in problems) and any("GURU_API_TOKEN" in p for p in problems)
    assert any("PROFILESYNC_MATCH=sis_user_id" in p for p in problems)


def test_plain_http_to_a_remote_host_is_refused() -> None:
    """http:// is only for loopback (the sandbox), as for Canvas."""
    settings = Settings(guru_base_url="http://guru.example.com", guru_user="a@b.test", guru_token=Secret("t"))
    with pytest.raises(ConfigError, match="GURU_BASE_URL"):
        app.build_target(settings, GURU)
