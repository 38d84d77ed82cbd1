"""Receivers for a delivered report, on loopback: an SMTP server (aiosmtpd; optionally STARTTLS with a certificate
from a test CA, and a login) and a webhook (http.server) that keeps every JSON body posted to it."""

from __future__ import annotations

import html as html_module
import json
import re
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

SMTP_USER = "reports@school.example.org"
SMTP_PASSWORD = "mail-pass-0123456789"
#: the part of the test webhook's URL that plays a Slack webhook's token: never in a report or a log line
HOOK_SECRET = "hooksecret0123456789"


def free_port() -> int:
    """A port nothing listens on (aiosmtpd's controller checks its server by connecting to the port it was given)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Inbox:
    """What the SMTP server accepted: each mail as parsed, its envelope, whether it came over TLS; the logins."""

    port: int = field(default_factory=free_port)
    ca_file: str | None = None  # STARTTLS servers: the test CA that signed their certificate
    mails: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    tls: list[bool] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append(message_from_bytes(envelope.original_content or envelope.content, policy=policy.default))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.tls.append(server.transport.get_extra_info("ssl_object") is not None)  # STARTTLS'd or SMTPS
        return "250 OK"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            SMTP_USER.encode(),
            SMTP_PASSWORD.encode(),
        )
        if ok:
            self.logins.append(data.login.decode())
        return AuthResult(success=ok)

    def env(self, **more: str) -> dict[str, str]:
        """The settings that send every report here (plain SMTP, no login, unless ``more`` says otherwise)."""
        return {
            "PROFILESYNC_NOTIFY_SMTP_HOST": "127.0.0.1",
            "PROFILESYNC_NOTIFY_SMTP_PORT": str(self.port),
            "PROFILESYNC_NOTIFY_SMTP_SECURITY": "none",
            "PROFILESYNC_NOTIFY_SMTP_FROM": "profilesync <reports@school.example.org>",
            "PROFILESYNC_NOTIFY_SMTP_TO": "it@school.example.org, registrar@school.example.org",
            **more,
        }

    def tls_env(self, **more: str) -> dict[str, str]:
        """The settings for the STARTTLS server: STARTTLS, the login, the test CA trusted (SSL_CERT_FILE)."""
        assert self.ca_file is not None
        tls = {
            "PROFILESYNC_NOTIFY_SMTP_SECURITY": "starttls",
            "PROFILESYNC_NOTIFY_SMTP_USER": SMTP_USER,
            "PROFILESYNC_NOTIFY_SMTP_PASSWORD": SMTP_PASSWORD,
            "SSL_CERT_FILE": self.ca_file,
        }
        return self.env(**{**tls, **more})


@contextmanager
def smtp_server() -> Iterator[Inbox]:
    """A plain SMTP server (a local relay: no TLS, no login)."""
    box = Inbox()
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@contextmanager
def starttls_smtp_server(folder: Path, authority: trustme.CA, *, implicit: bool = False) -> Iterator[Inbox]:
    """An SMTP server that requires STARTTLS (``implicit``: TLS from the first byte, SMTPS) with a certificate
    from ``authority``, and a login before mail."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    ca_file = folder / "test-ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    box = Inbox(ca_file=str(ca_file))
    # aiosmtpd counts only STARTTLS as TLS for its AUTH rule; an SMTPS connection is TLS throughout.
    implicit_tls = {"ssl_context": context, "auth_require_tls": False}
    tls: dict[str, Any] = implicit_tls if implicit else {"tls_context": context, "require_starttls": True}
    controller = Controller(
        box, hostname="127.0.0.1", port=box.port, auth_required=True, authenticator=box.authenticate, **tls
    )
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@dataclass
class Hook:
    """A webhook: every JSON body it was posted and the path it was posted to; the status it answers."""

    url: str = ""
    bodies: list[Any] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    status: int = 200


@contextmanager
def webhook_server() -> Iterator[Hook]:
    received = Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            received.paths.append(self.path)
            received.bodies.append(json.loads(self.rfile.read(length)))
            self.send_response(received.status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    received.url = f"http://127.0.0.1:{server.server_address[1]}/services/T0SCHOOL/B0NIGHT/{HOOK_SECRET}"
    try:
        yield received
    finally:
        server.shutdown()
        server.server_close()


def parts(mail: EmailMessage) -> tuple[str, str]:
    """The mail's plain-text part, and the text its HTML part shows (tags dropped, entities decoded)."""
    assert mail.get_content_type() == "multipart/alternative"
    plain, page = mail.get_body(("plain",)), html_page(mail)
    assert plain is not None
    text = str(plain.get_content()).replace("\r\n", "\n")  # SMTP's line ends, as a reader's client shows them
    return text, html_module.unescape(re.sub(r"<[^>]+>", " ", page))


def html_page(mail: EmailMessage) -> str:
    """The mail's HTML part as sent."""
    part = mail.get_body(("html",))
    assert part is not None
    return str(part.get_content())
