"""`profilesync doctor` against the sandbox: all pass, then one thing broken at a time."""

from __future__ import annotations

import json
import re
from pathlib import Path

from profilesync.targets.canvas.refusals import ACT_AS_ADVICE
from profilesync_sandbox.samples import make_portrait
from support.world import World


def line(output: str, check: str) -> str:
    """The report line of one check (e.g. ``[FAIL] API token  ...``)."""
    found = [
        text for text in output.splitlines() if re.match(rf"\[(?: ok |warn|FAIL|skip)\] {re.escape(check)} ", text)
    ]
    assert len(found) == 1, output
    return found[0]


def test_all_checks_pass_against_the_sandbox(world: World) -> None:
    """A correct setup passes every check and exits 0."""
    output = world.cli("doctor", expect=0).stdout
    for check in (
        "configuration",
        "Canvas reachable",
        "API token",
        "read users",
        "avatars enabled",
        "act as users",
        "photo folder",
        "history database",
    ):
        assert line(output, check).startswith("[ ok ]"), output
    assert "all checks passed" in output


def test_output_never_shows_the_token(world: World) -> None:
    """The token appears nowhere in the doctor's output."""
    result = world.cli("doctor", expect=0)
    assert world.sandbox.admin_token not in result.output


def test_bad_token_fails_the_token_check(world: World) -> None:
    """A token Canvas does not know fails the token line with Canvas's message; exit 3."""
    world.extra_env["CANVAS_API_TOKEN"] = "7~not-a-real-token"
    output = world.cli("doctor", expect=3).stdout
    assert line(output, "Canvas reachable").startswith("[ ok ]")
    assert line(output, "API token").startswith("[FAIL]")
    assert "Invalid access token" in line(output, "API token")
    assert line(output, "act as users").startswith("[skip]")


def test_token_without_act_as_fails_the_masquerade_check(world: World) -> None:
    """A token whose role lacks "Become other users" fails only the act-as line, with the sync's advice; exit 3."""
    world.extra_env["CANVAS_API_TOKEN"] = world.sandbox.no_masquerade_token
    output = world.cli("doctor", expect=3).stdout
    assert line(output, "API token").startswith("[ ok ]")
    assert line(output, "read users").startswith("[ ok ]")
    assert line(output, "act as users").startswith("[FAIL]")
    assert "Users - act as" in output and ACT_AS_ADVICE in output


def test_avatars_disabled_fails_the_avatars_check(no_avatars_world: World) -> None:
    """With profile pictures off on the account, the avatars line fails with where to turn them on; exit 3."""
    output = no_avatars_world.cli("doctor", expect=3).stdout
    assert line(output, "avatars enabled").startswith("[FAIL]")
    assert "Enable profile pictures for users" in output
    assert line(output, "act as users").startswith("[ ok ]")


def test_missing_photo_folder_fails_the_photo_check(world: World, tmp_path: Path) -> None:
    """A photo folder that does not exist fails the photo line; exit 4 (the safety valve's code)."""
    world.extra_env["PROFILESYNC_PHOTOS_DIR"] = str(tmp_path / "not-mounted")
    output = world.cli("doctor", expect=4).stdout
    assert line(output, "photo folder").startswith("[FAIL]")
    assert "does not exist" in line(output, "photo folder")
    assert line(output, "API token").startswith("[ ok ]")


def test_html_base_url_fails_as_not_canvas(world: World, html_site: str) -> None:
    """A base URL that answers with an HTML page (a school website) fails reachability as not Canvas; exit 3."""
    world.extra_env["CANVAS_BASE_URL"] = html_site
    output = world.cli("doctor", expect=3).stdout
    assert line(output, "Canvas reachable").startswith("[FAIL]")
    assert "HTML page" in line(output, "Canvas reachable")
    assert line(output, "API token").startswith("[skip]")


def test_missing_token_fails_the_configuration_check(world: World) -> None:
    """No CANVAS_API_TOKEN fails the configuration line and exits 2; photos and database are still checked."""
    world.extra_env["CANVAS_API_TOKEN"] = ""
    output = world.cli("doctor", expect=2).stdout
    assert line(output, "configuration").startswith("[FAIL]")
    assert "CANVAS_API_TOKEN is not set" in output
    assert line(output, "photo folder").startswith("[ ok ]")
    assert line(output, "history database").startswith("[ ok ]")


def test_unopenable_database_fails_the_database_check(world: World, tmp_path: Path) -> None:
    """A history database that cannot be opened fails the database line; exit 2."""
    world.extra_env["PROFILESYNC_DATABASE_URL"] = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'h.sqlite3'}"
    output = world.cli("doctor", expect=2).stdout
    assert line(output, "history database").startswith("[FAIL]")


def test_photos_matching_nobody_are_a_warning(world: World) -> None:
    """Photo names that match no user are named in a warning, which does not fail the doctor."""
    (world.photos / "NOBODY-1.jpg").write_bytes(make_portrait("NOBODY-1"))
    output = world.cli("doctor", expect=0).stdout
    assert line(output, "photo folder").startswith("[warn]")
    assert "1 matches no user: NOBODY-1.jpg" in line(output, "photo folder")


def test_json_format_lists_every_check(world: World) -> None:
    """`doctor --format json` gives each check's status and the exit code, for monitoring."""
    world.extra_env["CANVAS_API_TOKEN"] = world.sandbox.no_masquerade_token
    document = json.loads(world.cli("doctor", "--format", "json", expect=3).stdout)
    statuses = {c["name"]: c["status"] for c in document["checks"]}
    assert statuses["act as users"] == "fail" and statuses["API token"] == "pass"
    assert document["exit_code"] == 3
