"""Settings from the environment and .env, with every problem reported at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from profilesync.config import load_settings, require_canvas, url_problems
from profilesync.domain import Crop, Secret
from profilesync.engine.model import Policy
from profilesync.errors import ConfigError


def test_env_file_values_are_read(tmp_path: Path) -> None:
    """Variables in the named .env file become settings."""
    env = tmp_path / "sync.env"
    env.write_text("CANVAS_BASE_URL=https://school.instructure.com/\nPROFILESYNC_POLICY=respect\n")
    settings = load_settings(env, environ={})
    assert settings.canvas_base_url == "https://school.instructure.com"
    assert settings.policy is Policy.RESPECT


def test_process_environment_wins_over_env_file(tmp_path: Path) -> None:
    """The process environment overrides the .env file."""
    env = tmp_path / ".env"
    env.write_text("PROFILESYNC_MAX_AGE_DAYS=30\n")
    assert load_settings(env, environ={"PROFILESYNC_MAX_AGE_DAYS": "7"}).max_age_days == 7


def test_runs_are_kept_400_days_unless_told() -> None:
    """PROFILESYNC_KEEP_RUNS_DAYS: 400 by default, 0 (keep every run) allowed, a negative number refused."""
    assert load_settings(None, environ={}).keep_runs_days == 400
    assert load_settings(None, environ={"PROFILESYNC_KEEP_RUNS_DAYS": "0"}).keep_runs_days == 0
    with pytest.raises(ConfigError, match="PROFILESYNC_KEEP_RUNS_DAYS=-1 must be at least 0"):
        load_settings(None, environ={"PROFILESYNC_KEEP_RUNS_DAYS": "-1"})


def test_crop_is_centre_unless_told() -> None:
    """PROFILESYNC_CROP: centre by default (as before), portrait/face/"center" accepted, anything else refused."""
    assert load_settings(None, environ={}).crop is Crop.CENTRE
    assert load_settings(None, environ={"PROFILESYNC_CROP": " Face "}).crop is Crop.FACE
    assert load_settings(None, environ={"PROFILESYNC_CROP": "portrait"}).crop is Crop.PORTRAIT
    assert load_settings(None, environ={"PROFILESYNC_CROP": "center"}).crop is Crop.CENTRE
    with pytest.raises(ConfigError, match="PROFILESYNC_CROP='middle' must be 'centre', 'portrait' or 'face'"):
        load_settings(None, environ={"PROFILESYNC_CROP": "middle"})


def test_missing_named_env_file_is_an_error(tmp_path: Path) -> None:
    """--env-file naming a missing file is a configuration error."""
    with pytest.raises(ConfigError, match="no such file"):
        load_settings(tmp_path / "nope.env", environ={})


def test_every_problem_is_reported_at_once() -> None:
    """Several bad values produce one error listing each of them."""
    environ = {"PROFILESYNC_POLICY": "maybe", "PROFILESYNC_WORKERS": "lots", "PROFILESYNC_MATCH": "shoe_size"}
    with pytest.raises(ConfigError) as caught:
        load_settings(None, environ=environ)
    assert len(caught.value.problems) == 3


def test_token_is_masked_in_repr() -> None:
    """The token never shows in the settings' repr."""
    settings = load_settings(None, environ={"CANVAS_API_TOKEN": "7~supersecrettokenvalue"})
    assert "supersecret" not in repr(settings)
    assert isinstance(settings.canvas_token, Secret)
    assert settings.canvas_token.reveal() == "7~supersecrettokenvalue"


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://school.instructure.com", True),
        ("http://127.0.0.1:8080", True),
        ("http://localhost:8080", True),
        ("http://[::1]:8080", True),
        ("http://school.example.edu", False),
        ("ftp://school.example.edu", False),
        ("school.instructure.com", False),
    ],
)
def test_plain_http_only_to_loopback(url: str, ok: bool) -> None:
    """http:// is refused unless the host is loopback; other schemes are refused."""
    assert (url_problems("CANVAS_BASE_URL", url, allow_insecure_http=False) == []) is ok


def test_insecure_http_can_be_allowed_explicitly() -> None:
    """--allow-insecure-http lifts the loopback rule."""
    assert url_problems("CANVAS_BASE_URL", "http://canvas.lan", allow_insecure_http=True) == []


def test_canvas_requires_url_and_token() -> None:
    """Missing URL and token are both named."""
    with pytest.raises(ConfigError) as caught:
        require_canvas(load_settings(None, environ={}))
    assert [p.split(" ")[0] for p in caught.value.problems] == ["CANVAS_BASE_URL", "CANVAS_API_TOKEN"]
