"""Value types of the observers job: CSV rows, row outcomes (DESIGN.md §2 names) and the link methods."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    """What happened (sync) or would happen (plan) to one CSV row."""

    CREATE_PARENT_AND_LINK = "create_parent_and_link"  # the parent's account is created, then linked
    LINK = "link"  # the parent exists (or was created on an earlier row): link only
    ALREADY_LINKED = "already_linked"  # nothing to do
    STUDENT_NOT_FOUND = "student_not_found"  # no Canvas user has the row's SIS id
    STUDENT_NOT_ENROLLED = "student_not_enrolled"  # no live student enrollment: linked on a later run
    INVALID_ROW = "invalid_row"  # a missing field, a malformed email, or a repeat of an earlier row
    ERROR = "error"  # Canvas refused or failed; the message says why


#: outcomes that make ``observers sync`` exit 1. ``student_not_found`` and ``student_not_enrolled`` are not
#: failures: they describe students Canvas does not have (yet) or who have not enrolled (yet), which the
#: nightly run picks up by itself — like photos matching no user in the avatars job. An ``invalid_row`` is:
#: the export itself is wrong and no later run will fix it.
FAILURES = frozenset({Outcome.ERROR, Outcome.INVALID_ROW})


class Method(StrEnum):
    """How a parent is linked to a student (canvas-api.md §14.4)."""

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

    @property
    def parent_key(self) -> str:
        """How parents compare: by email, case-insensitively (Canvas: ``LOWER(unique_id)``, §7)."""
        return self.email.lower()

    @property
    def parent_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass(frozen=True)
class RowResult:
    """One row's outcome, with the Canvas ids involved when they are known."""

    row: Row
    outcome: Outcome
    message: str | None = None
    student_id: str | None = None
    parent_id: str | None = None

    def document(self) -> dict[str, Any]:
        """The row as DESIGN.md §2's JSON shows it."""
        return {
            "row": self.row.number,
            "student": self.row.student,
            "parent": self.row.email,
            "outcome": self.outcome.value,
            "message": self.message,
        }
