"""The repository passes its own linters, so CI (which runs pytest) enforces what `make lint`
checks: sqlfluff with the repo's .sqlfluff / .sqlfluffignore, and ruff with pyproject.toml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# The paths `make lint` gives each linter; a folder not in git yet (no analyses) is skipped.
SQL_PATHS = [name for name in ("models", "analyses", "macros", "tests") if (REPO / name).is_dir()]
PYTHON_PATHS = ["bootstrap", "tests"]

# Both linters take a few seconds on this repo; a hang (e.g. a pathological template) fails fast
# instead of holding the suite until the global timeout.
pytestmark = pytest.mark.timeout(180)


def run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)


def report(result: subprocess.CompletedProcess[str]) -> str:
    return f"{' '.join(result.args)} exited {result.returncode}:\n{result.stdout}{result.stderr}"


def test_sql_passes_sqlfluff_with_the_repo_config() -> None:
    result = run(str(BIN / "sqlfluff"), "lint", "--nocolor", *SQL_PATHS)
    assert result.returncode == 0, report(result)


def test_python_passes_ruff_check() -> None:
    result = run(str(BIN / "ruff"), "check", "--no-cache", *PYTHON_PATHS)
    assert result.returncode == 0, report(result)


def test_python_is_ruff_formatted() -> None:
    result = run(str(BIN / "ruff"), "format", "--check", "--no-cache", *PYTHON_PATHS)
    assert result.returncode == 0, report(result)
