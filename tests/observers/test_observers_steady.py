"""The nightly rerun: links in the history answer their rows without a request, and are checked in Canvas again
on a schedule (PROFILESYNC_OBSERVERS_VERIFY_DAYS), so a link someone removed is still noticed."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

from profilesync.observers.trust import Schedule

from .conftest import MakeWorld, ObsWorld
from .families import Families
from .test_observers_runs import admin, link_url, outcome_list, start

OBSERVEES_LIST = "GET /api/v1/users/:user_id/observees"
#: what every run asks whatever the rows: the token's user (users/self) and the root account (the target's name)
RUN_REQUESTS = 2


def families(count: int) -> Families:
    """``count`` new parents of one to three enrolled children each."""
    f = Families()
    for family in range(count):
        for child in range(family % 3 + 1):
            f.student(f"F{family}-{child}")
            f.row(f"F{family}-{child}", f"parent{family}@home.example.net", "link")
    return f


def routes(world: ObsWorld) -> Counter[str]:
    return Counter(r.route for r in world.answered())


def test_rerun_the_same_day_asks_nothing_the_history_answers(make_world: MakeWorld) -> None:
    """A second sync right after the first: every row already_linked from the history, no lookup at all."""
    school = families(12)
    world = start(make_world, school)
    world.cli("observers", "sync", "parents.csv")
    world.sandbox.state.reset_counts()
    document = world.json("observers", "sync", "parents.csv")
    assert set(outcome_list(document)) == {"already_linked"} and len(document["rows"]) == len(school.cases)
    assert world.requests() == RUN_REQUESTS and document["requests"]["api"] == RUN_REQUESTS


def test_plan_after_a_sync_asks_nothing_the_history_answers(make_world: MakeWorld) -> None:
    """``plan`` follows the same rule as ``sync``: it shows what a sync would do, at the same cost."""
    world = start(make_world, families(6))
    world.cli("observers", "sync", "parents.csv")
    world.sandbox.state.reset_counts()
    assert set(outcome_list(world.json("observers", "plan", "parents.csv"))) == {"already_linked"}
    assert world.requests() == RUN_REQUESTS


def test_a_new_row_of_a_recorded_parent_is_looked_up(make_world: MakeWorld) -> None:
    """A parent with a row the history does not answer goes through the lookups, and the new child is linked."""
    school = families(3)
    world = start(make_world, school)
    world.cli("observers", "sync", "parents.csv")
    new_kid = world.sandbox.state.add_user("New Kid", sis_user_id="F0-NEW")
    school.row("F0-NEW", "parent0@home.example.net", "link")
    world.write_csv(school.csv_lines())
    document = world.json("observers", "sync", "parents.csv")
    assert Counter(outcome_list(document)) == {"already_linked": len(school.cases) - 1, "link": 1}
    assert new_kid in {lk.student_id for lk in world.sandbox.state.observer_links()}


def test_a_day_later_the_parents_due_are_checked_with_one_listing_each(make_world: MakeWorld) -> None:
    """A day after the first sync, the parents whose day it is are checked with one observees listing each (by
    the Canvas id in the history: no login or student lookup); the others cost nothing."""
    world = start(make_world, families(40))
    world.cli("observers", "sync", "parents.csv")
    world.days_pass(1)
    world.sandbox.state.reset_counts()
    assert set(outcome_list(world.json("observers", "sync", "parents.csv"))) == {"already_linked"}
    today = datetime.now(timezone.utc).date().toordinal()
    due = [p for p in range(40) if Schedule(7, today, today - 1).due(f"parent{p}@home.example.net")]
    assert 0 < len(due) < 40
    assert world.requests() == RUN_REQUESTS + len(due) and routes(world)[OBSERVEES_LIST] == len(due)


def test_a_run_after_a_long_pause_checks_everyone(make_world: MakeWorld) -> None:
    """When the last finished sync is at least PROFILESYNC_OBSERVERS_VERIFY_DAYS old, every parent is checked."""
    world = start(make_world, families(10))
    world.cli("observers", "sync", "parents.csv")
    world.days_pass(7)
    world.sandbox.state.reset_counts()
    world.json("observers", "sync", "parents.csv")
    assert routes(world)[OBSERVEES_LIST] == 10


def test_removed_link_is_trusted_until_checked_then_reported_every_run(make_world: MakeWorld) -> None:
    """A removed link is not seen the same day; once the parent is checked it is an error, and it stays an error
    on the runs after (the student is unsettled: checked every run) rather than already_linked again."""
    world = start(make_world, families(2))
    world.cli("observers", "sync", "parents.csv")
    assert admin(world).delete(link_url(world, "F0-0")).status_code == 200
    assert outcome_list(world.json("observers", "sync", "parents.csv"))[0] == "already_linked"
    world.days_pass(7)
    assert outcome_list(world.json("observers", "sync", "parents.csv", expect=1))[0] == "error"
    again = world.json("observers", "sync", "parents.csv", expect=1)
    assert outcome_list(again)[0] == "error" and "removed" in again["rows"][0]["message"]


def test_verify_days_zero_checks_every_link_every_run(make_world: MakeWorld) -> None:
    """PROFILESYNC_OBSERVERS_VERIFY_DAYS=0: the history answers nothing; a removed link is reported at once."""
    world = start(make_world, families(2))
    world.extra_env["PROFILESYNC_OBSERVERS_VERIFY_DAYS"] = "0"
    world.cli("observers", "sync", "parents.csv")
    assert admin(world).delete(link_url(world, "F0-0")).status_code == 200
    world.sandbox.state.reset_counts()
    assert outcome_list(world.json("observers", "sync", "parents.csv", expect=1))[0] == "error"
    assert routes(world)["GET /api/v1/users/:id"] > 1  # looked up by login again, not answered from the history
