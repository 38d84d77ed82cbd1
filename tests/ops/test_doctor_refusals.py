"""`profilesync doctor`'s "limited access" line against the sandbox: ok when Canvas cannot restrict students."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from profilesync_sandbox import SandboxConfig
from support.world import World, make_world

from .conftest import OPS_USERS
from .test_doctor import line


@pytest.fixture
def limited_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    config = SandboxConfig(users=OPS_USERS, limited_access_for_students=True)
    yield from make_world(tmp_path, monkeypatch, config)


def test_limited_access_line_passes_by_default(world: World) -> None:
    """A Canvas without the feature: the line passes, and reading it wrote nothing."""
    output = world.cli("doctor", expect=0).stdout
    assert line(output, "limited access").startswith("[ ok ]")
    assert world.sandbox.state.counts()["GET /api/v1/accounts/:account_id/features/enabled"] == 1
    assert not world.sandbox.state.files()


def test_limited_access_feature_is_a_warning_naming_the_setting(limited_world: World) -> None:
    """With the feature on: a warning (exit 0) that names the account setting and the failure reason to expect."""
    output = limited_world.cli("doctor", expect=0).stdout
    assert line(output, "limited access").startswith("[warn]")
    assert "limited_access" in output and "Limited access for students" in output
    assert line(output, "act as users").startswith("[ ok ]")


def test_limited_access_line_is_skipped_with_a_bad_token(world: World) -> None:
    """A token Canvas does not know: the line is skipped like the other checks that need Canvas."""
    world.extra_env["CANVAS_API_TOKEN"] = "7~not-a-real-token"
    output = world.cli("doctor", expect=3).stdout
    assert line(output, "limited access").startswith("[skip]")
