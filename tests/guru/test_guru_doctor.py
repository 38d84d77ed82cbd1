"""`profilesync doctor --target guru` against the Guru sandbox: a Guru-only set-up passes, then one thing broken
at a time, each with its line, its advice and the exit code of the first failure."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from profilesync.cli import cli
from profilesync.config import ENV_VARS
from profilesync_sandbox.guru import GuruSandboxConfig
from profilesync_sandbox.samples import make_portrait

from .world import GuruWorld, make_guru_world

CHECKS = ("configuration", "Guru reachable", "credentials", "list members", "photo folder", "history database")


def line(output: str, check: str) -> str:
    """The report line of one check (e.g. ``[FAIL] credentials  ...``)."""
    pattern = rf"\[(?: ok |warn|FAIL|skip)\] {re.escape(check)} "
    found = [text for text in output.splitlines() if re.match(pattern, text)]
    assert len(found) == 1, output
    return found[0]


@pytest.fixture
def small(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GuruWorld]:
    """Twelve members, a quarter inactive; every error answer quotes the credentials (a careless proxy)."""
    config = GuruSandboxConfig(members=12, page_size=5, inactive_rate=0.25, echo_credentials_in_errors=True)
    yield from make_guru_world(tmp_path, monkeypatch, config)


def doctor(world: GuruWorld, *args: str, expect: int) -> str:
    return world.cli("doctor", "--target", "guru", *args, expect=expect).stdout


def run_with_dotenv_only(args: list[str], expect: int) -> Result:
    """The CLI with every profilesync variable unset, so only ./.env configures it."""
    result = CliRunner().invoke(cli, args, env=dict.fromkeys(ENV_VARS), catch_exceptions=False)
    assert result.exit_code == expect, result.output
    return result


def test_guru_only_dotenv_passes_every_check(small: GuruWorld, tmp_path: Path) -> None:
    """A .env holding only the Guru settings (its own photo folder included): every check passes, exit 0 —
    where plain `doctor` still wants Canvas (exit 2)."""
    guru_photos = tmp_path / "guru-photos"
    small.photos.rename(guru_photos)
    (tmp_path / ".env").write_text(
        f"GURU_BASE_URL={small.guru.base_url}\nGURU_USER={small.guru.user}\nGURU_API_TOKEN={small.guru.token}\n"
        f"GURU_PHOTOS_DIR={guru_photos}\nPROFILESYNC_DATABASE_URL={small.database_url}\n"
    )
    output = run_with_dotenv_only(["doctor", "--target", "guru"], expect=0).stdout
    for check in CHECKS:
        assert line(output, check).startswith("[ ok ]"), output
    active = sum(m.active for m in small.members())
    assert f"12 members ({active} active, {12 - active} not active)" in line(output, "list members")
    assert "(GURU_PHOTOS_DIR)" in line(output, "photo folder") and "0 match no member" in output
    assert "ready for 'profilesync avatars sync --target guru'" in output
    assert small.guru.token not in output
    canvas = run_with_dotenv_only(["doctor"], expect=2).stdout
    assert "CANVAS_BASE_URL is not set" in line(canvas, "configuration")
    assert "profilesync doctor --target guru" in canvas  # plain doctor points a Guru admin at the Guru checks


def test_doctor_only_reads(small: GuruWorld) -> None:
    """The doctor asks Guru nothing but the members listing: no picture, no person, no PUT."""
    doctor(small, expect=0)
    assert set(small.guru.state.counts()) == {"GET /api/v1/members"}


def test_wrong_token_fails_the_credentials_line_and_hides_it(small: GuruWorld) -> None:
    """A token Guru rejects (its 401 quoting it back): credentials FAIL with advice, exit 3, token hidden."""
    wrong = "not-the-guru-token-0123456789"
    small.extra_env["GURU_API_TOKEN"] = wrong
    output = doctor(small, expect=3)
    assert line(output, "Guru reachable").startswith("[ ok ]")
    assert line(output, "credentials").startswith("[FAIL]") and "<hidden>" in line(output, "credentials")
    assert "User token" in output and wrong not in output
    assert line(output, "list members").startswith("[skip]")


def test_missing_guru_settings_fail_the_configuration_line(small: GuruWorld) -> None:
    """No GURU_USER or GURU_API_TOKEN: configuration FAIL naming both, Guru checks skipped, exit 2."""
    small.extra_env.update(GURU_USER="", GURU_API_TOKEN="")
    output = doctor(small, expect=2)
    config = line(output, "configuration")
    assert config.startswith("[FAIL]") and "GURU_USER is not set" in config and "GURU_API_TOKEN is not set" in config
    for check in ("Guru reachable", "credentials", "list members"):
        assert line(output, check).startswith("[skip]")


def test_unreachable_guru_fails_the_reachable_line(small: GuruWorld) -> None:
    """GURU_BASE_URL pointing at a closed port: Guru reachable FAIL, exit 3."""
    small.extra_env["GURU_BASE_URL"] = "http://127.0.0.1:9"
    output = doctor(small, expect=3)
    assert line(output, "Guru reachable").startswith("[FAIL]")
    assert line(output, "credentials").startswith("[skip]")


def test_collection_user_is_warned_about(small: GuruWorld) -> None:
    """A Collection token (its user a collection id, not an email) reads fine but is warned: it cannot write."""
    small.extra_env.update(GURU_USER=small.guru.collection_id, GURU_API_TOKEN=small.guru.collection_token)
    output = doctor(small, expect=0)
    assert line(output, "configuration").startswith("[warn]") and "Collection token" in output
    assert line(output, "credentials").startswith("[ ok ]")


@pytest.mark.parametrize("how", ["empty", "missing"])
def test_empty_or_missing_guru_folder_fails_the_photo_line(small: GuruWorld, how: str) -> None:
    """No Guru photos yet: photo folder FAIL (exit 4) naming the folder, with the way to learn the names."""
    shutil.rmtree(small.photos)
    if how == "empty":
        small.photos.mkdir()
    output = doctor(small, expect=4)
    photos = line(output, "photo folder")
    assert photos.startswith("[FAIL]") and str(small.photos) in photos and "(PROFILESYNC_PHOTOS_DIR)" in photos
    assert "avatars plan --target guru --format csv" in output


def test_unmatched_photo_is_warned_about(small: GuruWorld) -> None:
    """A photo named by nobody's email: photo folder warns and names the file; exit 0."""
    (small.photos / "nobody@elsewhere.test.jpg").write_bytes(make_portrait("nobody"))
    output = doctor(small, expect=0)
    assert line(output, "photo folder").startswith("[warn]")
    assert "1 match no member: nobody@elsewhere.test.jpg" in line(output, "photo folder")
    assert "GURU_PHOTOS_DIR" in output  # the shared folder is in use: Guru can have its own


def test_json_report(small: GuruWorld) -> None:
    """`--format json`: every check with its status, and the exit code."""
    report = json.loads(doctor(small, "--format", "json", expect=0))
    # The machine's own lines (which .env, where the history is) frame the Guru checks, as for Canvas.
    assert [c["name"] for c in report["checks"]] == ["settings file", *CHECKS, "history location", "reports"]
    guru_checks = [c for c in report["checks"] if c["name"] in CHECKS]
    assert {c["status"] for c in guru_checks} == {"pass"} and report["exit_code"] == 0
