"""The sync's progress lines when a pipelined sync reports results before its plan is complete."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from profilesync.cli import Progress
from profilesync.engine.model import Action, Outcome, Photo, Plan, PlannedAction, Reason, RemoteUser, Result


def _upload(i: int) -> PlannedAction:
    user = RemoteUser(str(i), f"S{i}", f"User {i}", None)
    return PlannedAction(f"S{i}", user, Action.UPLOAD, Reason.NEW, Photo.at(f"S{i}", Path(f"/p/S{i}.jpg"), "sha"))


def test_results_before_the_plan_log_no_progress_then_count_once_it_is_known(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Uploads finished while the listing ran: no "progress: n/0" line; once the plan is known they count."""
    monkeypatch.setattr(Progress, "INTERVAL_S", 0.0)
    progress = Progress(interactive=False)
    actions = [_upload(i) for i in range(3)]
    with caplog.at_level(logging.INFO, logger="profilesync"):
        for planned in actions[:2]:
            progress.update(Result(planned, Outcome.UPLOADED))
        assert not [r for r in caplog.records if r.getMessage().startswith("progress")]
        progress.start(Plan("t", tuple(actions)))
        progress.update(Result(actions[2], Outcome.UPLOADED))
    assert progress.done == 3
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith("progress")] == [
        "progress: 3/3 users done, 0 failed"
    ]
