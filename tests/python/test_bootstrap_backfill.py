"""`s3logs bootstrap backfill` (issue 12, item D): log files older than the pipe's refresh
window are loaded with the pipe's own COPY, by name, in batches of at most 1000, and no file can
be loaded twice. The raw table is in fakesnow; LIST and COPY are answered by the recording
double, which records every COPY's FILES list.

Snowflake behaviour relied on, which no stand-in shows:
- https://docs.snowflake.com/en/user-guide/data-load-snowpipe-manage ("Loading historic data"):
  "An ALTER PIPE ... REFRESH statement copies a set of data files staged within the previous 7
  days to the Snowpipe ingest queue ... If you want to load data from files staged earlier, we
  recommend ... Load the historic data into the target table by executing a COPY INTO <table>
  statement."
- https://docs.snowflake.com/en/sql-reference/sql/copy-into-table (FILES): "The maximum number
  of files names that can be specified is 1000." and "For external stages only ..., the file
  path is set by concatenating the URL in the stage definition and the list of resolved file
  names." (so FILES takes names relative to the stage URL, as METADATA$FILENAME gives them:
  https://docs.snowflake.com/en/user-guide/querying-metadata shows data1.csv.gz for @mystage1).
- the same page (ON_ERROR): "Default: Bulk loading using COPY: ABORT_STATEMENT; Snowpipe:
  SKIP_FILE" - the backfill says SKIP_FILE, as the pipe does.
- https://docs.snowflake.com/en/user-guide/data-load-snowpipe-intro ("Load history"): bulk loads
  are "Stored in the metadata of the target table for 64 days", Snowpipe's "in the metadata of
  the pipe for 14 days", and "To avoid reloading files (and duplicating data), we recommend
  loading data from a specific set of files using either bulk data loading or Snowpipe but not
  both." - hence the backfill excludes by the names in the raw table, not by COPY's own memory.
- LIST's last_modified is text like 'Tue, 9 Jan 2018 15:31:44 GMT' and its name the file's full
  URL (https://docs.snowflake.com/en/user-guide/tutorials/snowflake-in-20minutes).
- METADATA$FILENAME: "Name of the staged data file the current row belongs to. Includes the
  full path to the data file." (https://docs.snowflake.com/en/user-guide/querying-metadata).
  Whether that path is relative to an external stage's URL or to the bucket (prefix included)
  is not said for a stage with a URL prefix, so the backfill treats a file as loaded when
  either form is in the raw table, and the tests run with the double set to each form.
- COPY INTO <table>, LOAD_UNCERTAIN_FILES
  (https://docs.snowflake.com/en/sql-reference/sql/copy-into-table): "Boolean that specifies
  to load files for which the load status is unknown. The COPY command skips these files by
  default." The load status is unknown when the file's LAST_MODIFIED date is older than 64
  days, the initial set of data was loaded into the table more than 64 days earlier, and any
  earlier successful load of it was more than 64 days earlier (same page, "Loading older
  files" in https://docs.snowflake.com/en/user-guide/data-load-considerations-load). The
  stored copy of the docs could not be searched for these sentences; they are quoted as the
  page words them. COPY returns no row for a file it leaves out this way, and only "Copy
  executed with 0 files processed." when it leaves out every file; the double does the same.
- The quickstart's pipe was created, then refreshed once (ALTER PIPE ... REFRESH, which reaches
  back 7 days); so the quickstart loaded no file modified more than 7 days before its first
  load, and files older than that are backfilled.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from bootstrap_fixtures import Deployment
from click.testing import CliRunner
from test_bootstrap_adoption import _make_quickstart

from bootstrap.cloud import cli as cloud_cli
from bootstrap.cloud import plan
from bootstrap.cloud.backfill import parse_timestamp, plan_backfill, run_backfill
from bootstrap.cloud.snowflake import SnowflakeSetupError

pytest_plugins = ["bootstrap_fixtures"]

NOW = datetime(2026, 2, 1, 12, 0, tzinfo=timezone.utc)
OLD = datetime(2026, 1, 10, tzinfo=timezone.utc)


def _stage(dep: Deployment, files: dict[str, datetime]) -> None:
    dep.double.stage_files = list(files)
    dep.double.stage_modified = dict(files)


def _old_files(count: int, folder: str = "corp-data") -> dict[str, datetime]:
    return {
        f"{folder}/2026-01-10-00-00-00-{i:05d}": OLD + timedelta(minutes=i) for i in range(count)
    }


def _mark_loaded(dep: Deployment, names: list[str]) -> None:
    """Rows as the pipe or a COPY would have loaded them: file_name is METADATA$FILENAME."""
    sf = dep.config.snowflake
    values = ", ".join(
        f"('line', '{dep.double.metadata_filename(name)}', 1, '2026-01-10 00:00:00', "
        "'2026-01-10T00:05:00+00:00')"
        for name in names
    )
    dep.connection.fakesnow.execute(f"INSERT INTO {sf.qualified(sf.raw_table)} VALUES {values}")


@pytest.fixture
def applied(deployment: Deployment) -> Deployment:
    deployment.apply()
    deployment.double.refreshes.clear()
    return deployment


def test_backfill_loads_older_files_not_yet_loaded_in_batches_of_at_most_1000(
    applied: Deployment,
) -> None:
    sf = applied.config.snowflake
    old = _old_files(2503)
    recent = {"corp-data/2026-01-30-00-00-00-RECENT": NOW - timedelta(days=2)}
    _stage(applied, {**old, **recent})
    loaded = ["corp-data/2026-01-10-00-00-00-00007", "corp-data/2026-01-10-00-00-00-02000"]
    _mark_loaded(applied, loaded)
    said: list[str] = []

    result = run_backfill(applied.sf, said.append, now=NOW)

    expected = [name for name in old if name not in loaded]  # in last-modified order
    assert applied.double.copies == [expected[:1000], expected[1000:2000], expected[2000:]]
    assert [len(batch) for batch in applied.double.copies] == [1000, 1000, 501]
    copies = [s for s in applied.connection.statements if s.startswith("COPY INTO")]
    assert copies == [plan.copy_files_sql(sf, batch) for batch in applied.double.copies]
    for statement in copies:  # the pipe's exact SELECT and file format
        assert plan.pipe_select_sql(sf) in statement
        assert plan.file_format_clause(sf) in statement
        assert statement.endswith("ON_ERROR = SKIP_FILE\n  LOAD_UNCERTAIN_FILES = TRUE")
    assert result.files_loaded == 2501 and result.batches == 3
    assert said[0] == (
        "2504 file(s) in the stage: 1 modified since 2026-01-25 12:00:00 UTC (the pipe's "
        "refresh window), 2 already in the raw table; 2501 to load"
    )
    assert said[1:4] == [
        "batch 1/3: 1000 file(s): 1000 loaded (3000 row(s)), 0 skipped for errors",
        "batch 2/3: 1000 file(s): 1000 loaded (3000 row(s)), 0 skipped for errors",
        "batch 3/3: 501 file(s): 501 loaded (1503 row(s)), 0 skipped for errors",
    ]
    assert said[-1] == (
        "backfill finished: 2501 file(s) loaded (7503 row(s)) in 3 batch(es), 0 skipped for "
        "errors, 0 not loaded by COPY"
    )


def test_backfill_leaves_out_files_the_quickstart_loaded(deployment: Deployment) -> None:
    _make_quickstart(deployment)  # adopted rows: 2026-01-01 18:00 to 2026-01-03 20:45 UTC
    deployment.apply()
    files = {
        "corp-data/2026-01-02-AAAA": datetime(2026, 1, 2, tzinfo=timezone.utc),
        "corp-data/2026-01-03-BBBB": datetime(2026, 1, 3, 20, 45, tzinfo=timezone.utc),
        "corp-data/2026-01-03-CCCC": datetime(2026, 1, 3, 20, 46, tzinfo=timezone.utc),
        "corp-data/2026-01-20-DDDD": datetime(2026, 1, 20, tzinfo=timezone.utc),
    }
    _stage(deployment, files)
    said: list[str] = []

    run_backfill(deployment.sf, said.append, now=NOW)

    assert deployment.double.copies == [["corp-data/2026-01-03-CCCC", "corp-data/2026-01-20-DDDD"]]
    assert (
        "2 modified between 2025-12-25 18:00:00 UTC (7 days before the quickstart's first load) "
        "and 2026-01-03 20:45:00 UTC (its latest adopted row), loaded by the quickstart"
    ) in said[0]


def test_history_older_than_the_quickstarts_reach_is_backfilled(deployment: Deployment) -> None:
    # Item E: the quickstart's first adopted row is 2026-01-01 18:00 UTC; its initial refresh
    # reached back to 2025-12-25 18:00 UTC, and nothing older was ever loaded.
    _make_quickstart(deployment)
    deployment.apply()
    _stage(
        deployment,
        {
            "corp-data/2025-11-01-OLD": datetime(2025, 11, 1, tzinfo=timezone.utc),
            "corp-data/2025-12-25-EDGE": datetime(2025, 12, 25, 17, 59, tzinfo=timezone.utc),
            "corp-data/2025-12-26-QUICK": datetime(2025, 12, 26, tzinfo=timezone.utc),
        },
    )

    chosen = plan_backfill(deployment.sf, now=NOW)

    assert [f.name for f in chosen.to_load] == [
        "corp-data/2025-11-01-OLD",
        "corp-data/2025-12-25-EDGE",
    ]
    assert chosen.adopted_period == 1
    assert chosen.adopted_from == datetime(2025, 12, 25, 18, tzinfo=timezone.utc)


@pytest.mark.parametrize("form", ["stage", "bucket"])
def test_a_file_is_loaded_already_whichever_form_metadata_filename_has(
    applied: Deployment, form: str
) -> None:
    # Item A: METADATA$FILENAME relative to the stage URL, or to the bucket (prefix included).
    applied.double.filename_form = form
    files = _old_files(3)
    _stage(applied, files)
    _mark_loaded(applied, ["corp-data/2026-01-10-00-00-00-00001"])
    said: list[str] = []

    run_backfill(applied.sf, said.append, now=NOW)

    assert applied.double.copies == [
        ["corp-data/2026-01-10-00-00-00-00000", "corp-data/2026-01-10-00-00-00-00002"]
    ]
    assert "1 already in the raw table; 2 to load" in said[0]


def test_files_of_uncertain_load_status_are_loaded_and_files_copy_leaves_out_are_named(
    applied: Deployment,
) -> None:
    # Item B: COPY skips, without a row of output, files older than 64 days of unknown load
    # status unless LOAD_UNCERTAIN_FILES = TRUE; and any file it leaves out is reported by name,
    # not counted as loaded.
    files = _old_files(4)
    _stage(applied, files)
    names = list(files)
    applied.double.uncertain_files = {names[0], names[1]}
    applied.double.copy_loaded_before = {names[3]}
    said: list[str] = []

    result = run_backfill(applied.sf, said.append, now=NOW)

    assert result.files_loaded == 3
    assert result.files_skipped_by_copy == [names[3]]
    assert f"  not loaded by COPY (no result for it): {names[3]}" in said
    assert "batch 1/1: 4 file(s): 3 loaded (9 row(s)), 0 skipped for errors, 1 not loaded" in (
        "\n".join(said)
    )
    assert said[-1].startswith(
        "backfill finished: 3 file(s) loaded (9 row(s)) in 1 batch(es), 0 skipped for errors, "
        f"1 not loaded by COPY ({names[3]}; COPY returned no result for them"
    )


def test_a_batch_copy_leaves_out_entirely_is_reported_file_by_file(applied: Deployment) -> None:
    files = _old_files(2)
    _stage(applied, files)
    applied.double.copy_loaded_before = set(files)
    said: list[str] = []

    result = run_backfill(applied.sf, said.append, now=NOW)

    assert result.files_loaded == 0
    assert result.files_skipped_by_copy == list(files)
    assert "2 not loaded by COPY (" in said[-1]


def test_dry_run_lists_what_it_would_load_and_loads_nothing(applied: Deployment) -> None:
    _stage(applied, _old_files(3))
    said: list[str] = []

    run_backfill(applied.sf, said.append, now=NOW, dry_run=True, batch_size=2)

    assert applied.double.copies == []
    assert not [s for s in applied.connection.statements if s.startswith("COPY")]
    assert said[1:] == [
        "batch 1/2: would load 2 file(s)",
        "  corp-data/2026-01-10-00-00-00-00000",
        "  corp-data/2026-01-10-00-00-00-00001",
        "batch 2/2: would load 1 file(s)",
        "  corp-data/2026-01-10-00-00-00-00002",
        "dry run: nothing was loaded (3 file(s) would be)",
    ]


def test_a_second_backfill_loads_nothing_again(applied: Deployment) -> None:
    _stage(applied, _old_files(5))
    run_backfill(applied.sf, lambda _: None, now=NOW)
    # what the COPY put in the raw table
    _mark_loaded(applied, applied.double.copies[0])

    said: list[str] = []
    run_backfill(applied.sf, said.append, now=NOW)

    assert len(applied.double.copies) == 1
    assert "5 already in the raw table; 0 to load" in said[0]


def test_cutoff_is_a_parameter_and_files_within_it_are_left_to_the_pipe(
    applied: Deployment,
) -> None:
    _stage(
        applied,
        {
            "corp-data/a": NOW - timedelta(days=20),
            "corp-data/b": NOW - timedelta(days=10),
            "corp-data/c": NOW - timedelta(days=6, hours=23),
        },
    )

    default = plan_backfill(applied.sf, now=NOW)
    longer = plan_backfill(applied.sf, now=NOW, older_than=timedelta(days=14))

    assert [f.name for f in default.to_load] == ["corp-data/a", "corp-data/b"]
    assert default.recent == 1
    assert [f.name for f in longer.to_load] == ["corp-data/a"]


def test_backfill_refuses_while_the_pipe_has_pending_files(applied: Deployment) -> None:
    _stage(applied, _old_files(2))
    applied.double.pending_files = 4

    with pytest.raises(SnowflakeSetupError, match="4 pending file"):
        run_backfill(applied.sf, lambda _: None, now=NOW)

    assert applied.double.copies == []


def test_files_copy_skips_for_errors_are_reported(applied: Deployment) -> None:
    _stage(applied, _old_files(3))
    bad = "corp-data/2026-01-10-00-00-00-00001"
    applied.double.copy_failures[bad] = "Invalid UTF8 detected in string"
    said: list[str] = []

    result = run_backfill(applied.sf, said.append, now=NOW)

    assert result.files_loaded == 2
    assert [name for name, _ in result.files_failed] == [applied.config.aws.stage_url + bad]
    assert any(line.startswith("  skipped s3://") and "Invalid UTF8" in line for line in said)
    assert "1 skipped for errors" in said[-1]


def test_backfill_needs_apply_first(deployment: Deployment) -> None:
    with pytest.raises(SnowflakeSetupError, match="run `s3logs bootstrap apply` first"):
        run_backfill(deployment.sf, lambda _: None, now=NOW)


def test_list_last_modified_text_is_read_as_utc() -> None:
    assert parse_timestamp("Tue, 9 Jan 2018 15:31:44 GMT") == datetime(
        2018, 1, 9, 15, 31, 44, tzinfo=timezone.utc
    )
    assert parse_timestamp(datetime(2018, 1, 9)) == datetime(2018, 1, 9, tzinfo=timezone.utc)


def _config_file(applied: Deployment, tmp_path: Path) -> Path:
    """The deployment's config as a TOML file, for the CLI."""
    aws, sf = applied.config.aws, applied.config.snowflake
    path = tmp_path / "bootstrap.toml"
    path.write_text(
        "[aws]\n"
        f'account_id = "{aws.account_id}"\nregion = "{aws.region}"\n'
        f'log_bucket = "{aws.log_bucket}"\nlog_prefix = "{aws.log_prefix}"\n'
        f'role_name = "{aws.role_name}"\n'
        f'[snowflake]\ndatabase = "{sf.database}"\nschema = "{sf.schema}"\n'
    )
    return path


