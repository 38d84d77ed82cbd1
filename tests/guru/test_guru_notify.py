"""``avatars sync --target guru`` delivers its report like Canvas's, and Guru's echoed credentials stay hidden."""

from __future__ import annotations

import base64
import html
from collections.abc import Iterator
from pathlib import Path

import pytest

from profilesync_sandbox.guru import GuruSandboxConfig
from support.receivers import parts, smtp_server, webhook_server

from .world import GuruWorld, make_guru_world


@pytest.fixture
def echoing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GuruWorld]:
    """A Guru whose every error answer quotes the Authorization header and the decoded user:token."""
    config = GuruSandboxConfig(members=12, page_size=5, inactive_rate=0.0, echo_credentials_in_errors=True)
    yield from make_guru_world(tmp_path, monkeypatch, config)


def test_guru_failure_is_delivered_with_the_credentials_hidden(echoing: GuruWorld) -> None:
    """A member whose PUT Guru refuses with an answer quoting the credentials: the mail and the webhook carry the
    guru counts line, the failed member and exit 1, with <hidden> where the credentials were."""
    guru = echoing.guru
    guru.faults.fail_next("PUT", r"^/api/v1/people/", 400, host="guru")
    with smtp_server() as inbox, webhook_server() as hook:
        echoing.extra_env.update(inbox.env(PROFILESYNC_NOTIFY="failures", PROFILESYNC_NOTIFY_WEBHOOK_URL=hook.url))
        echoing.cli("-q", "avatars", "sync", "--target", "guru", expect=1)
    (mail,) = inbox.mails
    (body,) = hook.bodies
    secrets = [guru.token, f"{guru.user}:{guru.token}", base64.b64encode(f"{guru.user}:{guru.token}".encode()).decode()]
    chat = html.unescape(body["text"])  # Slack's text escapes <, > and &
    for text in (*parts(mail), chat):
        assert "guru:" in text and "1 failed" in text and "exit 1" in text
        assert "remote_error" in text and "<hidden>" in text
        assert not any(secret in text for secret in secrets)
