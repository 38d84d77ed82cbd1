"""``-q`` is silent when nothing failed; ``--log-file`` holds every failure, the summary and the exit code.

Cron mails whatever a job prints, and on Windows the log file is often the only record of a night.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from profilesync.logsetup import ROTATE_BYTES, log_file_handler, setup_logging
from support.world import World

EXIT_LINE = re.compile(r" INFO profilesync\.record: exit (\d+) \(([^)]*)\): profilesync (.*)$")


def log_lines(path: Path, marker: str) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if marker in line]


def break_photos(world: World, count: int) -> list[str]:
    """Make ``count`` students' photos undecodable: each fails that user (invalid_photo) and only that user."""
    keys = sorted(p.stem for p in world.photos.glob("*.jpg"))[:count]
    for key in keys:
        (world.photos / f"{key}.jpg").write_text("not a photo")
    return keys


def test_quiet_sync_with_nothing_failed_prints_nothing(world: World, tmp_path: Path) -> None:
    """`-q avatars sync` that fails nobody: empty stdout and stderr; the log file still has summary and exit 0."""
    log_file = tmp_path / "logs" / "avatars.log"
    result = world.cli("-q", "--log-file", str(log_file), "avatars", "sync")
    assert result.stdout == "" and result.stderr == ""
    (summary,) = log_lines(log_file, "summary: ")
    assert re.search(r"summary: canvas:\S+: \d+ uploaded, 0 reassigned, .* 0 failed", summary)
    (exit_line,) = [m.groups() for line in log_lines(log_file, "exit ") if (m := EXIT_LINE.search(line))]
    assert exit_line == ("0", "done", "avatars sync")


def test_quiet_sync_with_failures_reports_them_on_stderr_and_in_the_log(world: World, tmp_path: Path) -> None:
    """With failures, `-q` prints the failures and the summary on stderr (not stdout); the log file has one
    line per failed user with reason and advice, the summary and exit 1."""
    broken = break_photos(world, 2)
    log_file = tmp_path / "avatars.log"
    result = world.cli("-q", "--log-file", str(log_file), "avatars", "sync", expect=1)
    assert result.stdout == ""
    for key in broken:
        assert re.search(rf"^{key}\s+invalid_photo\s", result.stderr, re.M), result.stderr
    assert re.search(r"^canvas:\S+: .* 2 failed", result.stderr, re.M)
    failures = log_lines(log_file, " failed S")
    assert len(failures) == 2
    for key in broken:
        (line,) = [line for line in failures if f"WARNING profilesync.record: failed {key}: invalid_photo: " in line]
        assert "what to do: replace the photo file" in line
    assert re.search(r"summary: .* 2 failed", log_file.read_text())
    assert [m.group(1) for line in log_lines(log_file, "exit ") if (m := EXIT_LINE.search(line))] == ["1"]


def test_json_document_is_printed_under_quiet(world: World, tmp_path: Path) -> None:
    """`-q ... --format json` still prints the JSON a monitor asked for, and nothing on stderr."""
    result = world.cli("-q", "avatars", "sync", "--format", "json")
    assert result.stdout.lstrip().startswith("{") and result.stderr == ""


def test_fatal_error_is_logged_with_its_advice_and_exit_code(world: World, tmp_path: Path) -> None:
    """A run stopped by an error (bad token, exit 3) leaves the error, its advice and the exit code in the log."""
    world.extra_env["CANVAS_API_TOKEN"] = "7~not-a-real-token"
    log_file = tmp_path / "avatars.log"
    result = world.cli("-q", "--log-file", str(log_file), "avatars", "sync", expect=3)
    assert result.stdout == "" and "error:" in result.stderr
    text = log_file.read_text()
    assert re.search(r"ERROR profilesync\.record: error: .*; what to do: ", text)
    assert "exit 3 (fatal remote error): profilesync avatars sync" in text
    assert "7~not-a-real-token" not in text


def test_quiet_doctor_prints_nothing_when_every_check_passes(world: World, tmp_path: Path) -> None:
    """`-q doctor` with nothing failed prints nothing; its verdict and exit 0 are in the log file."""
    log_file = tmp_path / "doctor.log"
    env_file = tmp_path / "profilesync.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in world.env().items()))
    env_file.chmod(0o600)
    result = world.cli("--env-file", str(env_file), "-q", "--log-file", str(log_file), "doctor")
    assert result.stdout == "" and result.stderr == ""
    text = log_file.read_text()
    assert "summary: doctor: exit 0" in text and "exit 0 (done): profilesync doctor" in text


def test_quiet_doctor_prints_its_report_on_stderr_when_a_check_fails(world: World, tmp_path: Path) -> None:
    """`-q doctor` with a failing check prints the whole report on stderr (cron mails it) and exits non-zero."""
    world.extra_env["CANVAS_API_TOKEN"] = "7~not-a-real-token"
    result = world.cli("-q", "doctor", expect=3)
    assert result.stdout == ""
    assert "[FAIL] API token" in result.stderr


@pytest.mark.parametrize("os_name", ["posix", "windows"])
def test_log_file_follows_the_hosts_rotation(os_name: str, tmp_path: Path) -> None:
    """POSIX: a log file moved away by logrotate is reopened at the next line. Windows: it rotates itself by size."""
    path = tmp_path / "sync.log"
    handler = log_file_handler(path, windows=os_name == "windows")
    logger = logging.getLogger(f"profilesync.test.rotation.{os_name}")
    logger.propagate, logger.level = False, logging.INFO
    logger.addHandler(handler)
    try:
        logger.info("before")
        if os_name == "posix":
            path.rename(tmp_path / "sync.log.1")  # what logrotate does (no copytruncate)
            logger.info("after")
            assert path.read_text() == "after\n" and (tmp_path / "sync.log.1").read_text() == "before\n"
        else:
            assert isinstance(handler, logging.handlers.RotatingFileHandler)
            assert handler.maxBytes == ROTATE_BYTES and handler.backupCount > 0
            path.rename(tmp_path / "moved.log")  # a Windows handler does not watch: it keeps writing where it was
            logger.info("after")
            assert not path.exists()
    finally:
        logger.removeHandler(handler)
        handler.close()


def test_secrets_never_reach_the_log_file(tmp_path: Path) -> None:
    """The log file's handler masks the token like the console's (setup_logging's last line of defence)."""
    path = tmp_path / "secret.log"
    setup_logging(0, True, path, ["s3cret-token-value"])
    try:
        logging.getLogger("profilesync.record").warning("failed K: echo s3cret-token-value")
    finally:
        setup_logging(0, False, None)
    assert "s3cret-token-value" not in path.read_text() and "<hidden>" in path.read_text()


def test_unwritable_log_file_is_a_clear_error(world: World, tmp_path: Path) -> None:
    """A --log-file that cannot be opened (here: its folder is a file) stops with exit 2 and advice, no traceback."""
    (tmp_path / "not-a-folder").write_text("")
    result = world.cli("-q", "--log-file", str(tmp_path / "not-a-folder" / "sync.log"), "avatars", "sync", expect=2)
    assert "error: cannot write the log file" in result.stderr and "what to do:" in result.stderr
    assert "Traceback" not in result.output
