"""Reading the parents CSV: header spellings, Excel's BOM and ``;`` delimiter, and per-row validation.

The file layout is checked before anything else happens: an unknown layout stops the command (exit 2)
before any request reaches Canvas. Problems with single rows never stop it: they become ``invalid_row``.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from profilesync.errors import ProfilesyncError
from profilesync.observers.layout import FIELD_LABELS, Layout, field_of, fold_header, map_header
from profilesync.observers.model import LinkOutcome, Row, RowResult

__all__ = ["CsvLayoutError", "ParsedCsv", "field_of", "fold_header", "parse_csv", "read_csv"]

log = logging.getLogger(__name__)

DELIMITERS = (",", ";", "\t", "|")  # Excel writes ";" where the decimal separator is ","
EMAIL = re.compile(r"^[^@\s,;<>()\[\]\"]+@[^@\s,;<>()\[\]\"]+\.[^@\s,;<>()\[\]\".]{2,}$")
MAX_FIELD = 255  # Canvas's unique_id and name columns are 255 characters
NO_EMAIL_ADVICE = "skipped: add the email in the SIS to create their account"


class CsvLayoutError(ProfilesyncError):
    """The CSV cannot be read, or its header does not name the four columns (exit 2)."""


@dataclass(frozen=True)
class ParsedCsv:
    """The rows to process, and a result for every row decided from the file alone (``invalid_row`` and
    ``no_parent_email``)."""

    rows: list[Row]
    invalid: list[RowResult]
    delimiter: str
    wide: bool = False  # one row per student, several parents per row


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
    layout, problems = map_header(header)
    if layout is None:
        shown = ", ".join(repr(h) for h in header) or "(nothing)"
        raise CsvLayoutError(
            f"{source}: unknown layout: " + "; ".join(problems) + f". The header row is: {shown}",
            advice="give the file a header row naming the student SIS ID, parent email, first name and last name "
            "(or, one row per student, 'Mother Email', 'Guardian 1 Email', 'Guardian 1 First Name'... columns)",
        )
    rows: list[Row] = []
    skipped: list[RowResult] = []
    for number, record in enumerate(records[1:], start=2):
        if any(record):
            found, without_email = _rows(number, record, layout)
            rows += found
            skipped += without_email
    valid, invalid = check_rows(rows)
    return ParsedCsv(valid, sorted(invalid + skipped, key=lambda r: r.row.number), delimiter, layout.wide)


def read_csv(path: Path) -> ParsedCsv:
    return parse_csv(read_text(path), str(path))


def _rows(number: int, record: Sequence[str], layout: Layout) -> tuple[list[Row], list[RowResult]]:
    """One spreadsheet row → one Row per parent named on it, and a ``no_parent_email`` result per parent
    (or student) without an email."""

    def cell(index: int | None) -> str:
        return record[index].strip() if index is not None and index < len(record) else ""

    student = cell(layout.student)
    rows: list[Row] = []
    skipped: list[RowResult] = []
    for position, parent in enumerate(layout.parents):
        email, first, last = cell(parent.email), cell(parent.first_name), cell(parent.last_name)
        if not (first or last):
            first, last = split_name(cell(parent.full_name))
        if not (email or first or last):
            continue  # this parent's columns are empty (a second guardian the family does not have)
        row = Row(number, student, email, first, last, label=parent.label, position=position)
        if email or not student:
            rows.append(row)  # without a student it is an invalid row, whatever else is missing
        else:
            whose = f"{parent.label}: " if parent.label else ""
            skipped.append(RowResult(row, LinkOutcome.NO_PARENT_EMAIL, f"{whose}no parent email, {NO_EMAIL_ADVICE}"))
    if student and not rows and not skipped:
        where = "in any parent's columns" if layout.wide else ""
        message = f"no parent email {where}".rstrip() + f", {NO_EMAIL_ADVICE}"
        skipped.append(RowResult(Row(number, student, "", "", ""), LinkOutcome.NO_PARENT_EMAIL, message))
    return rows, skipped


def split_name(full: str) -> tuple[str, str]:
    """A full-name cell as (first, last): "Smith, Jane" and "Jane Q. Smith" both give a last name Smith."""
    if "," in full:
        last, _, first = full.partition(",")
        return first.strip(), last.strip()
    first, _, last = full.strip().rpartition(" ")
    return (first.strip(), last) if first else (last, "")


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
    """Valid rows in file order, and ``invalid_row`` results.

    A repeat of an earlier student and parent is merged into it (SIS exports repeat rows: one per enrolment,
    or the same email in the Mother and Father columns), noted on the row kept. One email under two names
    is noted on the later row and logged: Canvas keeps one account per email, named as on the row that
    creates it.
    """
    valid: list[Row] = []
    invalid: list[RowResult] = []
    kept_at: dict[tuple[str, str], int] = {}  # (student, parent) → index in valid
    repeats: dict[int, list[Row]] = {}
    first_of_parent: dict[str, Row] = {}
    for row in rows:
        problem = row_problem(row)
        if problem is not None:
            invalid.append(RowResult(row, LinkOutcome.INVALID_ROW, _whose(row) + problem))
            continue
        index = kept_at.setdefault((row.student, row.parent_key), len(valid))
        if index != len(valid):
            repeats.setdefault(index, []).append(row)
            continue
        earlier = first_of_parent.setdefault(row.parent_key, row)
        if earlier.parent_name != row.parent_name:
            row = replace(row, note=_two_names(row, earlier))
        valid.append(row)
    for index, same in repeats.items():
        kept = valid[index]
        where = ", ".join(_where(r) for r in same)
        notes = [kept.note, f"merged with the same student and parent on {where}"]
        notes += [_two_names(r, kept) for r in same if r.parent_name != kept.parent_name]
        valid[index] = replace(kept, note="; ".join(n for n in notes if n))
    return valid, invalid


def _whose(row: Row) -> str:
    return f"{row.label}: " if row.label else ""


def _where(row: Row) -> str:
    """ "row 4", or "row 4 (Father)" in a wide layout."""
    return f"row {row.number}" + (f" ({row.label})" if row.label else "")


def _two_names(row: Row, other: Row) -> str:
    """The warning for one email under two names (logged too: it reaches the log file and cron mail)."""
    log.warning(
        "%s: %s is %r here but %r on %s", _where(row), row.email, row.parent_name, other.parent_name, _where(other)
    )
    return (
        f"warning: {row.email} is named {row.parent_name!r} on {_where(row)} but {other.parent_name!r} on "
        f"{_where(other)}: Canvas keeps one account per email, named as on the row that creates it"
    )
