"""Reading the parents CSV: header spellings, Excel's BOM and ``;`` delimiter, and per-row validation.

The file layout is checked before anything else happens: an unknown layout stops the command (exit 2)
before any request reaches Canvas. Problems with single rows never stop it: they become ``invalid_row``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from profilesync.errors import ProfilesyncError
from profilesync.observers.model import Outcome, Row, RowResult

FIELDS = ("student", "email", "first_name", "last_name")
FIELD_LABELS = {
    "student": "student SIS ID",
    "email": "parent email",
    "first_name": "parent first name",
    "last_name": "parent last name",
}
# Headers are compared folded: lower case, letters and digits only ("Student ID" == "student_id").
# Parent columns may carry a role word in front ("Parent Email", "Guardian First Name").
_ROLE_PREFIXES = ("parent", "guardian", "observer", "contact")
_SPELLINGS: Mapping[str, frozenset[str]] = {
    "student": frozenset(
        {"studentsisid", "studentid", "sisid", "sisuserid", "studentsisuserid", "sisstudentid", "studentnumber"}
    ),
    "email": frozenset({"email", "emailaddress", "mail"}),
    "first_name": frozenset({"firstname", "first", "givenname", "forename"}),
    "last_name": frozenset({"lastname", "last", "surname", "familyname"}),
}
ACCEPTED_HEADERS = {
    "student": "student_sis_id, Student SIS ID, Student ID, sis_user_id, SIS ID, Student Number",
    "email": "parent_email, Parent Email, Email, Email Address, Guardian Email",
    "first_name": "parent_first_name, First Name, Parent First Name, Given Name",
    "last_name": "parent_last_name, Last Name, Parent Last Name, Surname, Family Name",
}
DELIMITERS = (",", ";", "\t", "|")  # Excel writes ";" where the decimal separator is ","
EMAIL = re.compile(r"^[^@\s,;<>()\[\]\"]+@[^@\s,;<>()\[\]\"]+\.[^@\s,;<>()\[\]\".]{2,}$")
MAX_FIELD = 255  # Canvas's unique_id and name columns are 255 characters


class CsvLayoutError(ProfilesyncError):
    """The CSV cannot be read, or its header does not name the four columns (exit 2)."""


@dataclass(frozen=True)
class ParsedCsv:
    """The valid rows, and a result for every row that cannot be used."""

    rows: list[Row]
    invalid: list[RowResult]
    delimiter: str


def fold_header(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.lower())


def field_of(header: str) -> str | None:
    """Which of the four fields a header names, or None for a column we do not use."""
    folded = fold_header(header)
    for name, spellings in _SPELLINGS.items():
        if folded in spellings:
            return name
        if name != "student":
            for prefix in _ROLE_PREFIXES:
                if folded.startswith(prefix) and folded[len(prefix) :] in spellings:
                    return name
    return None


def map_header(header: Sequence[str]) -> tuple[dict[str, int], list[str]]:
    """Column index per field, and the problems with the header (missing or repeated fields)."""
    found: dict[str, list[int]] = {}
    for index, text in enumerate(header):
        name = field_of(text)
        if name is not None:
            found.setdefault(name, []).append(index)
    problems = []
    for name in FIELDS:
        columns = found.get(name, [])
        if not columns:
            problems.append(f"no {FIELD_LABELS[name]} column (accepted: {ACCEPTED_HEADERS[name]})")
        elif len(columns) > 1:
            names = ", ".join(repr(header[i]) for i in columns)
            problems.append(f"several columns could be the {FIELD_LABELS[name]}: {names}")
    return {name: columns[0] for name, columns in found.items()}, problems


def read_text(path: Path) -> str:
    """The file's text: UTF-8, with or without the BOM Excel writes ("CSV UTF-8")."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CsvLayoutError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Guessing a legacy code page could put wrong letters into parents' names: ask for UTF-8 instead.
        raise CsvLayoutError(
            f"{path} is not UTF-8 text",
            advice="in Excel use Save As > 'CSV UTF-8 (Comma delimited) (*.csv)'",
        ) from None


def split_records(text: str, delimiter: str) -> list[list[str]]:
    # newline="": quoted cells may hold line breaks (an address typed with Alt+Enter in Excel)
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def choose_delimiter(text: str) -> str:
    """The delimiter whose reading of the header names all four fields; else csv.Sniffer's guess."""
    for delimiter in DELIMITERS:
        header = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), [])
        if not map_header(header)[1]:
            return delimiter
    first_line = text.splitlines()[0]
    try:
        return csv.Sniffer().sniff(first_line, delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        return ","


def parse_csv(text: str, source: str = "the CSV") -> ParsedCsv:
    """Parse the whole file: raise CsvLayoutError for an unusable layout, sort rows into valid and invalid."""
    if not text.strip():
        raise CsvLayoutError(f"{source} is empty", advice="export it again from the SIS, with a header row")
    delimiter = choose_delimiter(text)
    try:
        records = split_records(text, delimiter)
    except csv.Error as exc:
        raise CsvLayoutError(f"{source} is not a readable CSV file: {exc}") from None
    header = records[0]
    columns, problems = map_header(header)
    if problems:
        shown = ", ".join(repr(h) for h in header) or "(nothing)"
        raise CsvLayoutError(
            f"{source}: unknown layout: " + "; ".join(problems) + f". The header row is: {shown}",
            advice="give the file a header row naming the student SIS ID, parent email, first name and last name",
        )
    rows = [_row(number, record, columns) for number, record in enumerate(records[1:], start=2) if any(record)]
    valid, invalid = check_rows(r for r in rows if r is not None)
    return ParsedCsv(valid, invalid, delimiter)


def read_csv(path: Path) -> ParsedCsv:
    return parse_csv(read_text(path), str(path))


def _row(number: int, record: list[str], columns: Mapping[str, int]) -> Row | None:
    values = {name: (record[i] if i < len(record) else "").strip() for name, i in columns.items()}
    if not any(values.values()):
        return None  # a blank line, or one that only has cells in columns we do not use
    return Row(number, values["student"], values["email"], values["first_name"], values["last_name"])


def row_problem(row: Row) -> str | None:
    """Why a row cannot be used on its own (a pure check: no Canvas state involved)."""
    missing = [
        FIELD_LABELS[name]
        for name, value in (
            ("student", row.student),
            ("email", row.email),
            ("first_name", row.first_name),
            ("last_name", row.last_name),
        )
        if not value
    ]
    if missing:
        return "missing " + ", ".join(missing)
    if not EMAIL.match(row.email):
        return f"{row.email!r} is not an email address"
    too_long = [FIELD_LABELS[n] for n in ("student", "email") if len(getattr(row, n)) > MAX_FIELD]
    if too_long or len(row.parent_name) > MAX_FIELD:
        return "longer than Canvas allows (255 characters): " + ", ".join(too_long or ["parent name"])
    return None


def check_rows(rows: Iterable[Row]) -> tuple[list[Row], list[RowResult]]:
    """Valid rows in file order, and ``invalid_row`` results (bad rows, and repeats of an earlier row)."""
    valid: list[Row] = []
    invalid: list[RowResult] = []
    seen: dict[tuple[str, str], int] = {}
    for row in rows:
        problem = row_problem(row)
        if problem is None:
            first = seen.setdefault((row.student, row.parent_key), row.number)
            if first != row.number:
                problem = f"repeats row {first} (same student and parent)"
        if problem is None:
            valid.append(row)
        else:
            invalid.append(RowResult(row, Outcome.INVALID_ROW, problem))
    return valid, invalid
