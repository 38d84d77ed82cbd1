"""The pure per-row decision and the once-per-parent creation rule (no HTTP)."""

from __future__ import annotations

from datetime import datetime, timezone

from profilesync.engine.model import CanvasUser, ObserverLink
from profilesync.observers.executor import group_by_parent
from profilesync.observers.model import LinkOutcome, Row, RowResult
from profilesync.observers.planner import NEEDS_ENROLLMENT, decide_link, plan_parent

ROW = Row(2, "S1", "pat@example.com", "Pat", "Parent")
KID = CanvasUser("1001")
PAT = CanvasUser("2001")
T0 = datetime(2025, 8, 20, 2, 0, tzinfo=timezone.utc)


def made(student_id: str = "1001", parent_id: str = "2001") -> ObserverLink:
    return ObserverLink("canvas:x", "S1", "pat@example.com", student_id, parent_id, "direct", T0)


def outcome(**facts: object) -> LinkOutcome:
    args: dict[str, object] = {"student": KID, "parent": PAT, "linked": False, "enrolled": True, "previous": None}
    args.update(facts)
    return decide_link(ROW, **args).outcome  # type: ignore[arg-type]


def test_unknown_student() -> None:
    """No Canvas user with the SIS id: student_not_found."""
    assert outcome(student=None) is LinkOutcome.STUDENT_NOT_FOUND


def test_unknown_student_wins_over_everything_else() -> None:
    """An unknown student is reported as such whatever else is true."""
    assert outcome(student=None, parent=None, enrolled=False) is LinkOutcome.STUDENT_NOT_FOUND


def test_parent_is_the_student() -> None:
    """A parent email that is the student's own login is an error, never a link."""
    assert outcome(parent=CanvasUser("1001")) is LinkOutcome.ERROR


def test_already_linked() -> None:
    """A parent already observing the student: already_linked."""
    assert outcome(linked=True) is LinkOutcome.ALREADY_LINKED


def test_already_linked_even_when_not_enrolled() -> None:
    """An existing link is reported as such even if the student has no enrollment."""
    assert outcome(linked=True, enrolled=False) is LinkOutcome.ALREADY_LINKED


def test_link_we_made_and_someone_removed_is_an_error() -> None:
    """History says we linked these two accounts and they are no longer linked: error, no re-link."""
    decision = decide_link(ROW, student=KID, parent=PAT, linked=False, enrolled=True, previous=made())
    assert decision.outcome is LinkOutcome.ERROR and "2025-08-20" in (decision.message or "")


def test_history_about_other_accounts_does_not_block() -> None:
    """A recorded link between other accounts (a recreated parent or student) does not block linking."""
    assert outcome(previous=made(parent_id="2999")) is LinkOutcome.LINK
    assert outcome(previous=made(student_id="1999")) is LinkOutcome.LINK


def test_student_not_enrolled() -> None:
    """A student with no live student enrollment: student_not_enrolled."""
    assert outcome(enrolled=False) is LinkOutcome.STUDENT_NOT_ENROLLED


def test_not_enrolled_with_a_missing_parent_creates_nobody() -> None:
    """A missing parent of an unenrolled student is not created: student_not_enrolled."""
    assert outcome(enrolled=False, parent=None) is LinkOutcome.STUDENT_NOT_ENROLLED


def test_missing_parent_is_created_and_linked() -> None:
    """An enrolled student whose parent has no account: create_parent_and_link."""
    assert outcome(parent=None) is LinkOutcome.CREATE_PARENT_AND_LINK


def test_existing_parent_is_linked() -> None:
    """An enrolled student whose parent exists and is not linked: link."""
    assert outcome() is LinkOutcome.LINK


def test_enrollment_asked_for_only_when_it_decides() -> None:
    """With the enrollment unknown, the decision asks for it instead of guessing."""
    assert decide_link(ROW, student=KID, parent=PAT, linked=False, enrolled=None) is NEEDS_ENROLLMENT


def test_enrollment_not_needed_for_a_linked_student() -> None:
    """A linked student is decided without knowing the enrollment."""
    assert decide_link(ROW, student=KID, parent=PAT, linked=True, enrolled=None).outcome is LinkOutcome.ALREADY_LINKED


def result(number: int, outcome: LinkOutcome) -> RowResult:
    return RowResult(Row(number, f"S{number}", "pat@example.com", "Pat", "Parent"), outcome)


def test_missing_parent_created_on_first_linking_row_only() -> None:
    """Of a missing parent's rows, the first that links creates the account; later ones link to it."""
    planned = plan_parent(
        [
            result(2, LinkOutcome.STUDENT_NOT_ENROLLED),
            result(5, LinkOutcome.CREATE_PARENT_AND_LINK),
            result(9, LinkOutcome.CREATE_PARENT_AND_LINK),
        ]
    )
    assert [(r.outcome, r.message) for r in planned][1:] == [
        (LinkOutcome.CREATE_PARENT_AND_LINK, None),
        (LinkOutcome.LINK, "parent account created on row 5"),
    ]


def test_rows_grouped_by_parent_case_insensitively() -> None:
    """Rows are grouped per parent email whatever its letter case, in order of first appearance."""
    rows = [
        Row(2, "S1", "pat@example.com", "Pat", "P"),
        Row(3, "S2", "jo@example.com", "Jo", "G"),
        Row(4, "S3", "PAT@Example.COM", "Pat", "P"),
    ]
    assert [[r.number for r in group] for group in group_by_parent(rows)] == [[2, 4], [3]]
