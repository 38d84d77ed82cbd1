"""The report's renderings, without a server: the subject, the cap on listed failures, chat escaping."""

from __future__ import annotations

from datetime import UTC, datetime

from profilesync.notify import webhook
from profilesync.notify.message import MAX_LISTED, RunSummary, failure, text
from profilesync.notify.settings import WebhookFormat
from profilesync.scrub import Scrubber

AT = datetime(2026, 12, 4, 2, 15, tzinfo=UTC)


def summary(failures: int, **more: object) -> RunSummary:
    rows = [failure(f"S{i}", "invalid_photo", "broken <jpeg> & more") for i in range(failures)]
    return RunSummary(
        command="avatars sync",
        exit_code=1,
        counts="canvas:x: 1 failed",
        failures=rows,
        host="sis01",
        finished_at=AT,
        **more,
    )  # type: ignore[arg-type]


def test_failures_past_the_cap_are_counted_not_listed() -> None:
    """A mail lists MAX_LISTED failures and says how many more; the subject counts them all."""
    report = summary(MAX_LISTED + 3)
    body = text(report)
    assert f"S{MAX_LISTED - 1}: " in body and f"S{MAX_LISTED}: " not in body
    assert "... and 3 more." in body
    assert report.subject() == f"profilesync avatars sync on sis01: {MAX_LISTED + 3} failed, exit 1"


def test_slack_text_escapes_its_control_characters() -> None:
    """Slack reads <...> as links and mentions: &, < and > are sent as entities."""
    body = webhook.payload(summary(1), WebhookFormat.TEXT)
    assert "broken &lt;jpeg&gt; &amp; more" in body["text"] and "<jpeg>" not in body["text"]


def test_chat_lists_at_most_twenty_failures() -> None:
    """A channel gets the first failures and a count of the rest; the card the same."""
    body = webhook.payload(summary(25), WebhookFormat.TEXT)["text"]
    assert body.count("invalid_photo") == webhook.MAX_LISTED and "... and 5 more" in body
    card = webhook.payload(summary(25), WebhookFormat.TEAMS)["attachments"][0]["content"]
    assert sum("invalid_photo" in b["text"] for b in card["body"]) == webhook.MAX_LISTED


def test_cleaned_hides_secrets_in_every_field() -> None:
    """The summary's error, advice, counts and every failure cell lose their secrets before rendering."""
    secret = "s3cret-value-123"
    report = RunSummary(
        command="avatars sync",
        exit_code=3,
        error=f"rejected {secret}",
        advice=f"replace {secret}",
        counts=f"c {secret}",
        failures=[failure(secret, "remote_error", secret, secret)],
        host="sis01",
        finished_at=AT,
    ).cleaned(Scrubber([secret]))
    rendered = text(report) + str(webhook.payload(report, WebhookFormat.TEAMS))
    assert secret not in rendered and rendered.count("<hidden>") >= 6


def test_cleaned_leaves_no_link() -> None:
    """URL schemes are dropped from every field: the report names hosts without offering links."""
    report = RunSummary(
        command="avatars sync",
        exit_code=1,
        counts="guru:https://api.getguru.com: 1 failed",
        failures=[failure("a@b.org", "remote_error", "see HTTP://Proxy.example/x")],
        host="sis01",
        finished_at=AT,
    ).cleaned(Scrubber([]))
    assert "guru:api.getguru.com: 1 failed" in text(report) and "Proxy.example/x" in text(report)
    assert "://" not in text(report)
