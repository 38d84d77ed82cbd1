"""``observers sync`` delivers its report too (PROFILESYNC_NOTIFY): each failed row with reason and advice."""

from __future__ import annotations

import re

from support.receivers import parts, smtp_server, webhook_server

from .conftest import MakeWorld
from .families import Families


def test_failed_row_is_mailed_and_posted(make_world: MakeWorld) -> None:
    """An invalid row under PROFILESYNC_NOTIFY=failures: the mail (both parts) and the webhook name the row, its
    reason and what to do, with the summary line and exit 1."""
    f = Families()
    f.student("N0")
    f.row("N0", "new.parent@home.example.net", "create_parent_and_link")
    f.row("N0", "broken-address", "invalid_row")
    world = make_world(f.scenario())
    world.write_csv(f.csv_lines())
    with smtp_server() as inbox, webhook_server() as hook:
        world.extra_env.update(inbox.env(PROFILESYNC_NOTIFY="failures", PROFILESYNC_NOTIFY_WEBHOOK_URL=hook.url))
        world.cli("-q", "observers", "sync", "parents.csv", expect=1)
    (mail,) = inbox.mails
    assert "profilesync observers sync on " in mail["Subject"] and mail["Subject"].endswith(": 1 failed, exit 1")
    (body,) = hook.bodies
    for text in (*parts(mail), body["text"]):
        assert re.search(r"row 3 \(N0, broken-address\)\W+invalid_row\W", text), text
        assert "fix the row in the SIS export" in text
        assert "observers sync, method direct: 2 rows" in text and "exit 1" in text
