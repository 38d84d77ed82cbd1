"""``observers plan`` and ``sync`` end to end: the real CLI against the sandbox, a school of ~270 CSV rows.

The school is planned once and synced twice per method (module fixtures); each test checks one behaviour of
those runs.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from profilesync.engine.model import ObserverLink, RunRecord
from profilesync.store import open_store
from profilesync_sandbox import RequestRecord

from .conftest import ObsWorld, running_world
from .families import Families, build_school

CREATE = "POST /api/v1/accounts/:account_id/users"
PUT_LINK = "PUT /api/v1/users/:user_id/observees/:observee_id"
LINKING = {"create_parent_and_link", "link"}
SCHOOL = build_school()


def outcomes(document: dict[str, Any]) -> dict[int, str]:
    return {row["row"]: row["outcome"] for row in document["rows"]}


def links_by_login(world: ObsWorld) -> set[tuple[str, str]]:
    """Active links as (lower-cased parent login, student SIS id)."""
    users = {u.id: u for u in world.sandbox.state.users()}
    return {
        ((users[lk.observer_id].login_id or "").lower(), users[lk.student_id].sis_user_id or "")
        for lk in world.sandbox.state.observer_links()
    }


def made_links(school: Families) -> set[tuple[str, str]]:
    return {(c.email.lower(), c.student) for c in school.cases if c.outcome in LINKING}


@dataclass
class Planned:
    """A school after ``plan`` (json and csv) and ``sync --dry-run``."""

    world: ObsWorld
    users_before: int
    links_before: set[tuple[str, str]]
    plan: dict[str, Any]
    plan_csv: bytes
    dry_run: dict[str, Any]
    requests: list[RequestRecord]
    history: list[ObserverLink]
    runs: list[RunRecord]


@dataclass
class Synced:
    """A school synced twice with one method; counts taken per sync."""

    world: ObsWorld
    links_before: set[tuple[str, str]]
    first: dict[str, Any]
    first_writes: dict[str, int]
    first_requests: int
    first_creates: int  # create-user requests answered (a throttled one is retried, not counted)
    links_after_first: set[tuple[str, str]]
    second: dict[str, Any]
    second_writes: dict[str, int]
    second_requests: int
    history: list[ObserverLink]
    runs: list[RunRecord]


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Planned]:
    with running_world(tmp_path_factory.mktemp("planned"), SCHOOL.scenario()) as world:
        world.write_csv(SCHOOL.csv_lines())
        users_before, links_before = len(world.sandbox.state.users()), links_by_login(world)
        plan = world.json("observers", "plan", "parents.csv")
        plan_csv = world.cli("observers", "plan", "parents.csv", "--format", "csv").stdout_bytes
        dry_run = world.json("observers", "sync", "parents.csv", "--dry-run")
        store = open_store(world.database_url)
        yield Planned(
            world, users_before, links_before, plan, plan_csv, dry_run,
            world.answered(), store.observer_links(), store.runs(),
        )  # fmt: skip
        store.close()


def sync_twice(world: ObsWorld, *options: str) -> Synced:
    world.write_csv(SCHOOL.csv_lines())
    before = links_by_login(world)
    first = world.json("observers", "sync", "parents.csv", *options, expect=1)
    first_writes, first_requests, after_first = world.writes(), world.requests(), links_by_login(world)
    first_creates = len(world.answered(CREATE))
    world.sandbox.state.reset_counts()
    second = world.json("observers", "sync", "parents.csv", *options, expect=1)
    store = open_store(world.database_url)
    history, runs = store.observer_links(), store.runs()
    store.close()
    return Synced(
        world, before, first, first_writes, first_requests, first_creates, after_first,
        second, world.writes(), world.requests(), history, runs,
    )  # fmt: skip


@pytest.fixture(scope="module")
def direct(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synced]:
    with running_world(tmp_path_factory.mktemp("direct"), SCHOOL.scenario()) as world:
        yield sync_twice(world)


@pytest.fixture(scope="module")
def pairing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synced]:
    with running_world(tmp_path_factory.mktemp("pairing"), SCHOOL.scenario()) as world:
        yield sync_twice(world, "--method", "pairing-code")


# -- plan and --dry-run


def test_school_has_a_few_hundred_rows_and_every_outcome() -> None:
    """The test school has 250+ rows and rows of every outcome."""
    assert len(SCHOOL.cases) >= 250
    assert set(SCHOOL.expected().values()) == {
        "create_parent_and_link", "link", "already_linked", "student_not_found", "student_not_enrolled",
        "no_parent_email", "invalid_row", "error",
    }  # fmt: skip


def test_plan_lists_exactly_the_expected_outcome_per_row(planned: Planned) -> None:
    """`observers plan` gives every row its expected outcome."""
    assert outcomes(planned.plan) == SCHOOL.expected()


def test_plan_counts_add_up_the_rows(planned: Planned) -> None:
    """The plan's counts are the number of rows of each outcome."""
    assert planned.plan["counts"] == dict(Counter(SCHOOL.expected().values()))


