"""The vars of the analyses are checked before anything runs (macros/analysis_vars.sql): a value
of the wrong kind stops `dbt compile` with a message that names the var, the value and what the
var accepts, instead of silently becoming 0 (`lots`, `10GB`), failing deep in the engine
(`window_minutes: 0`) or losing its offset. And `s3logs compile-analysis` gives the Snowflake
SQL of an analysis offline. How a good value is read (offsets, sizes with units) is checked by
result on the demo data in test_analyses.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from conftest import REPO, DbtProject, copy_project

# (analysis, vars, what the message must say)
BAD_VARS = [
    (
        "ir_delete_bursts",
        {"min_deletes": "lots"},
        "var min_deletes: got 'lots'; min_deletes accepts a whole number of at least 1",
    ),
    (
        "ir_delete_bursts",
        {"min_deletes": 2.5},
        "var min_deletes: got 2.5; min_deletes accepts a whole number",
    ),
    (
        "ir_access_denied_scans",
        {"window_minutes": 0},
        "var window_minutes: got 0; window_minutes accepts a whole number of at least 1",
    ),
    (
        "dlp_large_downloads_from_new_ips",
        {"min_bytes": "10 parsecs"},
        "var min_bytes: got '10 parsecs'; min_bytes accepts a number of bytes",
    ),
    (
        "ir_object_history",
        {"end_at": "yesterday"},
        "var end_at: got 'yesterday'; end_at accepts an ISO 8601 date or timestamp",
    ),
    (
        "ir_object_history",
        {"start_at": "2026-02-30T10:00:00"},
        "var start_at: got '2026-02-30T10:00:00'; start_at accepts an ISO 8601",
    ),
    (
        # 12:00 at +02:00 is 10:00 UTC: not before end_at
        "ir_remote_ip_activity",
        {"start_at": "2026-03-03T12:00:00+02:00", "end_at": "2026-03-03T10:00:00Z"},
        "start_at (2026-03-03 10:00:00.000000 UTC) must be before end_at"
        " (2026-03-03 10:00:00.000000 UTC)",
    ),
    (
        "ir_anonymous_access",
        {"group_by": "country"},
        "var group_by: got 'country'; group_by accepts one of: object, ip, bucket",
    ),
    (
        "ir_cross_account_access",
        {"owner_accounts": "12345"},
        "var owner_accounts: got '12345'; owner_accounts accepts AWS account ids of 12 digits",
    ),
    (
        "ir_presigned_url_usage",
        {"only_unknown_ips": "maybe"},
        "var only_unknown_ips: got 'maybe'; only_unknown_ips accepts true or false",
    ),
    (
        "ir_access_denied_scans",
        {"min_denied_share": 2},
        "var min_denied_share: got 2; min_denied_share accepts a share between 0 and 1",
    ),
    (
        "ir_object_history",
        {"bucket": ["a", "b"]},
        "var bucket: got ['a', 'b']; bucket accepts one bucket name",
    ),
]
WORKERS = 2


@pytest.fixture(scope="module")
def compile_errors(tmp_path_factory: pytest.TempPathFactory) -> dict[int, str]:
    """dbt compile of each BAD_VARS case: its output, by case index (all must fail)."""
    base = tmp_path_factory.mktemp("analysis_vars")
    projects = [copy_project(base / f"project{i}") for i in range(WORKERS)]

    def work(worker: int) -> dict[int, str]:
        out = {}
        for i in range(worker, len(BAD_VARS), WORKERS):
            name, dbt_vars, _ = BAD_VARS[i]
            done = projects[worker].dbt(
                "compile", "-s", name, "--vars", json.dumps(dbt_vars), check=False
            )
            assert done.returncode != 0, f"{name} {dbt_vars} compiled:\n{done.stdout[-2000:]}"
            out[i] = done.stdout
        return out

    results: dict[int, str] = {}
    with ThreadPoolExecutor(WORKERS) as pool:
        for done in pool.map(work, range(WORKERS)):
            results.update(done)
    return results


@pytest.mark.parametrize(
    "case", range(len(BAD_VARS)), ids=[f"{n}-{next(iter(v))}" for n, v, _ in BAD_VARS]
)
def test_a_bad_var_stops_compile_with_a_message_naming_it(
    compile_errors: dict[int, str], case: int
) -> None:
    _, _, message = BAD_VARS[case]
    assert message in compile_errors[case]
    assert "Traceback" not in compile_errors[case]


def _s3logs(project: DbtProject, *args: str, env: dict[str, str] | None = None) -> Any:
    environ = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    environ.pop("SNOWFLAKE_DATABASE", None)
    environ.pop("SNOWFLAKE_SCHEMA", None)
    return subprocess.run(
        [sys.executable, "-m", "bootstrap.cli", "compile-analysis", *args],
        cwd=project.root,
        env={**environ, **(env or {})},
        capture_output=True,
        text=True,
    )


@pytest.fixture(scope="module")
def cli_project(tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    return copy_project(tmp_path_factory.mktemp("compile_analysis") / "project")


def test_compile_analysis_prints_snowflake_sql_without_credentials(
    cli_project: DbtProject,
) -> None:
    # No SNOWFLAKE_ACCOUNT, user or password: the snowflake target could not even connect.
    done = _s3logs(
        cli_project,
        "ir_delete_bursts",
        "--vars",
        '{min_deletes: 500, end_at: "2026-01-01T19:10:00+02:00"}',
        "--database",
        "sec_db",
        env={"SNOWFLAKE_SCHEMA": "logs"},
    )
    assert done.returncode == 0, done.stderr
    sql = done.stdout
    (statement,) = sqlglot.parse(sql, read="snowflake")
    assert statement is not None
    assert "from sec_db.logs.s3_access_logs_v2" in sql
    assert "< cast('2026-01-01 17:10:00.000000' as timestamp_ntz)" in sql  # UTC, Snowflake type
    assert "having count(*) >= 500" in sql
    assert "date_diff(" not in sql  # DuckDB's spelling
    assert not (cli_project.root / "target").exists()  # the user's target/ is left alone


def test_compile_analysis_reports_a_bad_var_and_an_unknown_name(cli_project: DbtProject) -> None:
    bad = _s3logs(cli_project, "ir_delete_bursts", "--vars", "{window_minutes: 0}")
    assert bad.returncode == 1
    assert "var window_minutes: got 0; window_minutes accepts a whole number" in bad.stderr
    assert bad.stdout == ""
    unknown = _s3logs(cli_project, "ir_nothing")
    assert unknown.returncode == 2
    assert "no analysis named 'ir_nothing'" in unknown.stderr
    assert "ir_delete_bursts" in unknown.stderr  # the analyses it could have meant


def test_compile_analysis_outside_a_project_says_where_to_run_it(tmp_path: Path) -> None:
    done = _s3logs(DbtProject(root=tmp_path, database=tmp_path / "x"), "ir_delete_bursts")
    assert done.returncode == 1
    assert "holds no dbt_project.yml" in done.stderr
