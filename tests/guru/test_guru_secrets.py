"""Guru's Basic credentials never leak, even when Guru (or a proxy) echoes them back in its error answers.

The credentials are the token, ``user:token`` and the ``Authorization`` value (base64 of ``user:token``); the
Guru sandbox's ``echo_credentials_in_errors`` quotes all three in every error body it sends.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from profilesync_sandbox.guru import GuruSandboxConfig

from .world import GuruWorld, make_guru_world


@pytest.fixture
def echoing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GuruWorld]:
    """A Guru whose every error answer quotes the Authorization header and the decoded user:token."""
    config = GuruSandboxConfig(members=12, page_size=5, inactive_rate=0.0, echo_credentials_in_errors=True)
    yield from make_guru_world(tmp_path, monkeypatch, config)


def secrets_of(user: str, token: str) -> list[str]:
    return [token, f"{user}:{token}", base64.b64encode(f"{user}:{token}".encode()).decode()]


def assert_nowhere(secrets: list[str], *texts: str) -> None:
    for text in texts:
        for secret in secrets:
            assert secret not in text


def test_echoed_credentials_never_reach_output_log_or_history(echoing: GuruWorld, tmp_path: Path) -> None:
    """Members whose upload or PUT fails with an answer quoting the credentials: the failures are reported (exit
    1) with <hidden> in their place on stdout, stderr, the -v log file and in the history database."""
    guru = echoing.guru
    guru.faults.fail_next("POST", r"^/app/picture$", 400, host="guru")
    guru.faults.fail_next("PUT", r"^/api/v1/people/", 400, count=2, host="guru")
    log_file = tmp_path / "sync.log"
    result = echoing.cli(
        "-v", "--log-file", str(log_file), "avatars", "sync", "--target", "guru", "--format", "json", expect=1
    )
    runs = echoing.cli("avatars", "runs", "--run", "1", "--format", "json")
    history = echoing.cli("avatars", "history", "--format", "json")
    assert "<hidden>" in result.stdout and "Authorization: Basic <hidden>" in log_file.read_text()
    assert result.stdout.count('"reason": "remote_error"') == 3
    database = (tmp_path / "history.sqlite3").read_bytes().decode("utf-8", "replace")
    assert_nowhere(
        secrets_of(guru.user, guru.token),
        result.stdout,
        result.stderr,
        log_file.read_text(),
        runs.stdout,
        history.stdout,
        database,
    )


def test_rejected_credentials_echoed_by_guru_are_hidden(echoing: GuruWorld, tmp_path: Path) -> None:
    """A wrong token that Guru's 401 quotes back: exit 3 with advice, and the wrong token is hidden too."""
    wrong = "wrong-guru-token-0123456789"
    echoing.extra_env["GURU_API_TOKEN"] = wrong
    log_file = tmp_path / "sync.log"
    result = echoing.cli("-vv", "--log-file", str(log_file), "avatars", "sync", "--target", "guru", expect=3)
    assert "Guru rejected the credentials" in result.stderr and "<hidden>" in result.stderr
    assert_nowhere(secrets_of(echoing.guru.user, wrong), result.stdout, result.stderr, log_file.read_text())


def test_lookup_of_one_member_hides_echoed_credentials(echoing: GuruWorld) -> None:
    """`--user` whose member GET fails with an echoing 400 stops with the error, the credentials hidden."""
    echoing.guru.faults.fail_next("GET", r"^/api/v1/members/", 400, host="guru")
    result = echoing.cli("avatars", "plan", "--target", "guru", "--user", echoing.members()[0].email, expect=3)
    assert "<hidden>" in result.stderr
    assert_nowhere(secrets_of(echoing.guru.user, echoing.guru.token), result.stdout, result.stderr)
