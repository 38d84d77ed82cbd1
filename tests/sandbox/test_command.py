"""`profilesync sandbox`: help with an example, and the start-up banner with a ready .env snippet."""

from __future__ import annotations

import pytest
import requests
from click.testing import CliRunner

from profilesync_sandbox import Sandbox
from profilesync_sandbox.command import sandbox


def test_help_has_an_example() -> None:
    """--help documents the options and shows an example invocation."""
    result = CliRunner().invoke(sandbox, ["--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output and "profilesync sandbox --users 300" in result.output
    assert "--upload-mode" in result.output and "--throttle / --no-throttle" in result.output


def test_banner_prints_urls_token_and_env_snippet(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command prints both URLs and the token, serves until interrupted, and stops cleanly."""
    served: dict[str, object] = {}

    def interrupt(sb: Sandbox) -> None:
        served["status"] = requests.get(f"{sb.base_url}/images/messages/avatar-50.png").status_code
        served["sandbox"] = sb
        raise KeyboardInterrupt  # what Ctrl-C does

    monkeypatch.setattr("profilesync_sandbox.command.wait_for_interrupt", interrupt)
    result = CliRunner().invoke(sandbox, ["--users", "5", "--seed", "3", "--upload-mode", "local"])
    assert result.exit_code == 0, result.output
    sb = served["sandbox"]
    assert isinstance(sb, Sandbox) and served["status"] == 200
    assert f"CANVAS_BASE_URL={sb.base_url}\nCANVAS_API_TOKEN={sb.admin_token}\n" in result.output
    assert f"Upload URL:          {sb.upload_base_url}" in result.output
    assert "with 5 users" in result.output and "Stopping the sandbox." in result.output
    assert sb.config.upload_mode == "local"


def test_invalid_option_value_is_a_usage_error() -> None:
    """A bad --upload-mode is refused by click with exit 2."""
    assert CliRunner().invoke(sandbox, ["--upload-mode", "s3"]).exit_code == 2


def test_account_options_print_the_extra_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    """--sub-account-users and --read-less-token print those tokens, and the second spelling is shown."""
    served: dict[str, Sandbox] = {}

    def interrupt(sb: Sandbox) -> None:
        served["sandbox"] = sb
        raise KeyboardInterrupt

    monkeypatch.setattr("profilesync_sandbox.command.wait_for_interrupt", interrupt)
    args = ["--users", "6", "--sub-account-users", "3", "--read-less-token"]
    result = CliRunner().invoke(sandbox, args)
    assert result.exit_code == 0, result.output
    sb = served["sandbox"]
    assert f"Sub-account admin:   {sb.sub_account_token}  (account {sb.sub_account_id})" in result.output
    assert "Read-less token:     1~" in result.output
    assert f"Also answers at:     {sb.alias_base_url}" in result.output
    assert len(sb.state.sorted_users(sb.sub_account_id or 0)) == 3
