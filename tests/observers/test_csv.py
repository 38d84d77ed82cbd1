"""Reading the parents CSV: header spellings, encodings, delimiters, and per-row validation (no Canvas)."""

from __future__ import annotations

from pathlib import Path

import pytest

from profilesync.errors import ExitCode
from profilesync.observers.csvfile import CsvLayoutError, field_of, parse_csv, read_csv
from profilesync.observers.model import LINK_FAILURES, LinkOutcome, Row

GOOD = "student_sis_id,parent_email,parent_first_name,parent_last_name"


def parse(*lines: str) -> tuple[list[Row], dict[int, str]]:
    parsed = parse_csv("\n".join(lines) + "\n")
    return parsed.rows, {r.row.number: r.message or "" for r in parsed.invalid}


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("student_sis_id", "student"),
        ("Student SIS ID", "student"),
        ("Student ID", "student"),
        ("STUDENT-ID", "student"),
        ("sis_user_id", "student"),
        ("SIS ID", "student"),
        ("Student Number", "student"),
        ("parent_email", "email"),
        ("Email", "email"),
        ("E-mail", "email"),
        ("Email Address", "email"),
        ("Guardian Email", "email"),
        ("First Name", "first_name"),
        ("parent_first_name", "first_name"),
        ("Given Name", "first_name"),
        ("firstname", "first_name"),
        ("Last Name", "last_name"),
        ("Parent Last Name", "last_name"),
        ("Surname", "last_name"),
        ("Family Name", "last_name"),
    ],
)
def test_header_spellings(header: str, field: str) -> None:
    """Obvious header spellings are recognised, whatever their case, spaces, dashes or underscores."""
    assert field_of(header) == field


@pytest.mark.parametrize("header", ["Student Email", "Student First Name", "Phone", "Name", "Grade"])
def test_other_columns_are_not_taken_for_ours(header: str) -> None:
    """Columns about the student or anything else are not mistaken for the parent's fields."""
    assert field_of(header) is None


def test_rows_read_with_spreadsheet_numbers() -> None:
    """Each row keeps its spreadsheet row number (the header is row 1) and its stripped fields."""
    rows, _ = parse(GOOD, "S1,pat@example.com,Pat,Parent", " S2 , jo@example.com ,Jo , Guardian ")
    assert rows == [
        Row(2, "S1", "pat@example.com", "Pat", "Parent"),
        Row(3, "S2", "jo@example.com", "Jo", "Guardian"),
    ]


def test_columns_found_in_any_order_among_others() -> None:
    """The four columns are found by header, in any order, with other columns ignored."""
    rows, _ = parse("Grade,Last Name,Email,Student ID,First Name", "7,Parent,pat@example.com,S1,Pat")
    assert rows == [Row(2, "S1", "pat@example.com", "Pat", "Parent")]


def test_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    """Excel's "CSV UTF-8" BOM does not end up in the first header."""
    path = tmp_path / "p.csv"
    path.write_bytes(f"{GOOD}\r\nS1,pat@example.com,Zoë,Núñez\r\n".encode("utf-8-sig"))
    assert read_csv(path).rows == [Row(2, "S1", "pat@example.com", "Zoë", "Núñez")]


def test_semicolon_delimiter() -> None:
    """A ';'-separated file (Excel where ',' is the decimal separator) is read."""
    parsed = parse_csv("Student ID;Email;First Name;Last Name\nS1;pat@example.com;Pat;Parent, Jr.\n")
    assert parsed.delimiter == ";" and parsed.rows[0].last_name == "Parent, Jr."


def test_tab_delimiter() -> None:
    """A tab-separated export is read."""
    assert parse_csv("Student ID\tEmail\tFirst Name\tLast Name\nS1\tpat@example.com\tPat\tParent\n").delimiter == "\t"


def test_quoted_cells_keep_commas_and_line_breaks() -> None:
    """Quoted cells may hold the delimiter and line breaks; row numbers still count records."""
    rows, _ = parse(GOOD, 'S1,pat@example.com,"Pat ""PJ""","Smith,\nJr."', "S2,jo@example.com,Jo,Guardian")
    assert [(r.number, r.first_name, r.last_name) for r in rows] == [
        (2, 'Pat "PJ"', "Smith,\nJr."),
        (3, "Jo", "Guardian"),
    ]


def test_sis_ids_kept_as_text() -> None:
    """SIS ids keep leading zeros and letter case."""
    rows, _ = parse(GOOD, "00123,pat@example.com,Pat,Parent", "s1,jo@example.com,Jo,Guardian")
    assert [r.student for r in rows] == ["00123", "s1"]


def test_blank_lines_are_skipped() -> None:
    """Empty lines and rows of empty cells are ignored, not reported."""
    rows, invalid = parse(GOOD, "", ",,,", "S1,pat@example.com,Pat,Parent")
    assert [r.number for r in rows] == [4] and invalid == {}


