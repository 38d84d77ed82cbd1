"""The report by webhook: a JSON body for Slack-style incoming webhooks, or an Adaptive Card for Teams Workflows.

One body for both was weighed and left: Slack's incoming webhooks read ``{"text": ...}`` (the connector-era Teams
webhooks did too, but Office 365 connectors are retired), while a Teams Workflows webhook ("Post to a channel when a
webhook request is received") posts the Adaptive Cards in ``attachments`` and ignores ``text``; Slack reads
``attachments`` as its own legacy attachments, where a card would be an empty box or a refusal. So the body is
chosen by PROFILESYNC_NOTIFY_WEBHOOK_FORMAT: ``text`` (the default) or ``teams``.
"""

from __future__ import annotations

from typing import Any

import requests

from profilesync import __version__
from profilesync.notify.message import RunSummary, facts
from profilesync.notify.settings import WebhookFormat

#: failures listed in a chat message (a channel is no place for 500 rows; the mail and the log have them all)
MAX_LISTED = 20


class WebhookRefused(Exception):
    """The webhook answered, but not with success: the status (never the URL, which holds the token)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"the webhook answered HTTP {status}")
        self.status = status


def payload(summary: RunSummary, flavour: WebhookFormat) -> dict[str, Any]:
    return teams_card(summary) if flavour is WebhookFormat.TEAMS else slack_text(summary)


def lines(summary: RunSummary) -> tuple[list[str], list[str]]:
    """The facts (error, advice, counts) and one line per listed failure, plain text."""
    shown = summary.failures[:MAX_LISTED]
    failures = [f"{f.who}: {f.reason}: {f.message} (what to do: {f.advice})" for f in shown]
    if len(summary.failures) > MAX_LISTED:
        failures.append(f"... and {len(summary.failures) - MAX_LISTED} more (the mail and the log file list them all)")
    return facts(summary), failures


def slack_text(summary: RunSummary) -> dict[str, Any]:
    """``{"text": ...}`` in Slack's mrkdwn: a bold heading, the facts, the failures as a list.

    Slack wants ``&``, ``<`` and ``>`` escaped in text (its control characters for links and mentions)."""

    def esc(value: str) -> str:
        return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    facts, failures = lines(summary)
    out = [f"*{esc(summary.heading())}*", *map(esc, facts)]
    if failures:
        out += [f"Failures ({len(summary.failures)}):", *(f"• {esc(line)}" for line in failures)]
    out.append(esc(summary.where_to_look()))
    return {"text": "\n".join(out)}


def teams_card(summary: RunSummary) -> dict[str, Any]:
    """A message with one Adaptive Card (schema 1.4, which Teams renders), as Teams Workflows webhooks expect."""

    def block(value: str, **style: Any) -> dict[str, Any]:
        return {"type": "TextBlock", "text": value, "wrap": True, **style}

    facts, failures = lines(summary)
    body = [block(summary.heading(), weight="Bolder", size="Medium", color="Attention" if summary.failed else "Good")]
    body += [block(line) for line in facts]
    if failures:
        body.append(block(f"Failures ({len(summary.failures)}):", weight="Bolder", spacing="Medium"))
        body += [block(line, spacing="None", isSubtle=False) for line in failures]
    body.append(block(summary.where_to_look(), isSubtle=True, spacing="Medium"))
    card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard", "version": "1.4"}
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card | {"body": body},
            }
        ],
    }


def post(url: str, body: dict[str, Any], *, timeout: float) -> None:
    """POST once (no retry: a repeated chat message is worse than a missing one the log file still has)."""
    response = requests.post(
        url, json=body, timeout=timeout, headers={"User-Agent": f"profilesync/{__version__}"}, allow_redirects=False
    )
    if not 200 <= response.status_code < 300:
        raise WebhookRefused(response.status_code)
