"""Value types of the observers job: CSV rows, row outcomes (docs/design.md §2 names) and the link methods."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class LinkOutcome(StrEnum):
    """What happened (sync) or would happen (plan) to one CSV row (the observers job's own table, not the avatars
    engine's :class:`profilesync.engine.model.Outcome`)."""

    CREATE_PARENT_AND_LINK = "create_parent_and_link"  # the parent's account is created, then linked
    LINK = "link"  # the parent exists (or was created on an earlier row): link only
    ALREADY_LINKED = "already_linked"  # nothing to do
    STUDENT_NOT_FOUND = "student_not_found"  # no Canvas user has the row's SIS id
    STUDENT_NOT_ENROLLED = "student_not_enrolled"  # no live student enrollment: linked on a later run
    INVALID_ROW = "invalid_row"  # a missing field or a malformed email
    NO_PARENT_EMAIL = "no_parent_email"  # the row (or a parent's columns of a wide row) has no email: skipped
    ERROR = "error"  # Canvas refused or failed; the message says why


#: outcomes that make ``observers sync`` exit 1. ``student_not_found`` and ``student_not_enrolled`` are not
#: failures: they describe students Canvas does not have (yet) or who have not enrolled (yet), which the
#: nightly run picks up by itself — like photos matching no user in the avatars job. Nor is
#: ``no_parent_email``: SIS exports routinely hold guardians without an email, and failing every night
#: for them would hide real failures. An ``invalid_row`` is: the export itself is wrong and no later run
#: will fix it.
LINK_FAILURES = frozenset({LinkOutcome.ERROR, LinkOutcome.INVALID_ROW})


class Method(StrEnum):
    """How a parent is linked to a student (docs/canvas.md §14.4)."""

    DIRECT = "direct"  # PUT /users/:parent/observees/:student, as an admin (B)
    PAIRING_CODE = "pairing-code"  # the seed's way: a student's pairing code, then POST /users/:parent/observees (A)


@dataclass(frozen=True)
class Row:
    """One CSV data row, its fields stripped. ``number`` is the spreadsheet row (the header is row 1)."""

    number: int
    student: str  # the student's SIS id (case-sensitive, as in Canvas)
    email: str  # the parent's email, which becomes their login
    first_name: str
    last_name: str
    label: str = ""  # the parent's column group in a wide layout ("Mother", "Guardian 1"); "" in a long one
    position: int = 0  # the group's place among the row's parent groups (left to right)
    note: str | None = None  # what reading the file noticed: repeats merged into this row, a second name

    @property
    def parent_key(self) -> str:
        """How parents compare: by email, case-insensitively (Canvas: ``LOWER(unique_id)``, docs/canvas.md §7)."""
        return self.email.lower()

    @property
    def order(self) -> tuple[int, int]:
        """Where the row is in the file: spreadsheet row, then parent group left to right."""
        return self.number, self.position

    @property
    def parent_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass(frozen=True)
class RowResult:
    """One row's outcome, with the Canvas ids involved when they are known."""

    row: Row
    outcome: LinkOutcome
    message: str | None = None
    student_id: str | None = None
    parent_id: str | None = None

    def document(self) -> dict[str, Any]:
        """The row as docs/design.md §2's JSON shows it (plus ``parent_columns`` for a wide layout's rows)."""
        message = "; ".join(m for m in (self.message, self.row.note) if m) or None
        document = {
            "row": self.row.number,
            "student": self.row.student,
            "parent": self.row.email,
            "outcome": self.outcome.value,
            "message": message,
        }
        if self.row.label:
            document["parent_columns"] = self.row.label
        return document
