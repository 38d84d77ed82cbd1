"""The README's quick start from a built wheel in a fresh virtualenv, and a true ``requires-python``.

No network: the wheel is built with the environment's setuptools (``--no-build-isolation``) and installed with
``--no-deps``; the virtualenv sees the environment's packages (``--system-site-packages``) for the dependencies.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = "Scripts" if os.name == "nt" else "bin"
VERMIN = (sys.executable, "-c", "import sys, vermin; sys.exit(vermin.main())")  # its console script's entry point


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without what would point the venv at the checkout or at a Canvas."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith(("PROFILESYNC_", "CANVAS_"))}
    return {**env, **extra}


def run(*args: str | Path, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"{args}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


@dataclass
class Installed:
    wheel: Path
    venv: Path
    site: Path  # an empty folder to run commands in, like an admin's home

    @property
    def profilesync(self) -> Path:
        return self.venv / BIN / ("profilesync.exe" if os.name == "nt" else "profilesync")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    """The wheel built from a copy of the checkout, installed into a fresh virtualenv."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    # A copy, so the build's egg-info and build/ never land in the checkout other tests read.
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "dist")
    shutil.copytree(REPO / "src", source / "src", symlinks=True, ignore=ignore)
    for name in ("pyproject.toml", "README.md", "config.example.env"):
        shutil.copy2(REPO / name, source / name)
    dist = tmp / "dist"
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "-w",
        dist,
        source,
        cwd=tmp,
    )
    (wheel,) = dist.glob("profilesync-*.whl")
    venv = tmp / "venv"
    run(sys.executable, "-m", "venv", "--system-site-packages", venv, cwd=tmp)
    python = venv / BIN / ("python.exe" if os.name == "nt" else "python")
    run(python, "-m", "pip", "install", "--no-deps", "--no-index", wheel, cwd=tmp)
    site = tmp / "site"
    site.mkdir()
    yield Installed(wheel, venv, site)


def test_wheel_ships_the_template_and_the_sandbox(installed: Installed) -> None:
    """The wheel holds the .env template (the repository's config.example.env, byte for byte), the review page's
    template and the sandbox."""
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
        template = wheel.read("profilesync/config.example.env")
    assert template == (REPO / "config.example.env").read_bytes()
    assert {"profilesync_sandbox/__init__.py", "profilesync_sandbox/samples.py", "profilesync/py.typed"} <= names
    assert "profilesync/templates/review.html.j2" in names


def test_installed_package_is_the_wheel_not_the_checkout(installed: Installed) -> None:
    """The virtualenv imports profilesync from its own site-packages (the test proves the wheel, not src/)."""
    python = installed.venv / BIN / ("python.exe" if os.name == "nt" else "python")
    where = run(python, "-c", "import profilesync; print(profilesync.__file__)", cwd=installed.site).stdout.strip()
    assert Path(where).is_relative_to(installed.venv), where


def test_quick_start_from_the_wheel(installed: Installed) -> None:
    """`profilesync --help` (and `python -m profilesync`), `init` (the template, mode 600, the recipe with this
    venv's absolute script path) and `demo` (sandbox and sample photos from the package) work from the wheel."""
    assert "init" in run(installed.profilesync, "--help", cwd=installed.site).stdout
    python = installed.venv / BIN / ("python.exe" if os.name == "nt" else "python")
    assert "profilesync, version" in run(python, "-m", "profilesync", "--version", cwd=installed.site).stdout
    init = run(installed.profilesync, "init", "--scheduler", "cron", cwd=installed.site).stdout
    env = installed.site / ".env"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600 or os.name == "nt"
    assert env.read_text().startswith("# profilesync configuration.")
    assert f"sqlite:///{(installed.site / 'history.sqlite3').as_posix()}" in env.read_text()
    assert re.search(rf"^15 2 \* \* \*  cd \S+ && {re.escape(str(installed.profilesync))} --env-file ", init, re.M)
    demo = run(installed.profilesync, "demo", "--users", "30", "--latency-ms", "0", cwd=installed.site).stdout
    assert re.search(r"^demo: the first sync set \d+ avatars; the second set none ", demo, re.M), demo


def test_requires_python_is_true() -> None:
    """vermin finds that the code needs exactly the Python that pyproject's requires-python claims; ruff and
    mypy check against that version too."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    floor = project["project"]["requires-python"].removeprefix(">=")
    result = subprocess.run(
        [*VERMIN, "--no-tips", "--eval-annotations", "--violations", f"-t={floor}-", "src"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr  # nothing needs a newer Python
    result = subprocess.run(
        [*VERMIN, "--no-tips", "--eval-annotations", "src"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    (needed,) = re.findall(r"^Minimum required versions: (\S+)$", result.stdout, re.M)
    assert needed == floor  # and the claim is no lower than what the code uses
    assert project["tool"]["ruff"]["target-version"] == "py" + floor.replace(".", "")
    assert project["tool"]["mypy"]["python_version"] == floor
