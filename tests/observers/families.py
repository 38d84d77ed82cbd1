"""A school of a few hundred CSV rows covering every outcome, built in code: the sandbox scenario and, per row,
the outcome a plan (and a first sync) must give it."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

#: the expected "outcome" of a row that repeats an earlier one: it has no result of its own
MERGED = "merged"
HEADER = ("student_sis_id", "parent_email", "parent_first_name", "parent_last_name")
FIRST = ("Ada", "Zoë", "José", "Ngọc", "Søren", "Aoife", "Kwame", "Fatima", "Liam", "Chloé", "Björn", "Siobhán")
LAST = ("Lovelace", "O'Brien", "Núñez", "van der Berg", "Müller", "Okafor", "Smith, Jr.", "Tanaka", "Haddad")


@dataclass(frozen=True)
class Case:
    """One CSV row and the outcome expected from ``plan`` and the first ``sync``."""

    student: str
    email: str
    first: str
    last: str
    outcome: str


@dataclass
class Families:
    users: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, int]] = field(default_factory=list)
    cases: list[Case] = field(default_factory=list)
    next_id: int = 5000

    def scenario(self) -> dict[str, Any]:
        return {"accounts": [{"id": 2, "name": "Other District"}], "users": self.users, "observer_links": self.links}

    def student(self, sis: str, enrollments: list[Any] | None = None, **extra: Any) -> int:
        self.next_id += 1
        n = self.next_id
        enrolled = ["student"] if enrollments is None else enrollments
        self.users.append(
            {"id": n, "name": f"Kid {n}", "sis_user_id": sis, "login_id": f"kid{n}@students.example.org"}
            | {"enrollments": enrolled, **extra}
        )
        return n

    def parent(self, login: str) -> int:
        self.next_id += 1
        self.users.append({"id": self.next_id, "name": f"Parent {self.next_id}", "login_id": login})
        return self.next_id

    def row(self, student: str, email: str, outcome: str, first: str | None = None, last: str | None = None) -> None:
        i = len(self.cases)
        first = FIRST[i % len(FIRST)] if first is None else first
        last = LAST[i % len(LAST)] if last is None else last
        self.cases.append(Case(student, email, first, last, outcome))

    def csv_lines(self, header: tuple[str, ...] = HEADER, delimiter: str = ",") -> list[str]:
        out = io.StringIO()
        writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
        writer.writerow(header)
        for case in self.cases:
            writer.writerow((case.student, case.email, case.first, case.last))
        return out.getvalue().splitlines()

    def expected(self) -> dict[int, str]:
        """Spreadsheet row number (the header is row 1) → expected outcome (merged repeats have no row of
        their own: they are noted on the row they repeat)."""
        return {number: case.outcome for number, case in enumerate(self.cases, start=2) if case.outcome != MERGED}

    def new_parents(self) -> set[str]:
        """Lower-cased emails of the parents a sync must create."""
        return {c.email.lower() for c in self.cases if c.outcome == "create_parent_and_link"}


def build_school() -> Families:
    """About 300 rows: every outcome, parents on several rows and in several letter cases, tricky SIS ids."""
    f = Families()
    # New families of one to three enrolled children; every fourth family's email changes letter case
    # from row to row: one parent all the same.
    for family in range(80):
        email = f"family{family}@home.example.net"
        for child in range(family % 3 + 1):
            sis = f"S{1000 + family * 3 + child}"
            f.student(sis)
            shown = email.upper() if family % 4 == 0 and child == 1 else email
            f.row(sis, shown, "create_parent_and_link" if child == 0 else "link")
    # Existing parents (some logins stored in another letter case): one child linked already, one not yet.
    for i in range(25):
        login = f"Guardian{i}@Families.Example.org" if i % 2 else f"guardian{i}@families.example.org"
        parent = f.parent(login)
        linked = f.student(f"G{i}-A")
        f.student(f"G{i}-B")
        f.links.append({"observer": parent, "student": linked})
        f.row(f"G{i}-A", login.lower(), "already_linked")
        f.row(f"G{i}-B", login.upper() if i % 3 == 0 else login.lower(), "link")
    # A parent observing twelve students (more than Canvas's default page of ten).
    busy = f.parent("busy.parent@families.example.org")
    for i in range(12):
        f.links.append({"observer": busy, "student": f.student(f"B{i:02d}")})
        f.row(f"B{i:02d}", "busy.parent@families.example.org", "already_linked")
    # Students with no live student enrollment: none at all, or only deleted / inactive / rejected ones.
    dead: list[list[Any]] = [[], [{"type": "student", "state": "deleted"}], [{"type": "student", "state": "inactive"}]]
    dead += [[{"type": "student", "state": "rejected"}], ["teacher"]]
    for i in range(15):
        f.student(f"U{i:02d}", enrollments=dead[i % len(dead)])
        f.row(f"U{i:02d}", f"unenrolled{i}@home.example.net", "student_not_enrolled")
    # Invited and completed enrollments count (docs/canvas.md §14.2).
    f.student("INV-1", enrollments=[{"type": "student", "state": "invited"}])
    f.row("INV-1", "invited@home.example.net", "create_parent_and_link")
    f.student("CMP-1", enrollments=[{"type": "student", "state": "completed"}])
    f.row("CMP-1", "completed@home.example.net", "create_parent_and_link")
    # A new parent whose first child is not enrolled: the account is created on the second child's row.
    f.student("MIX-1", enrollments=[])
    f.student("MIX-2")
    f.row("MIX-1", "mixed@home.example.net", "student_not_enrolled")
    f.row("MIX-2", "mixed@home.example.net", "create_parent_and_link")
    # SIS ids that need care in URLs (docs/canvas.md §7), and the seed's search_term trap: "100" must not find "1001".
    for i, sis in enumerate(("S/100", "S 200", "S+300", "S400.json", "100", "1001", "ÉLÈVE-7")):
        f.student(sis)
        f.row(sis, f"tricky{i}@home.example.net", "create_parent_and_link")
    # Unknown students: never in Canvas, a prefix of a real id, a different letter case, another root account.
    for i in range(10):
        f.row(f"NOPE-{i}", f"nope{i}@home.example.net", "student_not_found")
    f.row("10", "prefix@home.example.net", "student_not_found")
    f.row("s1000", "family0@home.example.net", "student_not_found")
    f.student("FAR-1", root_account_ids=[2], enrollments=[{"type": "student", "root_account_id": 2}])
    f.row("FAR-1", "far@home.example.net", "student_not_found")
    # Rows that cannot be used: missing fields, malformed emails; a row without a parent email is skipped.
    f.row("", "blank.student@home.example.net", "invalid_row")
    f.row("S1000", "", "no_parent_email")
    f.row("S1001", "nofirst@home.example.net", "invalid_row", first="")
    f.row("S1002", "nolast@home.example.net", "invalid_row", last="")
    for bad in ("not-an-email", "two@@at.example.net", "spaces in@home.example.net", "noplace@localhost"):
        f.row("S1003", bad, "invalid_row")
    # Repeats of an earlier student and parent (in another letter case too) are merged into that row.
    f.row("S1000", "FAMILY0@home.example.net", MERGED)
    f.row("G3-B", "guardian3@families.example.org", MERGED)
    # The parent's email is the student's own login: Canvas would refuse "Cannot observe yourself".
    f.student("SELF-1", login_id="kid.self@students.example.org")
    f.row("SELF-1", "Kid.Self@students.example.org", "error")
    return f
