"""The run's record in the log file: one line per failed user or row, the summary, the exit code.

Under cron or Task Scheduler the ``--log-file`` is often the only record of a night, so it holds what the
console showed (or, with ``-q``, did not) in a form that greps well. These records go to the log file only: the
console already shows the same facts as the command's report (logsetup keeps them off the console).
"""

from __future__ import annotations

import logging

from profilesync.errors import ProfilesyncError

#: the logger whose records the console handler drops (see logsetup.setup_logging)
RECORD_LOGGER = "profilesync.record"
log = logging.getLogger(RECORD_LOGGER)

#: what to do about a failure, by reason, where the message does not already say it
ADVICE = {
    "invalid_photo": "replace the photo file (a JPEG or PNG portrait)",
    "ambiguous_photo": "keep one photo file per person",
    "not_found": "check the key: no user on the target has it",
    "quota": "free space in the user's files, or raise their quota",
    "permission": "check the token's admin role and the account's settings",
    "transient": "nothing: the next run retries",
    "invalid_row": "fix the row in the SIS export",
    "limited_access": "Canvas's 'Limited access for students' refuses students' uploads: see the README",
    "masquerade_refused": "Canvas will not act as this user (merged, no login here, or outranking the token)",
    "thumbnail_pending": "nothing: the user keeps the previous picture and the next run sets the new one",
    "profile_folders": "delete or rename the extra 'profile pictures' folder named in the message",
}
DEFAULT_ADVICE = "see the message; the next run retries"

#: what each exit code means (docs/design.md §2.4), for the exit line
EXIT_MEANINGS = {
    0: "done",
    1: "finished, some users or rows failed",
    2: "usage or configuration error",
    3: "fatal remote error",
    4: "safety valve",
    5: "another run holds the lock",
    130: "interrupted",
    143: "terminated",
}


def failure(key: str | None, reason: str | None, message: str | None, advice: str | None = None) -> None:
    """One line for one failed user (or CSV row): its key, the reason and what to do."""
    reason = reason or "failed"
    advice = advice or ADVICE.get(reason, DEFAULT_ADVICE)
    log.warning("failed %s: %s: %s; what to do: %s", key or "(no key)", reason, message or reason, advice)


def summary(text: str) -> None:
    """The command's summary line (counts)."""
    log.info("summary: %s", text)


def error(exc: ProfilesyncError) -> None:
    """The error that ended the command, with its advice."""
    log.error("error: %s%s", exc.message, f"; what to do: {exc.advice}" if exc.advice else "")


def exit_code(command: str, code: int) -> None:
    """The last line of every command: how it ended."""
    meaning = EXIT_MEANINGS.get(code, "")
    log.info("exit %d%s: profilesync %s", code, f" ({meaning})" if meaning else "", command or "")
