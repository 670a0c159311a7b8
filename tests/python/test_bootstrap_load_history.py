"""verify reports files the pipe skipped or loaded only in part, from the load history.

COPY_HISTORY (https://docs.snowflake.com/sql-reference/functions/copy_history.html): "This
table function can be used to query Snowflake data loading history along various dimensions
within the last 14 days. The function returns load activity for both COPY INTO <table>
statements and continuous data loading using Snowpipe." Syntax: "COPY_HISTORY( TABLE_NAME =>
'<string>' , START_TIME => <constant_expr> [, END_TIME => <constant_expr> ] )", START_TIME
"within the last 14 days". Its columns (as the COPY_HISTORY view documents them,
https://docs.snowflake.com/sql-reference/account-usage/copy_history): FILE_NAME "Name of the
source file and relative path to the file", LAST_LOAD_TIME "Date and time of when the file
finished loading", ROW_COUNT "Number of rows loaded from the source file", ROW_PARSED "...
NULL if STATUS is Load in progress", FIRST_ERROR_MESSAGE "First error of the source file",
ERROR_COUNT "Number of error rows in the source file", STATUS. The statuses are spelled
"Loaded", "Load in progress", ... there and LOADED, LOAD FAILED, PARTIALLY LOADED in
LOAD_HISTORY (https://docs.snowflake.com/sql-reference/info-schema/load_history), so the
query compares UPPER(status). The recording double answers the query with the rows a test
puts in `copy_history`, filtered as the WHERE clause says; their FILE_NAME is in the same form
the double gives METADATA$FILENAME (`metadata_filename`), relative to the bucket by default.
"""

from __future__ import annotations

from bootstrap_fixtures import Deployment

from bootstrap.cloud.verify import verify

pytest_plugins = ["bootstrap_fixtures"]

CHECK = "pipe loaded every file (load history)"


def _row(
    dep: Deployment, name: str, status: str, when: str, error: str | None = None, errors: int = 0
) -> dict:
    return {
        "file_name": dep.double.metadata_filename(f"corp-data/{name}"),
        "status": status,
        "first_error_message": error,
        "error_count": errors,
        "row_count": 0 if status == "Load failed" else 10,
        "last_load_time": when,
    }


def _history(dep: Deployment, rows: list[dict]) -> None:
    sf = dep.config.snowflake
    dep.double.copy_history[f"{sf.database}.{sf.schema}.{sf.raw_table}"] = rows


def test_verify_names_the_files_that_did_not_load_and_the_first_error(
    deployment: Deployment,
) -> None:
    deployment.apply()
    error = "Invalid UTF8 detected in string '0xFF'  File 's3-logs/corp-data/2026-01-02-B'"
    _history(
        deployment,
        [
            _row(deployment, "2026-01-01-A", "Loaded", "2026-01-01 10:00:00"),
            _row(deployment, "2026-01-02-B", "Load failed", "2026-01-02 10:00:00", error, 3),
            _row(
                deployment, "2026-01-03-C", "Partially loaded", "2026-01-01 12:00:00", "bad row", 1
            ),
            _row(deployment, "2026-01-04-D", "Load in progress", "2026-01-04 10:00:00"),
        ],
    )

    check = {c.name: c for c in verify(deployment.aws, deployment.sf)}[CHECK]

    assert not check.ok
    assert check.detail == (
        "2 file(s) not fully loaded in the last 14 days (s3-logs/corp-data/2026-01-02-B, "
        "s3-logs/corp-data/2026-01-03-C); latest: Load failed, 3 error row(s), first error: "
        f"{error}"
    )
    # the object is re-staged (touched) so the pipe loads it; backfill only for old files
    assert "re-stage it: copy it to its own key again" in check.fix
    assert (
        "`s3logs bootstrap backfill` loads only files last modified more than 7 days ago "
        "(--older-than-days), so use it only for those"
    ) in check.fix
    assert "or load it with `s3logs bootstrap backfill`" not in check.fix
    sent = [s for s in deployment.connection.statements if "COPY_HISTORY" in s]
    sf = deployment.config.snowflake
    assert f"TABLE_NAME => '{sf.database}.LOGS.S3_ACCESS_LOGS_RAW'" in sent[-1]
    assert "START_TIME => DATEADD(day, -14, CURRENT_TIMESTAMP())" in sent[-1]


def test_verify_lists_the_first_few_files_and_counts_the_rest(deployment: Deployment) -> None:
    deployment.apply()
    _history(
        deployment,
        [
            _row(deployment, f"2026-01-{d:02d}-X", "Load failed", f"2026-01-{d:02d} 00:00:00", "e")
            for d in range(1, 9)
        ],
    )

    check = {c.name: c for c in verify(deployment.aws, deployment.sf)}[CHECK]

    assert check.detail.startswith("8 file(s) not fully loaded in the last 14 days (")
    assert "s3-logs/corp-data/2026-01-08-X" in check.detail  # the latest first
    assert "s3-logs/corp-data/2026-01-03-X" not in check.detail
    assert " and 3 more);" in check.detail


def test_verify_passes_when_every_file_loaded(deployment: Deployment) -> None:
    deployment.apply()
    _history(deployment, [_row(deployment, "2026-01-01-A", "Loaded", "2026-01-01 10:00:00")])

    check = {c.name: c for c in verify(deployment.aws, deployment.sf)}[CHECK]

    assert check.ok
    assert check.detail == "no skipped or partly loaded file in the last 14 days"
