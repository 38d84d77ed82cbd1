"""Fixtures for the delivered report: a sandbox world, an SMTP server (plain, or STARTTLS with a login) and a
webhook, all on loopback (tests/support/receivers.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from profilesync_sandbox import SandboxConfig
from support.receivers import Hook, Inbox, smtp_server, starttls_smtp_server, webhook_server
from support.world import World, make_world


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    yield from make_world(tmp_path, monkeypatch, SandboxConfig(users=30, missing_sis_rate=0.0))


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    with smtp_server() as box:
        yield box


@pytest.fixture(scope="session")
def certificate_authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_inbox(tmp_path: Path, certificate_authority: trustme.CA) -> Iterator[Inbox]:
    with starttls_smtp_server(tmp_path, certificate_authority) as box:
        yield box


@pytest.fixture
def hook() -> Iterator[Hook]:
    with webhook_server() as received:
        yield received


@pytest.fixture
def ssl_inbox(tmp_path: Path, certificate_authority: trustme.CA) -> Iterator[Inbox]:
    with starttls_smtp_server(tmp_path, certificate_authority, implicit=True) as box:
        yield box
