"""`doctor`'s set-up lines: which settings file it read, a token other users can read, where the history is."""

from __future__ import annotations

from pathlib import Path

from support.world import World

from .test_doctor import line as padded_line


def line(output: str, check: str) -> str:
    """The check's report line with its column padding squeezed to one space."""
    return " ".join(padded_line(output, check).split())


def env_file(world: World, path: Path, mode: int, **drop: bool) -> Path:
    """The world's settings written to ``path`` with the given POSIX mode (``drop`` leaves variables out)."""
    path.write_text("".join(f"{k}={v}\n" for k, v in world.env().items() if k not in drop))
    path.chmod(mode)
    return path


def test_doctor_names_the_env_file_it_read(world: World, tmp_path: Path) -> None:
    """With --env-file (mode 600), the first line says which file was read, with its absolute path."""
    path = env_file(world, tmp_path / "profilesync.env", 0o600)
    world.extra_env.clear()
    output = world.cli("--env-file", str(path), "doctor").stdout
    assert line(output, "settings file") == f"[ ok ] settings file read {path}"
    assert output.splitlines()[1].startswith("[ ok ] settings file")


def test_doctor_finds_dot_env_in_the_working_folder(world: World, tmp_path: Path) -> None:
    """Without --env-file, ./.env is read, and doctor says so."""
    env_file(world, tmp_path / ".env", 0o600)
    output = world.cli("doctor").stdout
    assert line(output, "settings file").endswith(f"read {tmp_path / '.env'}")


def test_doctor_says_when_no_env_file_was_found(world: World, tmp_path: Path) -> None:
    """No --env-file and no ./.env: a warning that settings come from the environment only, with advice."""
    output = world.cli("doctor").stdout
    assert line(output, "settings file").startswith("[warn] settings file no .env in ")
    assert "what to do: run 'profilesync init'" in output


def test_world_readable_env_file_with_a_token_is_flagged(world: World, tmp_path: Path) -> None:
    """A .env holding the token with mode 644 is flagged, naming who can read it and the chmod that fixes it."""
    path = env_file(world, tmp_path / "profilesync.env", 0o644)
    output = world.cli("--env-file", str(path), "doctor").stdout
    flagged = line(output, "settings file")
    assert flagged.startswith("[warn]") and "holds an API token and everyone on this machine can read it" in flagged
    assert f"what to do: chmod 600 {path}" in output
    assert world.sandbox.admin_token not in output


def test_group_readable_env_file_with_a_token_is_flagged(world: World, tmp_path: Path) -> None:
    """Mode 640 lets the file's group read the token: flagged too."""
    path = env_file(world, tmp_path / "profilesync.env", 0o640)
    output = world.cli("--env-file", str(path), "doctor").stdout
    assert "its group can read it (mode 640)" in line(output, "settings file")


def test_readable_env_file_without_a_token_is_not_flagged(world: World, tmp_path: Path) -> None:
    """A readable .env with no token in it (the token comes from the environment) is fine."""
    path = env_file(world, tmp_path / "profilesync.env", 0o644, CANVAS_API_TOKEN=True)
    output = world.cli("--env-file", str(path), "doctor").stdout
    assert line(output, "settings file").startswith("[ ok ]")


def test_doctor_prints_an_explicit_history_location(world: World, tmp_path: Path) -> None:
    """PROFILESYNC_DATABASE_URL set: doctor names it as the history every account shares."""
    output = world.cli("doctor").stdout
    assert line(output, "history location") == (
        f"[ ok ] history location {world.database_url} (PROFILESYNC_DATABASE_URL): the same for every account"
    )


def test_doctor_warns_when_the_history_is_the_os_users_default(world: World, tmp_path: Path) -> None:
    """PROFILESYNC_DATABASE_URL unset: doctor shows this OS user's default file and warns that other accounts
    (Task Scheduler as SYSTEM) keep another history."""
    data = tmp_path / "xdg-data"
    world.database_url = ""
    world.extra_env["XDG_DATA_HOME"] = str(data)  # platformdirs' per-user data folder, kept inside the test
    output = world.cli("doctor").stdout
    flagged = line(output, "history location")
    assert flagged.startswith(f"[warn] history location sqlite:///{data}/profilesync/history.sqlite3: ")
    assert "Task Scheduler as SYSTEM" in flagged
    assert "what to do: set PROFILESYNC_DATABASE_URL" in output


def test_avatars_runs_prints_the_history_location(world: World) -> None:
    """`avatars runs` starts with the history it reads, so an admin sees it is the scheduled job's."""
    world.cli("avatars", "sync")
    output = world.cli("avatars", "runs").stdout
    assert output.splitlines()[0] == f"history: {world.database_url}"
