"""``profilesync doctor``'s line for photos read from the SIS database (``photos/sql.py``).

It asks what a sync needs and nothing more: the database answers, the query returns the three columns by
name, and it returns rows. The photos themselves are judged by the sync, row by row, as it reads them.
"""

from __future__ import annotations

from profilesync.config import Settings
from profilesync.doctor.checks import Check, failed, passed
from profilesync.domain import Secret
from profilesync.errors import ConfigError, ExitCode, SafetyValveError
from profilesync.photos.sql import COLUMNS, SqlSource
from profilesync.text import plural

#: the check's name in doctor's report (in place of the photo folder's)
SQL_PHOTOS = "SIS photo query"


def check_sql_photos(name: str, url: Secret, settings: Settings) -> Check:
    """Connect, check the query's columns and count its rows (zero rows stops a sync: exit 4)."""
    try:
        source = SqlSource(url, settings.photos_sql_query or "")
        try:
            rows = source.probe()
        finally:
            source.close()
    except ConfigError as exc:
        return failed(name, "; ".join(exc.problems), "fix PROFILESYNC_PHOTOS_SQL_QUERY or _URL", ExitCode.USAGE)
    except SafetyValveError as exc:
        return failed(name, exc.message, exc.advice, ExitCode.SAFETY)
    if rows == 0:
        advice = "check the SIS photo export; a sync would stop here (exit 4)"
        return failed(name, "the SIS photo query returned no rows", advice, ExitCode.SAFETY)
    columns = ", ".join(COLUMNS)
    return passed(
        name, f"the SIS photo query returns {columns}; {plural(rows, 'row')} (each read as the sync needs it)"
    )
