"""Counts in words: one helper, so no message says "1 photos" (or "2 photo")."""

from __future__ import annotations

#: nouns whose plural is not just "s"
IRREGULAR = {"match": "matches", "child": "children", "person": "people", "entry": "entries"}


def plural(n: int, noun: str, many: str | None = None) -> str:
    """``plural(1, "photo")`` → "1 photo"; ``plural(3, "photo")`` → "3 photos"; ``many`` overrides the plural."""
    if n == 1:
        return f"{n} {noun}"
    return f"{n} {many or IRREGULAR.get(noun) or noun + 's'}"
