"""The layers hold: import-linter's contracts in pyproject.toml pass, and the engine loads without its adapters."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# This checkout's code, whichever copy of the package is installed.
PATHS = [str(ROOT / "src"), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(PATHS)}


def lint_imports() -> str:
    """The lint-imports script installed beside this interpreter (or on PATH)."""
    found = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert found is not None, "lint-imports is not installed: pip install -e '.[test]'"
    return found


def test_import_contracts_are_kept() -> None:
    """lint-imports finds every contract of pyproject.toml kept (layers, the engine's and the sandbox's)."""
    result = subprocess.run(
        [lint_imports(), "--no-cache", "--no-logo"], cwd=ROOT, env=ENV, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_engine_imports_without_sql_http_or_imaging() -> None:
    """Importing the planner and the executor loads neither SQLAlchemy, requests nor Pillow."""
    code = (
        "import sys, profilesync.engine.executor, profilesync.engine.planner, profilesync.engine.recognise\n"
        "print(sorted(m for m in ('sqlalchemy', 'requests', 'PIL') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
