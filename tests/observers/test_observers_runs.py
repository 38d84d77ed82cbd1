"""``observers`` runs end to end, one situation each: exit codes, the lock, lost answers, refusals, later runs."""

from __future__ import annotations

from collections import Counter

import requests
from click.testing import CliRunner

from profilesync.store import open_store
from profilesync.store.lock import OBSERVERS

from .conftest import MakeWorld, ObsWorld, observers_cli
from .families import Families

CREATE = "POST /api/v1/accounts/:account_id/users"
PUT_LINK = "PUT /api/v1/users/:user_id/observees/:observee_id"


def small_school(children: int = 3) -> Families:
    """One new parent of ``children`` enrolled students, and one existing parent with one student to link."""
    f = Families()
    for i in range(children):
        f.student(f"K{i}")
        f.row(f"K{i}", "new.parent@home.example.net", "create_parent_and_link" if i == 0 else "link")
    f.parent("known@home.example.net")
    f.student("K9")
    f.row("K9", "known@home.example.net", "link")
    return f


def start(make_world: MakeWorld, school: Families, **overrides: object) -> ObsWorld:
    world = make_world(school.scenario(), **overrides)
    world.write_csv(school.csv_lines())
    return world


def outcome_list(document: dict[str, object]) -> list[str]:
    rows = document["rows"]
    assert isinstance(rows, list)
    return [row["outcome"] for row in rows]


def admin(world: ObsWorld) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {world.sandbox.admin_token}"
    return session


def link_url(world: ObsWorld, student: str) -> str:
    """The observees URL of the one link of the student with this SIS id."""
    kid = next(u.id for u in world.sandbox.state.users() if u.sis_user_id == student)
    link = next(lk for lk in world.sandbox.state.observer_links() if lk.student_id == kid)
    return f"{world.sandbox.base_url}/api/v1/users/{link.observer_id}/observees/{link.student_id}"


def test_clean_csv_exits_zero(make_world: MakeWorld) -> None:
    """A sync where every row links exits 0."""
    world = start(make_world, small_school())
    assert outcome_list(world.json("observers", "sync", "parents.csv")) == [
        "create_parent_and_link",
        "link",
        "link",
        "link",
    ]


def test_unfound_and_unenrolled_students_are_not_failures(make_world: MakeWorld) -> None:
    """Rows whose student is unknown or not enrolled are reported, and the sync still exits 0."""
    f = Families()
    f.student("LATE", enrollments=[])
    f.row("LATE", "p1@home.example.net", "student_not_enrolled")
    f.row("GONE", "p2@home.example.net", "student_not_found")
    world = start(make_world, f)
    assert outcome_list(world.json("observers", "sync", "parents.csv")) == ["student_not_enrolled", "student_not_found"]
    assert world.writes() == {}


def test_invalid_row_makes_sync_exit_one(make_world: MakeWorld) -> None:
    """An invalid row is a failure: the sync links the rest and exits 1."""
    f = small_school(1)
    f.row("K0", "broken-address", "invalid_row")
    world = start(make_world, f)
    assert outcome_list(world.json("observers", "sync", "parents.csv", expect=1))[-1] == "invalid_row"
    assert len(world.sandbox.state.observer_links()) == 2


def test_unknown_layout_exits_two_before_any_request(make_world: MakeWorld) -> None:
    """A CSV whose header names no parent email column stops with exit 2 and no request to Canvas."""
    world = make_world(small_school().scenario())
    world.write_csv(["Student ID,Guardian Phone,First Name,Last Name", "K0,555-0100,Pat,Parent"])
    result = world.cli("observers", "sync", "parents.csv", expect=2)
    assert "no parent email column" in result.output
    assert world.sandbox.state.requests("canvas") == []


def test_non_utf8_csv_exits_two_with_advice(make_world: MakeWorld) -> None:
    """A CSV saved in a legacy code page stops with exit 2 and says how to save it as UTF-8."""
    world = make_world(small_school().scenario())
    world.write_csv(
        ["student_sis_id,parent_email,first_name,last_name", "K0,p@home.example.net,Zoë,Müller"], encoding="cp1252"
    )
    assert "CSV UTF-8" in world.cli("observers", "plan", "parents.csv", expect=2).output


def test_missing_csv_file_exits_two(make_world: MakeWorld) -> None:
    """A CSV path that does not exist is a usage error (exit 2)."""
    world = make_world(small_school().scenario())
    world.cli("observers", "plan", "nowhere.csv", expect=2)


def test_excel_csv_with_bom_and_semicolons(make_world: MakeWorld) -> None:
    """A UTF-8 CSV with a BOM, ';' delimiters and spreadsheet headers is read like any other."""
    f = small_school()
    world = make_world(f.scenario())
    lines = f.csv_lines(header=("Student ID", "E-mail", "First Name", "Last Name"), delimiter=";")
    (world.folder / "parents.csv").write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8-sig"))
    assert outcome_list(world.json("observers", "plan", "parents.csv")) == [
        "create_parent_and_link",
        "link",
        "link",
        "link",
    ]


