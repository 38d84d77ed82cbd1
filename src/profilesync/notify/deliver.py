"""Delivering a finished run's report: each configured channel tried once, a failure logged with advice."""

from __future__ import annotations

import logging
import smtplib
import ssl
from typing import TYPE_CHECKING

from profilesync.notify.message import RunSummary, from_error
from profilesync.scrub import Scrubber

if TYPE_CHECKING:
    from profilesync.config import Settings
    from profilesync.errors import ProfilesyncError

log = logging.getLogger("profilesync.notify")


def deliver(settings: Settings, summary: RunSummary) -> list[str]:
    """Send the report where the settings say, if they want this exit code; the channels that failed.

    Never raises: the run's outcome is already decided and recorded, and a mail server's bad night must not
    turn a clean sync into a failed one (nor hide the exit code a monitor reads)."""
    notify = settings.notify
    if notify is None or not notify.wants(summary.exit_code):
        return []
    scrub = Scrubber(settings.secret_values())
    clean = summary.cleaned(scrub)
    failed: list[str] = []
    if notify.smtp is not None:
        from profilesync.notify import smtp

        try:
            smtp.send(smtp.build_message(clean, notify.smtp), notify.smtp, timeout=settings.timeout_s)
        except Exception as exc:  # any failure to deliver is reported, never raised (see above)
            failed.append("email")
            log.error("the report was not emailed: %s; what to do: %s", scrub(describe(exc)), smtp_advice(exc))
        else:
            log.info("report emailed to %s", ", ".join(notify.smtp.recipients))
    if notify.webhook_url is not None:
        from profilesync.notify import webhook

        try:
            body = webhook.payload(clean, notify.webhook_format)
            webhook.post(notify.webhook_url.reveal(), body, timeout=settings.timeout_s)
        except Exception as exc:  # as above
            failed.append("webhook")
            log.error(
                "the report was not posted to the webhook: %s; what to do: %s",
                scrub(describe(exc)),
                webhook_advice(exc),
            )
        else:
            log.info("report posted to the webhook")
    return failed


def deliver_error(job: str, settings: Settings, exc: ProfilesyncError) -> None:
    """A sync stopped by an error (exit 2-5: configuration, bad token, safety valve, lock held): its report."""
    deliver(settings, from_error(job, exc))


def describe(exc: BaseException) -> str:
    """An error in one line; the caller hides secrets in it (a requests error quotes the URL's path)."""
    text = str(exc).strip() or type(exc).__name__
    return text if type(exc).__name__ in text else f"{type(exc).__name__}: {text}"


def smtp_advice(exc: BaseException) -> str:
    """What to change, by what the mail server (or the network) said."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return "check PROFILESYNC_NOTIFY_SMTP_USER and _PASSWORD (many providers want an app password)"
    if isinstance(exc, smtplib.SMTPSenderRefused | smtplib.SMTPRecipientsRefused):
        return "check PROFILESYNC_NOTIFY_SMTP_FROM and _TO: the server refused them (many take only the login's sender)"
    if isinstance(exc, smtplib.SMTPNotSupportedError) and "AUTH" in str(exc):
        return "the server offers no login here: most offer it only after STARTTLS (PROFILESYNC_NOTIFY_SMTP_SECURITY)"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return (
            "the server offers no STARTTLS: set PROFILESYNC_NOTIFY_SMTP_SECURITY=ssl (port 465) or ask for its TLS port"
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "the server's certificate is not trusted here: name your private CA's file in SSL_CERT_FILE"
    if isinstance(exc, ssl.SSLError):
        return "TLS failed: PROFILESYNC_NOTIFY_SMTP_SECURITY must match the port (starttls: 587, ssl: 465)"
    return (
        "check PROFILESYNC_NOTIFY_SMTP_HOST and _PORT, and that this machine may reach the server "
        "(firewalls often block 25, 465 and 587); the run itself is unaffected"
    )


def webhook_advice(exc: BaseException) -> str:
    from profilesync.notify.webhook import WebhookRefused

    if isinstance(exc, WebhookRefused) and 400 <= exc.status < 500:
        return (
            "check PROFILESYNC_NOTIFY_WEBHOOK_URL (the webhook may have been removed) and "
            "PROFILESYNC_NOTIFY_WEBHOOK_FORMAT (teams for a Teams Workflows webhook, text for Slack)"
        )
    return (
        "the chat service did not take the message; the run itself is unaffected and the next report goes out as usual"
    )
