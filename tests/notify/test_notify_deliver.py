"""``deliver`` never raises, and what it logs about a failed delivery shows no secret."""

from __future__ import annotations

import logging

import pytest

from profilesync.config import load_settings
from profilesync.notify.deliver import deliver
from profilesync.notify.message import RunSummary
from support.receivers import HOOK_SECRET, free_port


def test_unreachable_webhook_is_logged_without_its_url(caplog: pytest.LogCaptureFixture) -> None:
    """Nothing listening at the webhook: deliver returns the failed channel, and the logged error (which requests
    builds from the URL's path) shows <hidden> instead of the path."""
    url = f"http://127.0.0.1:{free_port()}/services/T0SCHOOL/B0NIGHT/{HOOK_SECRET}"
    settings = load_settings(environ={"PROFILESYNC_NOTIFY": "always", "PROFILESYNC_NOTIFY_WEBHOOK_URL": url})
    with caplog.at_level(logging.ERROR, logger="profilesync.notify"):
        failed = deliver(settings.with_overrides(timeout_s=5.0), RunSummary(command="avatars sync", exit_code=0))
    assert failed == ["webhook"]
    (record,) = caplog.records
    message = record.getMessage()
    assert "the report was not posted to the webhook" in message and "Connection" in message
    assert HOOK_SECRET not in message and "T0SCHOOL" not in message


def test_nothing_is_attempted_when_the_exit_code_is_not_wanted(caplog: pytest.LogCaptureFixture) -> None:
    """failures and a clean run: no connection is even tried (the port is closed; no error is logged)."""
    settings = load_settings(
        environ={
            "PROFILESYNC_NOTIFY": "failures",
            "PROFILESYNC_NOTIFY_WEBHOOK_URL": f"http://127.0.0.1:{free_port()}/hook/{HOOK_SECRET}",
        }
    )
    with caplog.at_level(logging.DEBUG, logger="profilesync.notify"):
        assert deliver(settings, RunSummary(command="avatars sync", exit_code=0)) == []
        assert deliver(settings, RunSummary(command="avatars sync", exit_code=130)) == []
    assert caplog.records == []