def test_cli_backfill_dry_run_and_help(applied: Deployment, tmp_path: Path) -> None:
    path = _config_file(applied, tmp_path)
    _stage(applied, _old_files(2))
    runner = CliRunner()

    helped = runner.invoke(cloud_cli.bootstrap, ["backfill", "--help"])
    dry = runner.invoke(
        cloud_cli.bootstrap,
        ["backfill", "-c", str(path), "--dry-run"],
        obj={"snowflake_connection": applied.connection, "now": NOW},
    )
    too_soon = runner.invoke(
        cloud_cli.bootstrap, ["backfill", "-c", str(path), "--older-than-days", "3"]
    )

    assert helped.exit_code == 0
    for text in ("--dry-run", "--older-than-days", "1000", "S3LOGS_BOOTSTRAP_CONFIG"):
        assert text in helped.output
    assert dry.exit_code == 0, dry.output
    assert "would load 2 file(s)" in dry.output and applied.double.copies == []
    assert too_soon.exit_code == 2 and "x>=7" in too_soon.output


def test_cli_backfill_exits_1_when_a_file_did_not_load(applied: Deployment, tmp_path: Path) -> None:
    path = _config_file(applied, tmp_path)
    _stage(applied, _old_files(3))
    applied.double.copy_failures["corp-data/2026-01-10-00-00-00-00001"] = "Invalid UTF8"

    ran = CliRunner().invoke(
        cloud_cli.bootstrap,
        ["backfill", "-c", str(path)],
        obj={"snowflake_connection": applied.connection, "now": NOW},
    )

    assert ran.exit_code == 1, ran.output
    assert "Invalid UTF8" in ran.output and "Traceback" not in ran.output
