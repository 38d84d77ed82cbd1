"""A parents CSV as an SIS exports it, end to end: the real CLI against the sandbox, real SQLite history.

One row per student with Mother/Father columns, a repeated row, a guardian without an email, and a family
email typed under two names: the sync links every parent with an email and exits 0; the next sync changes
nothing.
"""

from __future__ import annotations

from typing import Any

from .conftest import MakeWorld, ObsWorld
from .families import Families

HEADER = (
    "Student Number,First Name,Last Name,Grade,Mother First Name,Mother Last Name,Mother Email,"
    "Father First Name,Father Last Name,Father Email"
)


def wide_world(make_world: MakeWorld) -> ObsWorld:
    f = Families()
    for sis in ("W1", "W2", "W3", "W4"):
        f.student(sis)
    f.parent("known.dad@home.example.net")
    world = make_world(f.scenario())
    world.write_csv(
        [
            HEADER,
            "W1,Kim,Lee,7,Ann,Lee,ann.lee@home.example.net,Bo,Lee,bo.lee@home.example.net",
            "W2,Max,Lee,5,Ann,Lee,Ann.Lee@home.example.net,,,",  # Ann again, for her second child
            "W1,Kim,Lee,7,Ann,Lee,ann.lee@home.example.net,Bo,Lee,bo.lee@home.example.net",  # an exact repeat
            "W3,Sam,Roe,8,Eve,Roe,,Dan,Roe,known.dad@home.example.net",  # the mother has no email
            "W4,Ida,Poe,9,Joy,Poe,family.poe@home.example.net,Jim,Poe,family.poe@home.example.net",
        ]
    )
    return world


def observers_of(world: ObsWorld) -> dict[str, set[str]]:
    """Student SIS id → the logins (lower case) of the parents observing them."""
    users = {u.id: u for u in world.sandbox.state.users()}
    found: dict[str, set[str]] = {}
    for link in world.sandbox.state.observer_links():
        student = users[link.student_id].sis_user_id or ""
        found.setdefault(student, set()).add((users[link.observer_id].login_id or "").lower())
    return found


def rows(document: dict[str, Any]) -> list[tuple[int, str | None, str, str]]:
    return [(r["row"], r.get("parent_columns"), r["parent"], r["outcome"]) for r in document["rows"]]


def test_wide_sis_export_links_each_parent_column_and_exits_zero(make_world: MakeWorld) -> None:
    """Each Mother/Father column group is one parent row; repeats merge; no email is skipped; exit 0."""
    world = wide_world(make_world)
    result = world.json("observers", "sync", "parents.csv")
    assert rows(result) == [
        (2, "Mother", "ann.lee@home.example.net", "create_parent_and_link"),
        (2, "Father", "bo.lee@home.example.net", "create_parent_and_link"),
        (3, "Mother", "Ann.Lee@home.example.net", "link"),
        (5, "Mother", "", "no_parent_email"),
        (5, "Father", "known.dad@home.example.net", "link"),
        (6, "Mother", "family.poe@home.example.net", "create_parent_and_link"),
    ]
    assert result["counts"]["no_parent_email"] == 1 and result["counts"]["invalid_row"] == 0
    assert observers_of(world) == {
        "W1": {"ann.lee@home.example.net", "bo.lee@home.example.net"},
        "W2": {"ann.lee@home.example.net"},
        "W3": {"known.dad@home.example.net"},
        "W4": {"family.poe@home.example.net"},
    }
    messages = {(r["row"], r.get("parent_columns")): r["message"] or "" for r in result["rows"]}
    assert "merged with the same student and parent on row 4 (Mother)" in messages[(2, "Mother")]
    assert "Mother: no parent email, skipped" in messages[(5, "Mother")]
    # One email in both columns, under two names: one account, one link, and a warning saying so.
    assert "merged with the same student and parent on row 6 (Father)" in messages[(6, "Mother")]
    assert "is named 'Jim Poe' on row 6 (Father) but 'Joy Poe' on row 6 (Mother)" in messages[(6, "Mother")]
    created = [u for u in world.sandbox.state.users() if (u.login_id or "").lower() == "family.poe@home.example.net"]
    assert len(created) == 1


def test_wide_sis_export_second_sync_changes_nothing(make_world: MakeWorld) -> None:
    """Run again, the same export makes no write to Canvas and still exits 0."""
    world = wide_world(make_world)
    world.cli("observers", "sync", "parents.csv")
    world.sandbox.state.reset_counts()
    result = world.json("observers", "sync", "parents.csv")
    assert world.writes() == {}
    assert {outcome for _, _, _, outcome in rows(result)} == {"already_linked", "no_parent_email"}


def test_two_names_for_one_email_are_warned_in_the_log(make_world: MakeWorld) -> None:
    """The warning about one email under two names reaches stderr (and so cron mail and the log file)."""
    world = wide_world(make_world)
    result = world.cli("observers", "plan", "parents.csv")
    assert "family.poe@home.example.net is 'Jim Poe' here but 'Joy Poe' on row 6 (Mother)" in result.stderr


def test_wide_plan_table_names_each_rows_parent_columns(make_world: MakeWorld) -> None:
    """The plan table of a wide export has a PARENT_COLUMNS column saying whose columns each line came from."""
    world = wide_world(make_world)
    lines = world.cli("observers", "plan", "parents.csv").stdout.splitlines()
    assert lines[0].split() == ["ROW", "STUDENT", "PARENT", "PARENT_COLUMNS", "OUTCOME", "MESSAGE"]
    father = next(line for line in lines if "bo.lee@home.example.net" in line)
    assert father.split()[:5] == ["2", "W1", "bo.lee@home.example.net", "Father", "create_parent_and_link"]