def test_plan_makes_no_write_request(planned: Planned) -> None:
    """plan, its csv form and sync --dry-run send Canvas nothing but GETs."""
    assert {r.method for r in planned.requests} == {"GET"}


def test_plan_creates_and_links_nobody(planned: Planned) -> None:
    """After plan and --dry-run, Canvas has the same users and links as before, and no pairing code."""
    state = planned.world.sandbox.state
    assert len(state.users()) == planned.users_before and links_by_login(planned.world) == planned.links_before
    assert state.pairing_codes() == [] and state.emails_sent() == []


def test_plan_records_no_history(planned: Planned) -> None:
    """plan and --dry-run record neither a link nor a run."""
    assert (planned.history, planned.runs) == ([], [])


def test_plan_csv_format_lists_every_row_for_excel(planned: Planned) -> None:
    """`--format csv` is UTF-8 with a BOM and CRLF line ends (what Excel opens right): a header, one line per row."""
    data = planned.plan_csv
    assert data.startswith(b"\xef\xbb\xbfrow,student,parent,outcome,message,parent_columns\r\n")
    assert data.count(b"\r\n") == data.count(b"\n")  # no bare LF anywhere (no cell here holds a line break)
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert {int(r["row"]): r["outcome"] for r in rows} == SCHOOL.expected()
    assert any(r["student"] == "ÉLÈVE-7" for r in rows)  # accents survive the round trip


def test_repeated_rows_are_merged_and_noted(planned: Planned) -> None:
    """A repeated student and parent is no error: the repeat has no row of its own and is noted on the first."""
    rows = {r["row"]: r for r in planned.plan["rows"]}
    merged = [n for n, c in enumerate(SCHOOL.cases, start=2) if c.outcome == "merged"]
    assert merged and not set(merged) & set(rows)
    first_s1000 = next(r for r in planned.plan["rows"] if r["student"] == "S1000" and r["parent"])
    assert f"merged with the same student and parent on row {merged[0]}" in first_s1000["message"]
    assert "warning: FAMILY0@home.example.net is named" in first_s1000["message"]  # and under another name


def test_row_without_parent_email_is_skipped_with_its_reason(planned: Planned) -> None:
    """A row without a parent email is no_parent_email with advice, and is not a failure."""
    (row,) = [r for r in planned.plan["rows"] if r["outcome"] == "no_parent_email"]
    assert row["student"] == "S1000" and "add the email in the SIS" in row["message"]


def test_dry_run_prints_the_plan(planned: Planned) -> None:
    """`sync --dry-run` reports the plan's outcome for every row."""
    assert outcomes(planned.dry_run) == SCHOOL.expected()


def test_each_user_looked_up_once_per_run(planned: Planned) -> None:
    """No user lookup repeats within a run (three runs here: each lookup seen exactly three times)."""
    paths = Counter(r.path for r in planned.requests if r.route == "GET /api/v1/users/:id")
    assert set(paths.values()) == {3}


def test_observees_read_a_hundred_at_a_time(planned: Planned) -> None:
    """Observees are asked with per_page=100: one request per existing user a row names as parent."""
    reads = [r for r in planned.requests if r.route == "GET /api/v1/users/:user_id/observees"]
    assert len(reads) == 3 * 27 and all("per_page=100" in r.query for r in reads)


# -- sync, direct


def test_sync_reports_what_it_did_per_row(direct: Synced) -> None:
    """The first sync's outcomes are the plan's."""
    assert outcomes(direct.first) == SCHOOL.expected()


