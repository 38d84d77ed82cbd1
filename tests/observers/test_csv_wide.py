"""SIS-style parents CSVs: wide layouts (one row per student), merged repeats, two names for one email."""

from __future__ import annotations

import logging

import pytest

from profilesync.observers.csvfile import CsvLayoutError, parse_csv, split_name
from profilesync.observers.layout import parse_header
from profilesync.observers.model import LinkOutcome, Row, RowResult

MOTHER_FATHER = (
    "Student ID,First Name,Last Name,Grade,Mother First Name,Mother Last Name,Mother Email,"
    "Father First Name,Father Last Name,Father Email"
)


def rows_of(text: str) -> list[tuple[int, str, str, str, str, str]]:
    parsed = parse_csv(text)
    return [(r.number, r.label, r.student, r.email, r.first_name, r.last_name) for r in parsed.rows]


@pytest.mark.parametrize(
    ("header", "field", "label"),
    [
        ("Mother Email", "email", "Mother"),
        ("Father First Name", "first_name", "Father"),
        ("Guardian 1 Email", "email", "Guardian 1"),
        ("guardian2_last_name", "last_name", "Guardian 2"),
        ("Parent/Guardian 1 E-mail", "email", "Parent/Guardian 1"),
        ("Parent Email 2", "email", "Parent 2"),
        ("Mother Name", "full_name", "Mother"),
        ("Email", "email", ""),
    ],
)
def test_wide_header_spellings(header: str, field: str, label: str) -> None:
    """Role words (and numbers) in front of a field name the parent group a column belongs to."""
    column = parse_header(header)
    assert column is not None and (column.field, column.label) == (field, label)


@pytest.mark.parametrize("header", ["Student Email", "Name", "Student First Name", "Mother Phone", "Grade"])
def test_wide_layout_other_columns_are_not_ours(header: str) -> None:
    """The student's own email and names, phones and the like are not parent columns."""
    assert parse_header(header) is None


def test_mother_and_father_columns_become_one_row_each() -> None:
    """One row per student with Mother/Father columns → one (student, parent) row per parent; the student's
    own First/Last Name columns are not taken for a parent's."""
    text = f"{MOTHER_FATHER}\nS1,Kim,Lee,7,Ann,Lee,ann@example.com,Bo,Lee,bo@example.com\n"
    assert rows_of(text) == [
        (2, "Mother", "S1", "ann@example.com", "Ann", "Lee"),
        (2, "Father", "S1", "bo@example.com", "Bo", "Lee"),
    ]
    assert parse_csv(text).wide


def test_numbered_guardian_groups_with_full_names() -> None:
    """'Guardian 1 Name'/'Guardian 2 Name' full-name columns are split into first and last names."""
    text = (
        "Student Number;Guardian 1 Name;Guardian 1 Email;Guardian 2 Name;Guardian 2 Email\n"
        "007;Ann Marie Lee;ann@example.com;Ng, Bo;bo@example.com\n"
    )
    assert rows_of(text) == [
        (2, "Guardian 1", "007", "ann@example.com", "Ann Marie", "Lee"),
        (2, "Guardian 2", "007", "bo@example.com", "Bo", "Ng"),
    ]


def test_empty_parent_columns_are_nobody_and_a_name_without_email_is_skipped() -> None:
    """A guardian group left empty is no parent; one with a name but no email is no_parent_email (not a
    failure), and a student with no parent email at all is reported once."""
    text = f"{MOTHER_FATHER}\nS1,Kim,Lee,7,Ann,Lee,ann@example.com,,,\nS2,Max,Roe,8,,,,Bo,Roe,\nS3,Sam,Poe,9,,,,,,\n"
    parsed = parse_csv(text)
    assert [(r.number, r.label) for r in parsed.rows] == [(2, "Mother")]
    skipped = [(r.row.number, r.outcome, r.message) for r in parsed.invalid]
    assert skipped == [
        (
            3,
            LinkOutcome.NO_PARENT_EMAIL,
            "Father: no parent email, skipped: add the email in the SIS to create their account",
        ),
        (
            4,
            LinkOutcome.NO_PARENT_EMAIL,
            "no parent email in any parent's columns, skipped: add the email in the SIS to create their account",
        ),
    ]


def test_same_email_in_both_columns_is_merged() -> None:
    """A family email in both the Mother and Father columns is one link, noted, not an error."""
    text = f"{MOTHER_FATHER}\nS1,Kim,Lee,7,Ann,Lee,family@example.com,Bo,Lee,Family@Example.com\n"
    parsed = parse_csv(text)
    assert parsed.invalid == []
    (row,) = parsed.rows
    assert row.label == "Mother"
    assert row.note is not None and row.note.startswith("merged with the same student and parent on row 2 (Father)")
    assert "'Bo Lee' on row 2 (Father) but 'Ann Lee' on row 2 (Mother)" in row.note


def test_invalid_wide_row_names_its_parent_group() -> None:
    """A malformed email in the Father columns is an invalid row whose message names the group."""
    text = f"{MOTHER_FATHER}\nS1,Kim,Lee,7,Ann,Lee,ann@example.com,Bo,Lee,bo-at-example\n"
    parsed = parse_csv(text)
    assert [(r.row.label, r.outcome, r.message) for r in parsed.invalid] == [
        ("Father", LinkOutcome.INVALID_ROW, "Father: 'bo-at-example' is not an email address")
    ]


def test_wide_group_without_names_is_a_layout_error() -> None:
    """A parent group with an email column but no name columns is named in the layout error."""
    with pytest.raises(CsvLayoutError, match="no parent first name column for Father"):
        parse_csv("Student ID,Mother Email,Mother Name,Father Email\nS1,a@example.com,Ann Lee,b@example.com\n")


def test_one_email_with_two_names_is_warned(caplog: pytest.LogCaptureFixture) -> None:
    """The same email under two name spellings (different students) is noted on the later row and logged."""
    text = (
        "student_sis_id,parent_email,parent_first_name,parent_last_name\n"
        "S1,pat@example.com,Pat,Smith\nS2,pat@example.com,Pat,Smyth\n"
    )
    with caplog.at_level(logging.WARNING):
        parsed = parse_csv(text)
    assert [r.note for r in parsed.rows] == [
        None,
        "warning: pat@example.com is named 'Pat Smyth' on row 3 but 'Pat Smith' on row 2: Canvas keeps one "
        "account per email, named as on the row that creates it",
    ]
    assert "pat@example.com is 'Pat Smyth' here but 'Pat Smith' on row 2" in caplog.text


def test_notes_reach_the_row_document() -> None:
    """A row's note is added to its message in the JSON/CSV/table document, with its parent columns."""
    row = Row(2, "S1", "ann@example.com", "Ann", "Lee", label="Mother", note="merged with … on row 5")
    document = RowResult(row, LinkOutcome.LINK, "parent account created on row 1").document()
    assert document["message"] == "parent account created on row 1; merged with … on row 5"
    assert document["parent_columns"] == "Mother"
    assert "parent_columns" not in RowResult(Row(3, "S1", "a@example.com", "A", "B"), LinkOutcome.LINK).document()


@pytest.mark.parametrize(
    ("full", "first", "last"),
    [
        ("Ann Lee", "Ann", "Lee"),
        ("Ann Marie Lee", "Ann Marie", "Lee"),
        ("Lee, Ann", "Ann", "Lee"),
        ("Cher", "Cher", ""),
    ],
)
def test_split_name(full: str, first: str, last: str) -> None:
    """Full names split at the last space, or at the comma of 'Last, First'."""
    assert split_name(full) == (first, last)
