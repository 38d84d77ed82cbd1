"""The nightly report delivered: the real CLI syncs against the sandbox, then mails a loopback SMTP server and
posts a loopback webhook (PROFILESYNC_NOTIFY, README "The nightly report")."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from support.receivers import HOOK_SECRET, SMTP_PASSWORD, SMTP_USER, Hook, Inbox, free_port, html_page, parts
from support.world import World


def break_photos(world: World, count: int) -> list[str]:
    """Make ``count`` students' photos undecodable: each fails that user (invalid_photo)."""
    keys = sorted(p.stem for p in world.photos.glob("*.jpg"))[:count]
    for key in keys:
        (world.photos / f"{key}.jpg").write_text("not a photo")
    return keys


def test_failed_sync_mails_failures_with_reasons_and_advice_in_both_parts(world: World, inbox: Inbox) -> None:
    """Two broken photos, PROFILESYNC_NOTIFY=failures: one mail to both recipients, text and HTML parts each with
    the counts, every failed user with reason and advice, and the exit code; the CLI still exits 1."""
    broken = break_photos(world, 2)
    world.extra_env.update(inbox.env(PROFILESYNC_NOTIFY="failures"))
    world.cli("-q", "avatars", "sync", expect=1)
    (mail,) = inbox.mails
    assert inbox.envelopes == [
        ("reports@school.example.org", ["it@school.example.org", "registrar@school.example.org"])
    ]
    assert re.fullmatch(r"profilesync avatars sync on \S+: 2 failed, exit 1", mail["Subject"])
    assert mail["Auto-Submitted"] == "auto-generated"
    plain, html = parts(mail)
    for part in (plain, html):
        assert "exit 1 (finished, some users or rows failed)" in part
        assert re.search(r"canvas:\S+: \d+ uploaded, 0 reassigned, .* 2 failed", part)
        for key in broken:
            assert key in part
        assert part.count("invalid_photo") == 2
        assert "replace the photo file (a JPEG or PNG portrait)" in part
    assert "http://" not in plain and "https://" not in plain  # link-free
    assert re.search(rf"^{broken[0]}: invalid_photo\n  .+\n  what to do: replace the photo file", plain, re.M)
    page = html_page(mail)
    assert "<table" in page and "<img" not in page and "src=" not in page and "href=" not in page


def test_clean_run_sends_nothing_when_only_failures_are_reported(world: World, inbox: Inbox, hook: Hook) -> None:
    """PROFILESYNC_NOTIFY=failures and a sync that fails nobody: no mail, no webhook post."""
    world.extra_env.update(inbox.env(PROFILESYNC_NOTIFY="failures", PROFILESYNC_NOTIFY_WEBHOOK_URL=hook.url))
    world.cli("avatars", "sync")
    assert inbox.mails == [] and hook.bodies == []


def test_always_reports_a_clean_run_by_mail_and_webhook(world: World, inbox: Inbox, hook: Hook) -> None:
    """PROFILESYNC_NOTIFY=always: a clean run is mailed ("ok", exit 0) and posted as Slack-style {"text": ...}."""
    world.extra_env.update(inbox.env(PROFILESYNC_NOTIFY="always", PROFILESYNC_NOTIFY_WEBHOOK_URL=hook.url))
    world.cli("avatars", "sync")
    (mail,) = inbox.mails
    assert mail["Subject"].endswith(": ok, exit 0")
    (body,) = hook.bodies
    assert list(body) == ["text"]
    assert "exit 0 (done)" in body["text"] and re.search(r"canvas:\S+: \d+ uploaded", body["text"])
    assert hook.paths == ["/services/T0SCHOOL/B0NIGHT/hooksecret0123456789"]


def test_teams_format_posts_an_adaptive_card_with_the_failures(world: World, hook: Hook) -> None:
    """PROFILESYNC_NOTIFY_WEBHOOK_FORMAT=teams: a message with one Adaptive Card naming each failed user."""
    broken = break_photos(world, 1)
    world.extra_env.update(
        PROFILESYNC_NOTIFY="failures",
        PROFILESYNC_NOTIFY_WEBHOOK_URL=hook.url,
        PROFILESYNC_NOTIFY_WEBHOOK_FORMAT="teams",
    )
    world.cli("avatars", "sync", expect=1)
    (body,) = hook.bodies
    assert body["type"] == "message"
    (attachment,) = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    texts = [block["text"] for block in card["body"]]
    assert "exit 1 (finished, some users or rows failed)" in texts[0]
    assert any(t.startswith(f"{broken[0]}: invalid_photo: ") and "replace the photo file" in t for t in texts)