def test_bad_token_exits_three_at_once(make_world: MakeWorld) -> None:
    """A wrong token stops the run with exit 3 after one request."""
    world = start(make_world, small_school())
    world.extra_env["CANVAS_API_TOKEN"] = "1~not-the-token"
    assert "rejected the API token" in world.cli("observers", "sync", "parents.csv", expect=3).output
    assert len(world.sandbox.state.requests("canvas")) == 1


def test_second_run_while_one_holds_the_lock_exits_five(make_world: MakeWorld) -> None:
    """A sync started while another observers run holds its lock exits 5 and sends Canvas nothing."""
    world = start(make_world, small_school())
    store = open_store(world.database_url)
    with store.lock("another run", job=OBSERVERS):
        world.cli("observers", "sync", "parents.csv", expect=5)
    store.close()
    assert world.sandbox.state.requests("canvas") == []


def test_notify_emails_each_created_parent_once(make_world: MakeWorld) -> None:
    """With --notify, the one parent created gets one registration email; the existing one gets none."""
    world = start(make_world, small_school())
    world.cli("observers", "sync", "parents.csv", "--notify")
    assert [(e.address, e.kind) for e in world.sandbox.state.emails_sent()] == [
        ("new.parent@home.example.net", "account_registration")
    ]


def test_student_enrolled_later_is_linked_by_the_next_sync(make_world: MakeWorld) -> None:
    """A student reported not enrolled is linked by the first sync after they enrol."""
    f = Families()
    late = f.student("LATE", enrollments=[])
    f.row("LATE", "p@home.example.net", "student_not_enrolled")
    world = start(make_world, f)
    world.cli("observers", "sync", "parents.csv")
    world.sandbox.state.add_enrollment(late)
    assert outcome_list(world.json("observers", "sync", "parents.csv")) == ["create_parent_and_link"]
    assert [lk.student_id for lk in world.sandbox.state.observer_links()] == [late]


def test_link_removed_in_canvas_is_not_made_again(make_world: MakeWorld) -> None:
    """A link profilesync made and someone removed is reported as an error, once checked again, and left removed."""
    world = start(make_world, small_school(1))
    world.cli("observers", "sync", "parents.csv")
    url = link_url(world, "K0")
    assert admin(world).delete(url).status_code == 200
    world.days_pass(7)  # PROFILESYNC_OBSERVERS_VERIFY_DAYS: every recorded link is checked again by now
    world.sandbox.state.reset_counts()
    document = world.json("observers", "sync", "parents.csv", expect=1)
    assert document["rows"][0]["outcome"] == "error" and "removed" in document["rows"][0]["message"]
    assert PUT_LINK not in world.writes() and len(world.sandbox.state.observer_links()) == 1


def test_removed_link_restored_by_hand_counts_as_linked(make_world: MakeWorld) -> None:
    """Once an admin links a removed pair again in Canvas, the row is already_linked."""
    world = start(make_world, small_school(1))
    world.cli("observers", "sync", "parents.csv")
    url = link_url(world, "K0")
    admin(world).delete(url)
    admin(world).put(url)
    assert outcome_list(world.json("observers", "sync", "parents.csv"))[0] == "already_linked"


def test_lost_create_answer_reuses_the_account(make_world: MakeWorld) -> None:
    """A create whose answer is lost is repeated, found taken, and the account made by the first is reused."""
    world = start(make_world, small_school(1))
    world.sandbox.faults.drop_next("POST", r"/api/v1/accounts/[^/]+/users$", after=True)
    document = world.json("observers", "sync", "parents.csv")
    assert document["rows"][0]["outcome"] == "link" and "reused" in document["rows"][0]["message"]
    logins = Counter((u.login_id or "").lower() for u in world.sandbox.state.users())
    assert logins["new.parent@home.example.net"] == 1 and len(world.sandbox.state.observer_links()) == 2


def test_refused_pairing_code_reports_not_enrolled_and_creates_nobody(make_world: MakeWorld) -> None:
    """A pairing code refused with 401 makes the row student_not_enrolled, before any account is created."""
    world = start(make_world, small_school(1))
    body = {"status": "unauthorized", "errors": [{"message": "user not authorized to perform that action"}]}
    # Aimed at the new parent's student: both parents ask for a code at the same time, in parallel tasks.
    kid = next(u.id for u in world.sandbox.state.users() if u.sis_user_id == "K0")
    world.sandbox.faults.fail_next("POST", rf"/users/{kid}/observer_pairing_codes$", 401, body=body)
    document = world.json("observers", "sync", "parents.csv", "--method", "pairing-code")
    assert outcome_list(document) == ["student_not_enrolled", "link"]
    assert CREATE not in world.writes()


def test_pairing_that_links_nothing_is_an_error(make_world: MakeWorld) -> None:
    """A 200 answer with an empty observation_link_root_account_ids is reported as an error."""
    world = start(make_world, small_school(1))
    users = world.sandbox.state.users()
    student = next(u for u in users if u.sis_user_id == "K9")
    parent = next(u for u in users if u.login_id == "known@home.example.net")
    body = {"id": student.id, "name": student.name, "observation_link_root_account_ids": []}
    world.sandbox.faults.fail_next("POST", rf"/users/{parent.id}/observees$", 200, body=body)
    document = world.json("observers", "sync", "parents.csv", "--method", "pairing-code", expect=1)
    rows = {row["student"]: row for row in document["rows"]}
    assert rows["K9"]["outcome"] == "error" and "made no link" in rows["K9"]["message"]


