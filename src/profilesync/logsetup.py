"""Logging, configured once by the CLI: stderr for people, an optional log file for cron, secrets masked.

The log file plays well with the host's rotation: on POSIX logrotate moves it away and the next line reopens
it (``WatchedFileHandler``: no ``copytruncate``, no signal needed); Windows has no logrotate, and a file that
is open cannot be renamed there, so the file rotates itself by size.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
from collections.abc import Iterable
from pathlib import Path

from profilesync.errors import ProfilesyncError
from profilesync.runlog import RECORD_LOGGER
from profilesync.scrub import Scrubber

FORMAT_FILE = "%(asctime)s %(levelname)s %(name)s: %(message)s"
ROTATE_BYTES = 5_000_000  # Windows: 5 MB per file …
ROTATE_KEEP = 5  # … and 5 old files


class RedactSecrets(logging.Filter):
    """Last line of defence: replaces any secret value that reaches a log record, however it got there."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.scrub = Scrubber(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        if self.scrub.secrets:
            message = record.getMessage()
            if self.scrub.found_in(message):
                record.msg, record.args = self.scrub(message), None
            # A traceback (log.exception) quotes exception messages, which may quote a remote answer that echoed
            # the token: format it here, once, so the handlers print the cleaned text (Formatter reuses exc_text).
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = self.scrub(record.exc_text)
            if record.stack_info:
                record.stack_info = self.scrub(record.stack_info)
        return True


def setup_logging(verbosity: int, quiet: bool, log_file: Path | None, secrets: Iterable[str] = ()) -> None:
    """-q: errors only on the console (warnings still reach the log file); default: info; -v: debug for
    profilesync; -vv: debug for libraries too.

    -q is for cron, which mails whatever a job prints: a warning that is not a failure (a parent's name spelt
    two ways, a throttled request) would mail the admin every night.
    """
    level = logging.ERROR if quiet else logging.INFO if verbosity == 0 else logging.DEBUG
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_profilesync", False):
            root.removeHandler(handler)
            handler.close()
    redact = RedactSecrets(secrets)
    console = logging.StreamHandler()
    console.setFormatter(logging.Formatter("%(message)s" if verbosity == 0 else FORMAT_FILE))
    console.setLevel(level)
    handlers: list[logging.Handler] = [console]
    # The run's record (failures, summary, exit code) is for the file: the console shows the report itself.
    console.addFilter(lambda record: not record.name.startswith(RECORD_LOGGER))
    if log_file is not None:
        file_handler = log_file_handler(log_file)
        file_handler.setFormatter(logging.Formatter(FORMAT_FILE))
        file_handler.setLevel(logging.DEBUG if verbosity else logging.INFO)
        handlers.append(file_handler)
    for handler in handlers:
        handler.addFilter(redact)
        handler._profilesync = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(min(h.level for h in handlers))
    logging.getLogger("profilesync").setLevel(root.level)
    # Library chatter (connection pool, PIL) only at -vv.
    for noisy in ("urllib3", "PIL", "requests"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbosity >= 2 else logging.WARNING)


def log_file_handler(path: Path, *, windows: bool = os.name == "nt") -> logging.FileHandler:
    """A handler a nightly job can log through for years without filling the disk (see the module's doc)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if windows:
            return logging.handlers.RotatingFileHandler(
                path, maxBytes=ROTATE_BYTES, backupCount=ROTATE_KEEP, encoding="utf-8"
            )
        return logging.handlers.WatchedFileHandler(path, encoding="utf-8")
    except OSError as exc:
        raise ProfilesyncError(
            f"cannot write the log file {path}: {exc.strerror or exc}",
            advice="let the account that runs profilesync write to its folder, or choose another --log-file",
        ) from None