def test_starttls_with_login_delivers(world: World, tls_inbox: Inbox) -> None:
    """A server requiring STARTTLS (certificate of a private CA named in SSL_CERT_FILE) and a login gets the mail
    over TLS, logged in as the configured user."""
    break_photos(world, 1)
    world.extra_env.update(tls_inbox.tls_env(PROFILESYNC_NOTIFY="failures"))
    result = world.cli("avatars", "sync", expect=1)
    assert len(tls_inbox.mails) == 1 and tls_inbox.tls == [True] and tls_inbox.logins == [SMTP_USER]
    assert SMTP_PASSWORD not in result.output


# aiosmtpd warns that AUTH without STARTTLS is unsafe: it does not count SMTPS's TLS-from-the-start as TLS.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_implicit_tls_with_login_delivers(world: World, ssl_inbox: Inbox) -> None:
    """PROFILESYNC_NOTIFY_SMTP_SECURITY=ssl (SMTPS: TLS from the first byte) with a login delivers the mail."""
    break_photos(world, 1)
    world.extra_env.update(ssl_inbox.tls_env(PROFILESYNC_NOTIFY="failures", PROFILESYNC_NOTIFY_SMTP_SECURITY="ssl"))
    world.cli("-q", "avatars", "sync", expect=1)
    assert len(ssl_inbox.mails) == 1 and ssl_inbox.tls == [True] and ssl_inbox.logins == [SMTP_USER]


def test_untrusted_certificate_is_refused_and_the_exit_code_kept(world: World, tls_inbox: Inbox) -> None:
    """Without the private CA the certificate is not trusted: nothing is sent (not even the login), the error says
    what to do, and the run's exit code is the sync's own."""
    env = tls_inbox.tls_env(PROFILESYNC_NOTIFY="always")
    del env["SSL_CERT_FILE"]
    world.extra_env.update(env)
    result = world.cli("-q", "avatars", "sync", expect=0)
    assert tls_inbox.mails == [] and tls_inbox.logins == []
    assert "the report was not emailed" in result.stderr and "SSL_CERT_FILE" in result.stderr


def test_delivery_failure_keeps_the_exit_code_and_the_run_record(world: World, hook: Hook, tmp_path: Path) -> None:
    """No mail server listening and the webhook answering 500: the sync still exits 1 with its failures recorded;
    both failures are logged (stderr even under -q, and the log file) without the webhook's secret path."""
    break_photos(world, 1)
    hook.status = 500
    world.extra_env.update(
        PROFILESYNC_NOTIFY="failures",
        PROFILESYNC_NOTIFY_SMTP_HOST="127.0.0.1",
        PROFILESYNC_NOTIFY_SMTP_PORT=str(free_port()),
        PROFILESYNC_NOTIFY_SMTP_SECURITY="none",
        PROFILESYNC_NOTIFY_SMTP_FROM="reports@school.example.org",
        PROFILESYNC_NOTIFY_SMTP_TO="it@school.example.org",
        PROFILESYNC_NOTIFY_WEBHOOK_URL=hook.url,
    )
    log_file = tmp_path / "avatars.log"
    result = world.cli("-q", "--log-file", str(log_file), "avatars", "sync", expect=1)
    assert "the report was not emailed" in result.stderr and "PROFILESYNC_NOTIFY_SMTP_HOST" in result.stderr
    assert re.search(r"the report was not posted to the webhook: .*HTTP 500; what to do: ", result.stderr)
    log_text = log_file.read_text()
    assert "exit 1 (finished, some users or rows failed): profilesync avatars sync" in log_text
    assert HOOK_SECRET not in result.output + log_text
    runs = world.json("avatars", "runs")["runs"]
    assert runs[0]["exit_code"] == 1 and runs[0]["counts"]["failed"] == 1


