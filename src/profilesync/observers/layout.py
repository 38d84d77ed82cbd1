"""The parents CSV's header → where each field is: one parent per row (long) or several per row (wide).

Long layout (our own, and most hand-made files): one row per student and parent, with a student SIS id, a parent
email, first and last name column — a parent with three children is on three rows.

Wide layout (how SIS exports really look): one row per student, one group of columns per parent, each group
named by a role word, optionally numbered: "Mother Email", "Father Email", "Guardian 1 Email", "Guardian 1 First
Name", "Parent/Guardian 2 Last Name". Each group with an email column is one parent; a group may give the name
as first + last name columns, or as one full-name column ("Mother Name"). In a wide layout, name columns without
a role word ("First Name") are taken to be the student's and ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

FIELD_LABELS = {
    "student": "student SIS ID",
    "email": "parent email",
    "first_name": "parent first name",
    "last_name": "parent last name",
    "full_name": "parent name",
}
# Headers are compared folded: lower case, letters and digits only ("Student ID" == "student_id").
SPELLINGS: Mapping[str, frozenset[str]] = {
    "student": frozenset(
        {"studentsisid", "studentid", "sisid", "sisuserid", "studentsisuserid", "sisstudentid", "studentnumber"}
    ),
    "email": frozenset({"email", "emailaddress", "mail"}),
    "first_name": frozenset({"firstname", "first", "givenname", "forename"}),
    "last_name": frozenset({"lastname", "last", "surname", "familyname"}),
    # Only with a role word: a bare "Name" column is far more often the student's.
    "full_name": frozenset({"name", "fullname"}),
}
ACCEPTED_HEADERS = {
    "student": "student_sis_id, Student SIS ID, Student ID, sis_user_id, SIS ID, Student Number",
    "email": "parent_email, Parent Email, Email, Email Address, Guardian Email, Mother Email, Guardian 1 Email",
    "first_name": "parent_first_name, First Name, Parent First Name, Given Name, Guardian 1 First Name",
    "last_name": "parent_last_name, Last Name, Parent Last Name, Surname, Family Name, Guardian 1 Last Name",
}
# Role words that name a parent's column group; they may be chained ("Parent/Guardian") and numbered.
ROLES = (
    "parent", "guardian", "observer", "contact", "mother", "father", "mom", "dad", "mum", "stepmother",
    "stepfather", "grandmother", "grandfather", "grandparent", "primary", "secondary",
)  # fmt: skip
_ROLE = "|".join(sorted(ROLES, key=len, reverse=True))
_FIELD = "|".join(sorted((s for spellings in SPELLINGS.values() for s in spellings), key=len, reverse=True))
_HEADER = re.compile(rf"^(?P<role>(?:{_ROLE})*)(?P<n1>[0-9]*)(?P<spelling>{_FIELD})(?P<n2>[0-9]*)$")
_ROLE_WORD = re.compile(_ROLE)


@dataclass(frozen=True)
class Column:
    """What one header names: a field, and the parent group it belongs to ("" without a role word)."""

    field: str
    group: str  # folded role words and number, e.g. "guardian1"; "" for the student column or no role word
    label: str  # the group as people read it, e.g. "Guardian 1"


def fold_header(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.lower())


def parse_header(text: str) -> Column | None:
    """The field and parent group a header names, or None for a column we do not use."""
    match = _HEADER.match(fold_header(text))
    if match is None:
        return None
    role, number = match["role"], match["n1"] or match["n2"]
    if match["n1"] and match["n2"]:
        return None
    field = next(name for name, spellings in SPELLINGS.items() if match["spelling"] in spellings)
    if field == "student":
        return Column(field, "", "") if not role and not number else None
    if field == "full_name" and not role:
        return None
    words = [w.title() for w in _ROLE_WORD.findall(role)]
    label = " ".join(["/".join(words), number] if number else words) or (f"Parent {number}" if number else "")
    return Column(field, role + number, label)


def field_of(header: str) -> str | None:
    """Which field a header names, whatever parent group it belongs to (None for columns we do not use)."""
    column = parse_header(header)
    return None if column is None else column.field


@dataclass(frozen=True)
class ParentColumns:
    """Where one parent's fields are (column indexes); ``label`` names the group in wide layouts."""

    label: str
    email: int
    first_name: int | None = None
    last_name: int | None = None
    full_name: int | None = None


@dataclass(frozen=True)
class Layout:
    """The student column and one ParentColumns per parent a row can hold (one: the long layout)."""

    student: int
    parents: tuple[ParentColumns, ...]

    @property
    def wide(self) -> bool:
        return len(self.parents) > 1


def map_header(header: Sequence[str]) -> tuple[Layout | None, list[str]]:
    """The layout, or None and the problems with the header (missing, repeated or unattributable columns)."""
    groups: dict[str, dict[str, list[int]]] = {}
    labels: dict[str, str] = {}
    for index, text in enumerate(header):
        column = parse_header(text)
        if column is not None:
            groups.setdefault(column.group, {}).setdefault(column.field, []).append(index)
            labels.setdefault(column.group, column.label)
    problems: list[str] = []
    students = groups.get("", {}).pop("student", [])
    if not students:
        problems.append(f"no {FIELD_LABELS['student']} column (accepted: {ACCEPTED_HEADERS['student']})")
    elif len(students) > 1:
        problems.append(_several("student", students, header))
    with_email = [group for group, fields in groups.items() if "email" in fields]
    if len(with_email) > 1 and "" not in with_email:
        parents = [_group(groups[g], labels[g], header, problems) for g in with_email]
    else:  # the long layout: every parent column, whatever its role word, describes the one parent
        merged: dict[str, list[int]] = {}
        for fields in groups.values():
            for name, indexes in fields.items():
                merged.setdefault(name, []).extend(indexes)
        parents = [_group(merged, "", header, problems)]
    if problems or not students:
        return None, problems
    return Layout(students[0], tuple(p for p in parents if p is not None)), []


def _group(
    fields: Mapping[str, list[int]], label: str, header: Sequence[str], problems: list[str]
) -> ParentColumns | None:
    """One parent's columns; a problem for each field missing or given twice."""
    found: dict[str, int] = {}
    for name in ("email", "first_name", "last_name", "full_name"):
        indexes = fields.get(name, [])
        if len(indexes) > 1:
            problems.append(_several(name, indexes, header))
        if indexes:
            found[name] = indexes[0]
    whose = f" for {label}" if label else ""
    # The name as first + last name columns, or as one full-name column ("Mother Name").
    wanted = ["email"] if "full_name" in found else ["email", "first_name", "last_name"]
    problems += [
        f"no {FIELD_LABELS[name]} column{whose} (accepted: {ACCEPTED_HEADERS[name]})"
        for name in wanted
        if name not in found
    ]
    if "email" not in found:
        return None
    return ParentColumns(label, found["email"], found.get("first_name"), found.get("last_name"), found.get("full_name"))


def _several(name: str, indexes: Sequence[int], header: Sequence[str]) -> str:
    names = ", ".join(repr(header[i]) for i in indexes)
    return f"several columns could be the {FIELD_LABELS[name]}: {names}"
