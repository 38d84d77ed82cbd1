"""Every timestamp the store takes or gives is a timezone-aware UTC ``datetime``."""

from __future__ import annotations

from datetime import datetime, timezone


def to_utc(value: datetime) -> datetime:
    """The same instant in UTC; a naive datetime is refused, since its zone would be a guess."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} given to the history store; pass an aware one")
    return value.astimezone(timezone.utc)


def maybe_utc(value: datetime | None) -> datetime | None:
    """:func:`to_utc` for optional values."""
    return None if value is None else to_utc(value)
