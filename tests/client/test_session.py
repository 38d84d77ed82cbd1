"""The session reads the environment's proxy settings once per host, and still per host."""

from __future__ import annotations

import pytest

from profilesync.http import make_session


def test_proxy_settings_are_read_once_per_host_and_honour_no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTPS_PROXY applies to Canvas, NO_PROXY exempts the upload host, and a later change is not re-read."""
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.test:3128")
    monkeypatch.setenv("NO_PROXY", "uploads.test")
    session = make_session()
    canvas = session.merge_environment_settings("https://canvas.test/api/v1/users/1", {}, None, None, None)
    uploads = session.merge_environment_settings("https://uploads.test/files", {}, None, None, None)
    assert canvas["proxies"].get("https") == "http://proxy.test:3128"
    assert "https" not in uploads["proxies"]
    monkeypatch.setenv("HTTPS_PROXY", "http://elsewhere.test:1")
    again = session.merge_environment_settings("https://canvas.test/api/v1/users/2", {}, None, None, None)
    assert again["proxies"].get("https") == "http://proxy.test:3128"


def test_explicit_proxies_are_used_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    """A request's own proxies win over the environment's, uncached."""
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.test:3128")
    session = make_session()
    given = {"https": "http://mine.test:8080"}
    settings = session.merge_environment_settings("https://canvas.test/x", given, None, None, None)
    assert settings["proxies"]["https"] == "http://mine.test:8080"