def test_bad_token_is_reported_with_its_advice(world: World, inbox: Inbox) -> None:
    """A sync stopped by a rejected token (exit 3) is mailed under "failures": the error, what to do, exit 3;
    never the token."""
    world.extra_env.update(inbox.env(PROFILESYNC_NOTIFY="failures"), CANVAS_API_TOKEN="7~not-a-real-token-123")
    world.cli("-q", "avatars", "sync", expect=3)
    (mail,) = inbox.mails
    assert mail["Subject"].endswith(": stopped, exit 3")
    plain, html = parts(mail)
    for part in (plain, html):
        assert re.search(r"error:\s+Canvas rejected the API token", part) and re.search(
            r"what to do:\s+create a new token", part
        )
        assert "exit 3" in part
        assert "7~not-a-real-token-123" not in part


def test_safety_valve_and_missing_token_are_reported(world: World, inbox: Inbox) -> None:
    """An emptied photo folder (exit 4) and a missing token (exit 2: the settings were read, so the report's
    settings are known) are each mailed with their error and advice."""
    world.extra_env.update(inbox.env(PROFILESYNC_NOTIFY="failures"))
    for photo in world.photos.iterdir():
        photo.unlink()
    world.cli("-q", "avatars", "sync", expect=4)
    world.extra_env["CANVAS_API_TOKEN"] = ""
    world.cli("-q", "avatars", "sync", expect=2)
    assert [m["Subject"].rsplit(": ", 1)[1] for m in inbox.mails] == ["stopped, exit 4", "stopped, exit 2"]
    valve, config = (parts(m)[0] for m in inbox.mails)
    assert "exit 4 (safety valve)" in valve and "what to do: " in valve
    assert "exit 2 (usage or configuration error)" in config and "CANVAS_API_TOKEN is not set" in config


def test_secrets_echoed_into_a_failure_never_reach_the_report(world: World, tls_inbox: Inbox, hook: Hook) -> None:
    """Canvas refuses one avatar with a body quoting the token, the SMTP password and the webhook URL: the user's
    failure is delivered with each hidden, in both mail parts and the webhook body.

    (Canvas never sees the SMTP password or the webhook URL; they are planted here to prove the report's own
    scrubbing, beyond the Canvas client's, which hides the token it sends.)"""
    token = world.sandbox.admin_token
    student = world.students()[0]
    echo = {"errors": [{"message": f"Bearer {token} smtp {SMTP_PASSWORD} hook {hook.url}"}]}
    world.sandbox.faults.fail_next("PUT", rf"/api/v1/users/{student.id}$", 400, count=5, body=echo)
    world.extra_env.update(tls_inbox.tls_env(PROFILESYNC_NOTIFY="failures", PROFILESYNC_NOTIFY_WEBHOOK_URL=hook.url))
    result = world.cli("avatars", "sync", expect=1)
    (mail,) = tls_inbox.mails
    plain, html = parts(mail)
    (body,) = hook.bodies
    delivered = plain + html + str(body) + mail.as_string()
    assert re.search(
        rf"^{student.sis_user_id}: remote_error\n  .*Bearer <hidden> smtp <hidden> hook <hidden>", plain, re.M
    )
    for secret in (token, SMTP_PASSWORD, HOOK_SECRET, "/services/T0SCHOOL"):
        assert secret not in delivered
    assert token not in result.output


def test_doctor_shows_where_reports_go_without_sending(world: World, inbox: Inbox, hook: Hook) -> None:
    """`doctor` has a "reports" line naming the recipients, the SMTP server and the webhook's host, never the
    webhook's secret path; it sends nothing."""
    world.extra_env.update(inbox.env(PROFILESYNC_NOTIFY="failures", PROFILESYNC_NOTIFY_WEBHOOK_URL=hook.url))
    output = world.cli("doctor").stdout
    (line,) = [line for line in output.splitlines() if line.startswith("[ ok ] reports")]
    assert "sent on failures: email to it@school.example.org, registrar@school.example.org via 127.0.0.1:" in line
    assert "webhook (text) to 127.0.0.1" in line and HOOK_SECRET not in output
    assert inbox.mails == [] and hook.bodies == []
