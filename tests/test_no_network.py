"""The test suite reaches no network beyond loopback (pytest-socket's --allow-hosts, set in pyproject.toml)."""

from __future__ import annotations

import socket

import pytest
from pytest_socket import SocketConnectBlockedError


def test_a_connection_beyond_loopback_fails_the_test() -> None:
    """Connecting to a non-loopback address is refused before any packet leaves (TEST-NET-1, RFC 5737)."""
    with (
        socket.socket() as sock,
        pytest.raises(SocketConnectBlockedError),
        pytest.warns(UserWarning, match="192.0.2.1"),
    ):
        sock.connect(("192.0.2.1", 443))


def test_loopback_connections_are_allowed() -> None:
    """The sandbox and PostgreSQL on 127.0.0.1 stay reachable."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=5):
            pass
