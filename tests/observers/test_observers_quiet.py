"""``observers sync -q --log-file``: silent when no row failed; otherwise the failures on stderr and in the log."""

from __future__ import annotations

import re
from pathlib import Path

from .conftest import MakeWorld
from .families import Families


def school(*, broken: bool) -> Families:
    """Two students linked to one new parent, and (``broken``) a row whose email is not an address."""
    f = Families()
    for i in range(2):
        f.student(f"Q{i}")
        f.row(f"Q{i}", "quiet.parent@home.example.net", "create_parent_and_link" if i == 0 else "link")
    if broken:
        f.row("Q0", "broken-address", "invalid_row")
    return f


def test_quiet_observers_sync_with_nothing_failed_prints_nothing(make_world: MakeWorld) -> None:
    """No failed row: `-q observers sync` prints nothing at all; the log file has the summary and exit 0."""
    f = school(broken=False)
    world = make_world(f.scenario())
    world.write_csv(f.csv_lines())
    log_file = world.folder / "observers.log"
    result = world.cli("-q", "--log-file", str(log_file), "observers", "sync", "parents.csv")
    assert result.stdout == "" and result.stderr == ""
    text = log_file.read_text()
    assert re.search(r"summary: .*observers sync, method direct: 2 rows: ", text)
    assert "exit 0 (done): profilesync observers sync" in text


def test_quiet_observers_sync_with_a_failed_row_reports_it(make_world: MakeWorld) -> None:
    """An invalid row: its line and the summary on stderr, one log line naming row, reason and advice, exit 1."""
    f = school(broken=True)
    world = make_world(f.scenario())
    world.write_csv(f.csv_lines())
    log_file = Path(world.folder / "observers.log")
    result = world.cli("-q", "--log-file", str(log_file), "observers", "sync", "parents.csv", expect=1)
    assert result.stdout == ""
    assert "invalid_row" in result.stderr and "3 rows" in result.stderr
    failures = [line for line in log_file.read_text().splitlines() if "profilesync.record: failed " in line]
    assert len(failures) == 1
    assert re.search(r"failed row 4 \(Q0, broken-address\): invalid_row: .*; what to do: fix the row", failures[0])
    assert "exit 1 (finished, some users or rows failed): profilesync observers sync" in log_file.read_text()
