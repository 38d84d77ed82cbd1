"""The report by email: one multipart/alternative message (plain text first, then HTML), sent with smtplib.

STARTTLS (587) or implicit TLS (465) with the system's trusted CAs and host name checking
(``ssl.create_default_context``; a private CA is named the OpenSSL way, in ``SSL_CERT_FILE``), then login when
a user is set. Every socket operation has the run's timeout, so a silent mail server cannot hold a nightly job.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from profilesync import __version__
from profilesync.notify.message import RunSummary, html_part, text
from profilesync.notify.settings import Security, SmtpSettings


def build_message(summary: RunSummary, smtp: SmtpSettings) -> EmailMessage:
    """The mail: subject, sender, every recipient, the text part and its HTML alternative (stdlib ``email``)."""
    message = EmailMessage()
    message["Subject"] = summary.subject()
    message["From"] = smtp.sender
    message["To"] = ", ".join(smtp.recipients)
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid("profilesync")
    message["X-Mailer"] = f"profilesync {__version__}"
    # Automated: auto-responders ("I am out of office") should not answer a nightly report (RFC 3834).
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text(summary))
    message.add_alternative(html_part(summary), subtype="html")
    return message


def send(message: EmailMessage, smtp: SmtpSettings, *, timeout: float) -> None:
    """Connect, secure, log in, send; raises OSError (smtplib's and ssl's errors are OSErrors) on failure."""
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if smtp.security is Security.SSL:
        client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=timeout, context=context)
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=timeout)
    with client:
        if smtp.security is Security.STARTTLS:
            client.starttls(context=context)  # raises SMTPNotSupportedError if the server does not offer it
        if smtp.user is not None and smtp.password is not None:
            client.login(smtp.user, smtp.password.reveal())
        client.send_message(message)