def test_missing_fields_make_an_invalid_row() -> None:
    """A row missing the student or a parent name is invalid, and says which (no email: see below)."""
    _, invalid = parse(GOOD, ",pat@example.com,Pat,Parent", "S1,pat@example.com,,", ",,Pat,Parent")
    assert invalid == {
        2: "missing student SIS ID",
        3: "missing parent first name, parent last name",
        4: "missing student SIS ID, parent email",
    }


def test_row_without_parent_email_is_skipped_not_invalid() -> None:
    """A student's row without a parent email is no_parent_email (not a failure), saying why and what to do."""
    parsed = parse_csv(f"{GOOD}\nS2,,Pat,Parent\nS3,,,\n")
    assert [(r.row.number, r.outcome) for r in parsed.invalid] == [
        (2, LinkOutcome.NO_PARENT_EMAIL),
        (3, LinkOutcome.NO_PARENT_EMAIL),
    ]
    assert parsed.invalid[0].message == "no parent email, skipped: add the email in the SIS to create their account"
    assert parsed.rows == [] and LinkOutcome.NO_PARENT_EMAIL not in LINK_FAILURES


def test_short_row_is_missing_fields() -> None:
    """A row with fewer cells than the header is missing the rest."""
    _, invalid = parse(GOOD, "S1,pat@example.com")
    assert invalid == {2: "missing parent first name, parent last name"}


@pytest.mark.parametrize(
    "email", ["pat", "pat@", "@example.com", "pat@example", "pat@@example.com", "pat parent@example.com", "a@b.c"]
)
def test_malformed_email_makes_an_invalid_row(email: str) -> None:
    """An address that is not an email is invalid."""
    _, invalid = parse(GOOD, f"S1,{email},Pat,Parent")
    assert invalid == {2: f"{email!r} is not an email address"}


def test_repeated_row_is_merged_into_the_first() -> None:
    """A row repeating an earlier student and parent (email in any case) is merged into it, not an error."""
    rows, invalid = parse(
        GOOD, "S1,pat@example.com,Pat,Parent", "S2,jo@example.com,Jo,Doe", "S1,PAT@Example.com,Pat,Parent"
    )
    assert [r.number for r in rows] == [2, 3] and invalid == {}
    assert rows[0].note == "merged with the same student and parent on row 4"
    assert rows[1].note is None


def test_one_parent_on_several_rows_is_valid() -> None:
    """A parent with several children is on several valid rows."""
    rows, invalid = parse(GOOD, "S1,pat@example.com,Pat,Parent", "S2,pat@example.com,Pat,Parent")
    assert len(rows) == 2 and invalid == {}


def test_invalid_rows_carry_the_outcome() -> None:
    """Invalid rows are reported with the invalid_row outcome."""
    parsed = parse_csv(f"{GOOD}\nS1,nope,Pat,Parent\n")
    assert [r.outcome for r in parsed.invalid] == [LinkOutcome.INVALID_ROW]


def test_unknown_layout_names_what_is_missing() -> None:
    """A header without a parent email column is a layout error naming it and the accepted spellings."""
    with pytest.raises(CsvLayoutError, match="no parent email column \\(accepted: parent_email") as raised:
        parse_csv("Student ID,Phone,First Name,Last Name\nS1,555,Pat,Parent\n")
    assert raised.value.exit_code is ExitCode.USAGE


def test_ambiguous_columns_are_a_layout_error() -> None:
    """Two columns that could both be the parent email is a layout error."""
    with pytest.raises(CsvLayoutError, match="several columns could be the parent email"):
        parse_csv("Student ID,Email,Parent Email,First Name,Last Name\n")


def test_empty_file_is_a_layout_error() -> None:
    """An empty file is a layout error."""
    with pytest.raises(CsvLayoutError, match="empty"):
        parse_csv("")


def test_header_only_file_has_no_rows() -> None:
    """A file with only the header row has nothing to do."""
    assert parse_csv(GOOD + "\n").rows == []


def test_non_utf8_file_is_refused(tmp_path: Path) -> None:
    """A file in a legacy code page is refused with advice, not guessed at."""
    path = tmp_path / "p.csv"
    path.write_bytes(f"{GOOD}\nS1,pat@example.com,Zoë,Müller\n".encode("cp1252"))
    with pytest.raises(CsvLayoutError, match="not UTF-8") as raised:
        read_csv(path)
    assert raised.value.advice is not None and "CSV UTF-8" in raised.value.advice


def test_unreadable_path_is_a_layout_error(tmp_path: Path) -> None:
    """A path that cannot be read is reported as a usage error."""
    with pytest.raises(CsvLayoutError, match="cannot read"):
        read_csv(tmp_path)
