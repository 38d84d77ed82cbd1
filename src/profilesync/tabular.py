"""The output formats every job renders to: an aligned text table for people, a JSON document and CSV for scripts.

Each job decides its rows, columns and summary; how a table, a JSON document or a CSV file is written is decided
here once.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def json_text(document: Mapping[str, Any]) -> str:
    """A JSON document, indented, non-ASCII characters (names) kept as they are."""
    return json.dumps(document, indent=2, ensure_ascii=False)


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], max_width: int = 100) -> str:
    """A plain aligned text table (no dependency; cron mails and terminals both read it)."""

    def cell(value: Any) -> str:
        text = "" if value is None else str(value)
        return text if len(text) <= max_width else text[: max_width - 1] + "…"

    cells = [[cell(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    header = "  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))
    body = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join([header.rstrip(), *body])


def csv_text(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], *, line_end: str = "\n") -> str:
    """The rows under a header of ``columns``; fields of a row that are not columns are left out."""
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator=line_end, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def excel_csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> bytes:
    """A CSV file Excel opens right: UTF-8 with a BOM (without it Excel reads names in the local code page:
    "ZoÃ«"), CRLF line ends (RFC 4180). Bytes, so no platform's newline translation or console encoding touches
    them."""
    return csv_text(rows, columns, line_end="\r\n").encode("utf-8-sig")