def test_pairing_refused_for_lack_of_a_shared_root_account_fails_its_row(make_world: MakeWorld) -> None:
    """An admin's pairing refused with 401 (no shared root account, docs/canvas.md §14.4 A) fails that row alone,
    saying the code is used up and what to check; the other row is linked."""
    world = start(make_world, small_school(1))
    users = world.sandbox.state.users()
    parent = next(u for u in users if u.login_id == "known@home.example.net")
    body = {"status": "unauthorized", "errors": [{"message": "user not authorized to perform that action"}]}
    world.sandbox.faults.fail_next("POST", rf"/users/{parent.id}/observees$", 401, body=body)
    document = world.json("observers", "sync", "parents.csv", "--method", "pairing-code", expect=1)
    rows = {row["student"]: row for row in document["rows"]}
    assert rows["K9"]["outcome"] == "error" and "pairing code is used up" in rows["K9"]["message"]
    assert "share no root account" in rows["K9"]["message"]  # the advice, with the message
    assert [row["outcome"] for row in document["rows"] if row["student"] != "K9"] == ["create_parent_and_link"]


def test_refused_link_fails_only_its_row(make_world: MakeWorld) -> None:
    """Canvas refusing one link makes that row an error; the other rows are linked and the sync exits 1."""
    world = start(make_world, small_school(2))
    known = next(u for u in world.sandbox.state.users() if u.sis_user_id == "K9")
    world.sandbox.faults.fail_next("PUT", rf"/observees/{known.id}$", 422)
    assert outcome_list(world.json("observers", "sync", "parents.csv", expect=1)) == [
        "create_parent_and_link", "link", "error"
    ]  # fmt: skip


def test_one_parent_in_many_letter_cases_under_latency(make_world: MakeWorld) -> None:
    """With slow answers and many parents in flight, a parent spelled six ways still gets one account."""
    f = Families()
    spellings = ("sam@home.example.net", "SAM@home.example.net", "Sam@Home.example.net", "sAm@HOME.EXAMPLE.NET")
    for i in range(6):
        f.student(f"SAM{i}")
        f.row(f"SAM{i}", spellings[i % len(spellings)], "link" if i else "create_parent_and_link")
    for i in range(20):
        f.student(f"OTHER{i}")
        f.row(f"OTHER{i}", f"other{i}@home.example.net", "create_parent_and_link")
    world = start(make_world, f, latency_ms=15)
    world.cli("observers", "sync", "parents.csv")
    logins = Counter((u.login_id or "").lower() for u in world.sandbox.state.users())
    assert logins["sam@home.example.net"] == 1 and len(world.answered(CREATE)) == 21


def test_help_of_each_command_shows_an_example() -> None:
    """`observers plan --help` and `observers sync --help` each show an example of themselves."""
    for command in ("plan", "sync"):
        output = CliRunner().invoke(observers_cli(), ["observers", command, "--help"]).output
        assert "Example" in output and f"profilesync observers {command} parents.csv" in output


def test_refused_create_fails_each_row_of_that_parent_once(make_world: MakeWorld) -> None:
    """When Canvas refuses to create a parent, each of their rows is an error and the create is tried once."""
    world = start(make_world, small_school(3))
    world.sandbox.faults.fail_next("POST", r"/api/v1/accounts/[^/]+/users$", 422)
    document = world.json("observers", "sync", "parents.csv", expect=1)
    assert outcome_list(document) == ["error", "error", "error", "link"]
    assert world.writes()[CREATE] == 1


def test_server_that_is_not_canvas_exits_three(make_world: MakeWorld) -> None:
    """A base URL whose /api/v1/users/self is not found stops the run with exit 3 before any row."""
    world = start(make_world, small_school())
    world.sandbox.faults.fail_next("GET", r"/api/v1/users/self$", 404)
    assert "cannot use Canvas" in world.cli("observers", "plan", "parents.csv", expect=3).output
    assert len(world.sandbox.state.requests("canvas")) == 1


def test_parallel_rows_stay_under_canvas_throttle(make_world: MakeWorld) -> None:
    """With slow answers and many parents in flight, throttling stays rare and fails no row (docs/canvas.md §4)."""
    f = Families()
    for i in range(60):
        f.student(f"T{i}")
        f.row(f"T{i}", f"parent{i}@home.example.net", "create_parent_and_link")
    world = start(make_world, f, latency_ms=20)
    world.cli("observers", "sync", "parents.csv")  # exit 0: every row linked
    statuses = [r.status for r in world.sandbox.state.requests("canvas")]
    assert set(statuses) <= {200, 403, 404}
    assert statuses.count(403) <= len(statuses) // 50  # the gate learns Canvas's ceiling after an overshoot