def test_sync_creates_each_missing_parent_once(direct: Synced) -> None:
    """Each new parent gets exactly one account, even on several rows in several letter cases."""
    logins = Counter((u.login_id or "").lower() for u in direct.world.sandbox.state.users())
    assert direct.first_creates == len(SCHOOL.new_parents())
    assert {email: logins[email] for email in SCHOOL.new_parents()} == dict.fromkeys(SCHOOL.new_parents(), 1)


def test_sync_reuses_existing_parents(direct: Synced) -> None:
    """A parent whose login exists (stored in another letter case) is reused, never created again."""
    logins = Counter((u.login_id or "").lower() for u in direct.world.sandbox.state.users())
    assert all(logins[f"guardian{i}@families.example.org"] == 1 for i in range(25))


def test_sync_links_exactly_the_expected_pairs(direct: Synced) -> None:
    """The links after a sync are the earlier ones plus one per linking row, and nothing else."""
    assert direct.links_after_first == direct.links_before | made_links(SCHOOL)
    assert not direct.links_before & made_links(SCHOOL)


def test_sync_sends_no_email_by_default(direct: Synced) -> None:
    """Without --notify, Canvas emails none of the parents it creates."""
    assert direct.world.sandbox.state.emails_sent() == []


def test_sync_records_each_link_made(direct: Synced) -> None:
    """Every link made is recorded once in the history, with its method."""
    recorded = {(lk.student_key, lk.parent_email, lk.method) for lk in direct.history}
    assert recorded == {(student, email, "direct") for email, student in made_links(SCHOOL)}


def test_sync_records_the_run(direct: Synced) -> None:
    """Each sync is a recorded run with its counts and exit code."""
    first = direct.runs[1]
    assert (first.command, first.exit_code, dict(first.counts)) == ("observers sync", 1, direct.first["counts"])


def test_second_sync_reports_every_link_already_made(direct: Synced) -> None:
    """A second sync reports the rows the first one linked as already_linked, the rest unchanged."""
    expected = {n: "already_linked" if o in LINKING else o for n, o in SCHOOL.expected().items()}
    assert outcomes(direct.second) == expected


def test_second_sync_makes_no_write_request(direct: Synced) -> None:
    """A second sync sends no create, link or any other write request."""
    assert direct.second_writes == {}


def test_second_sync_changes_no_link(direct: Synced) -> None:
    """After the second sync the links are those the first one left."""
    assert links_by_login(direct.world) == direct.links_after_first


def test_requests_per_row_first_sync(direct: Synced) -> None:
    """A first sync costs at most 4.75 requests per row it links (lookups, enrollment, create, PUT)."""
    assert direct.first_requests / len(made_links(SCHOOL)) <= 4.75


def test_requests_per_row_second_sync(direct: Synced) -> None:
    """A second sync costs at most 1.25 requests per row (about two per parent)."""
    assert direct.second_requests / len(SCHOOL.cases) <= 1.25


# -- sync, pairing codes


def test_pairing_code_sync_gives_the_same_outcomes(pairing: Synced) -> None:
    """`--method pairing-code` reports the same outcome as the plan for every row."""
    assert outcomes(pairing.first) == SCHOOL.expected()


def test_pairing_code_sync_links_the_same_pairs(pairing: Synced) -> None:
    """`--method pairing-code` makes the same links as direct."""
    assert pairing.links_after_first == pairing.links_before | made_links(SCHOOL)


def test_pairing_code_sync_uses_one_code_per_link(pairing: Synced) -> None:
    """One pairing code is made per link, each used up, and no admin PUT is sent."""
    codes = pairing.world.sandbox.state.pairing_codes()
    assert len(codes) == len(made_links(SCHOOL)) and {c.workflow_state for c in codes} == {"deleted"}
    assert PUT_LINK not in pairing.first_writes


def test_pairing_code_sync_records_its_method(pairing: Synced) -> None:
    """Links made with pairing codes are recorded as such."""
    assert {lk.method for lk in pairing.history} == {"pairing-code"}


def test_pairing_code_second_sync_makes_no_write_request(pairing: Synced) -> None:
    """After a pairing-code sync, a second one asks for no code and writes nothing."""
    assert pairing.second_writes == {}


def test_pairing_code_requests_per_row(pairing: Synced) -> None:
    """A first pairing-code sync costs at most one request more per linked row than direct."""
    assert pairing.first_requests / len(made_links(SCHOOL)) <= 5.75
