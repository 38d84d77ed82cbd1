"""The code base stays lint-clean and type-clean (ruff, mypy --strict), checked with the tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_lint_is_clean() -> None:
    """ruff check reports nothing on src and tests."""
    result = run("ruff", "check", "src", "tests", "scripts")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean() -> None:
    """ruff format would change nothing."""
    result = run("ruff", "format", "--check", "src", "tests", "scripts")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean() -> None:
    """mypy --strict finds no type errors in src."""
    result = run("mypy", "--no-error-summary")
    assert result.returncode == 0, result.stdout + result.stderr
