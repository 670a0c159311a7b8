"""Shared helpers for the tests that run the dbt project for real (DuckDB) or compile it
(fakesnow). Each test gets its own copy of the project in a temp folder, so runs never share
target/, logs/ or the DuckDB file with each other or with a developer's `make demo`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest

REPO = Path(__file__).resolve().parents[2]
DBT = str(Path(sys.executable).with_name("dbt"))
PROJECT_PARTS = ("dbt_project.yml", "profiles.yml", "models", "macros", "seeds", "analyses")


@dataclass
class DbtProject:
    """A copy of the dbt project with its own DuckDB file."""

    root: Path
    database: Path
    env: dict[str, str] = field(default_factory=dict)

    def dbt(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [DBT, *args, "--project-dir", str(self.root), "--profiles-dir", str(self.root)]
        env = {**os.environ, "S3LOGS_DUCKDB": str(self.database), **self.env}
        env.pop("S3LOGS_TARGET", None)
        result = subprocess.run(cmd, cwd=self.root, env=env, capture_output=True, text=True)
        if check and result.returncode != 0:
            raise AssertionError(f"dbt {' '.join(args)} failed:\n{result.stdout[-6000:]}")
        return result

    def query(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(self.database), read_only=True) as con:
            return con.execute(sql).fetchall()


def copy_project(destination: Path) -> DbtProject:
    """Copy the dbt project (symlinked parser source resolved to a real file)."""
    destination.mkdir(parents=True, exist_ok=True)
    for part in PROJECT_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, destination / part, symlinks=False)
        elif source.exists():
            shutil.copy(source, destination / part)
    tests = destination / "tests"
    tests.mkdir()
    for path in (REPO / "tests").iterdir():
        if path.suffix in (".sql", ".yml"):  # singular tests and their properties
            shutil.copy(path, tests / path.name)
    return DbtProject(root=destination, database=destination / "s3logs.duckdb")


PUBLIC_MODELS = (
    "s3_access_logs_v2",
    "s3_access_logs_v1",
    "s3_access_logs",
    "s3_access_logs_quarantine",
)


def snapshot_public(project: DbtProject) -> dict[str, list[tuple]]:
    """Every row of the public models, in key order: what two builds must agree on."""
    return {
        name: project.query(f"select * from {name} order by file_name, file_row_number")
        for name in PUBLIC_MODELS
    }


def log_objects(folder: Path) -> list[Path]:
    """The log objects under `folder` (what the loader would load), in name order."""
    from bootstrap.loader import is_log_object

    return sorted(p for p in folder.rglob("*") if p.is_file() and is_log_object(str(p)))


def copy_objects(objects: list[Path], source: Path, landing: Path) -> None:
    """Deliver `objects` (files under `source`) to `landing`, keeping their relative keys."""
    for path in objects:
        target = landing / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)


PARSER_CACHES = (
    "_TAILS",
    "_REQUESTERS",
    "_OPERATIONS",
    "_TIME_CACHE",
    "_MINUTE_CACHE",
    "_UTC_MINUTES",
)


def clear_parser_caches() -> None:
    """Empty the caches `bootstrap.parser` fills as it parses (fields after the host id,
    requesters, operations, times)."""
    from bootstrap import parser

    for name in PARSER_CACHES:
        getattr(parser, name).clear()


@pytest.fixture(autouse=True)
def _cold_parser_caches() -> None:
    """Each test starts with the parser's caches empty, so what it checks never depends on the
    lines earlier tests parsed in the same process. This matters most under `make mutation`:
    mutmut runs every test once in its own process and then forks that process for each mutant,
    so without this a mutant of `_operation`, `_requester`, `_tail_values` or `_time` would
    find every value the tests use already cached, correctly, and never run (docs/testing.md)."""
    clear_parser_caches()


@pytest.fixture
def dbt_project(tmp_path: Path) -> DbtProject:
    return copy_project(tmp_path / "project")


@pytest.fixture(scope="session")
def fakesnow_kwargs() -> Iterator[dict[str, Any]]:
    """One fakesnow server on loopback for the whole session: connection kwargs.

    Session-wide because `fakesnow.server()` can be called only once per process: it imports
    its submodule `fakesnow.server`, which then shadows the function.
    """
    import fakesnow

    with fakesnow.server() as kwargs:
        yield kwargs
