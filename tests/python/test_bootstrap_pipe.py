"""The pipe and its file format (issue 12, item A): the COPY names the file format and fills
loaded_at from METADATA$START_SCAN_TIME; the file format keeps every line as text; an existing
file format or pipe that would read lines differently is brought in line or refused before any
change; the raw table is permanent; bootstrap's session runs in UTC."""

from __future__ import annotations

import re
from typing import Any

import pytest
from bootstrap_fixtures import Deployment, base_config, make_config, writes

from bootstrap.cloud import plan
from bootstrap.cloud.config import MARKER
from bootstrap.cloud.preflight import PreflightError
from bootstrap.cloud.snowflake import (
    ConnectorConnection,
    SnowflakeSetupError,
    connect_from_env,
    normalise_sql,
)
from bootstrap.cloud.verify import verify

pytest_plugins = ["bootstrap_fixtures"]


# The pipe an earlier version of bootstrap created: no FILE_FORMAT of its own (it relied on the
# stage's) and CURRENT_TIMESTAMP() for loaded_at.
OLD_PIPE_COPY = (
    "COPY INTO {raw} (raw, file_name, file_row_number, file_last_modified, loaded_at)\n"
    "  FROM (\n"
    "    SELECT $1, METADATA$FILENAME, METADATA$FILE_ROW_NUMBER,\n"
    "           METADATA$FILE_LAST_MODIFIED, CURRENT_TIMESTAMP()\n"
    "    FROM @{stage}\n"
    "  )"
)
OLD_FILE_FORMAT_OPTIONS = (
    "TYPE = 'CSV' FIELD_DELIMITER = NONE SKIP_BLANK_LINES = TRUE ESCAPE_UNENCLOSED_FIELD = NONE"
)


def test_pipe_copy_names_its_file_format_and_loads_at_the_scan_time() -> None:
    # https://docs.snowflake.com/en/sql-reference/sql/create-pipe (copy_statement note): "We
    # currently do not recommend using the following functions in the copy_statement for
    # Snowpipe: ... CURRENT_TIMESTAMP ... the time values inserted using these functions can be a
    # few hours earlier than the LOAD_TIME values returned by the COPY_HISTORY function ... We
    # recommend that you query METADATA$START_SCAN_TIME instead".
    # https://docs.snowflake.com/en/user-guide/querying-metadata: "METADATA$START_SCAN_TIME:
    # Start timestamp of operation for each record in the staged data file. Returned as
    # TIMESTAMP_LTZ." https://docs.snowflake.com/en/sql-reference/sql/copy-into-table:
    # "FORMAT_NAME = 'file_format_name': Specifies an existing named file format to use for
    # loading data into the table."
    sf = make_config(base_config(snowflake={"database": "SECURITY"})).snowflake

    sql = plan.create_pipe_sql(sf)

    assert "CURRENT_TIMESTAMP" not in sql
    assert "METADATA$FILE_LAST_MODIFIED, METADATA$START_SCAN_TIME" in sql
    assert sql.endswith(
        'FILE_FORMAT = (FORMAT_NAME = \'"SECURITY"."LOGS"."S3_ACCESS_LOGS_TEXT_FORMAT"\')'
    )
    assert plan.pipe_copy_sql(sf) in sql


def test_file_format_replaces_invalid_utf8_and_never_reads_a_line_as_null() -> None:
    # https://docs.snowflake.com/en/sql-reference/sql/copy-into-table (TYPE = CSV):
    # "REPLACE_INVALID_CHARACTERS ... If set to TRUE, Snowflake replaces invalid UTF-8 characters
    # with the Unicode replacement character. If set to FALSE, the load operation produces an
    # error when invalid UTF-8 character encoding is detected. Default: FALSE" and "NULL_IF ...
    # Snowflake replaces these strings in the data load source with SQL NULL ... Default: \N".
    sql = plan.create_file_format_sql(make_config(base_config()).snowflake)

    assert "REPLACE_INVALID_CHARACTERS = TRUE" in sql
    assert "NULL_IF = ()" in sql
    assert "FIELD_DELIMITER = NONE" in sql and "ESCAPE_UNENCLOSED_FIELD = NONE" in sql


def test_apply_brings_its_own_file_format_in_line(deployment: Deployment) -> None:
    # DESC FILE FORMAT's rows (property, property_value: TRUE/FALSE, [] for an empty NULL_IF) are
    # those of https://docs.snowflake.com/en/sql-reference/sql/desc-file-format; "ALTER FILE
    # FORMAT [ IF EXISTS ] <name> SET { [ formatTypeOptions ] ... }" is the syntax of
    # https://docs.snowflake.com/en/sql-reference/sql/alter-file-format
    sf = deployment.config.snowflake
    old = (
        f"CREATE FILE FORMAT IF NOT EXISTS {sf.qualified(sf.file_format)} "
        f"{OLD_FILE_FORMAT_OPTIONS} COMMENT = '{MARKER}'"
    )
    deployment.double.execute(old)

    results = {r.title: r.outcome for r in deployment.apply()}

    assert results["file format"].startswith("updated")
    alters = [s for s in deployment.connection.statements if s.startswith("ALTER FILE FORMAT")]
    assert alters == [plan.alter_file_format_sql(sf, ["REPLACE_INVALID_CHARACTERS", "NULL_IF"])]
    assert alters[0].endswith("REPLACE_INVALID_CHARACTERS = TRUE\n  NULL_IF = ()")
    assert deployment.sf.file_format_differences() == []
    before = len(deployment.connection.statements)
    again = {r.title: r.outcome for r in deployment.apply()}
    assert again["file format"] == "unchanged"
    assert not [s for s in deployment.connection.statements[before:] if s.startswith("ALTER FILE")]


def test_apply_refuses_a_file_format_it_did_not_create_that_reads_lines_differently(
    deployment: Deployment,
) -> None:
    sf = deployment.config.snowflake
    deployment.double.execute(
        f"CREATE FILE FORMAT IF NOT EXISTS {sf.qualified(sf.file_format)} "
        f"{OLD_FILE_FORMAT_OPTIONS} COMMENT = 'made by hand'"
    )

    with pytest.raises(SnowflakeSetupError, match="REPLACE_INVALID_CHARACTERS, NULL_IF") as exc:
        deployment.apply()

    assert "Nothing was changed" in str(exc.value)
    assert writes(deployment.connection.statements) == []
    # refused before the AWS side changed either
    assert "LoggingEnabled" not in deployment.clients["s3"].get_bucket_logging(Bucket="corp-data")


# Item G: every option of DESC FILE FORMAT that changes how a line is read is compared, against
# apply's value or Snowflake's default (CREATE FILE FORMAT, formatTypeOptions for CSV:
# https://docs.snowflake.com/en/sql-reference/sql/create-file-format; DESC FILE FORMAT's rows and
# their default values are those of the example at
# https://docs.snowflake.com/en/sql-reference/sql/desc-file-format).
@pytest.mark.parametrize(
    "option",
    [
        "TRIM_SPACE = TRUE",
        "SKIP_HEADER = 1",
        "RECORD_DELIMITER = '\\r\\n'",
        "ENCODING = 'ISO-8859-1'",
        "COMPRESSION = GZIP",
        "FIELD_OPTIONALLY_ENCLOSED_BY = '\"'",
        "ESCAPE = '\\\\'",
        "EMPTY_FIELD_AS_NULL = FALSE",
    ],
)
def test_a_foreign_file_format_differing_in_any_read_option_is_refused(
    deployment: Deployment, option: str
) -> None:
    sf = deployment.config.snowflake
    apply_s = " ".join(f"{name} = {sql}" for name, sql, _ in plan.FILE_FORMAT_OPTIONS)
    deployment.double.execute(
        f"CREATE FILE FORMAT IF NOT EXISTS {sf.qualified(sf.file_format)} TYPE = 'CSV' "
        f"{apply_s} {option} COMMENT = 'made by hand'"
    )
    name = option.split(" = ")[0]

    with pytest.raises(SnowflakeSetupError, match=f"differs in {name};"):
        deployment.apply()

    assert writes(deployment.connection.statements) == []


def test_a_foreign_file_format_with_apply_s_options_and_the_defaults_is_reused(
    deployment: Deployment,
) -> None:
    sf = deployment.config.snowflake
    apply_s = " ".join(f"{name} = {sql}" for name, sql, _ in plan.FILE_FORMAT_OPTIONS)
    deployment.double.execute(
        f"CREATE FILE FORMAT IF NOT EXISTS {sf.qualified(sf.file_format)} TYPE = 'CSV' "
        f"{apply_s} COMMENT = 'made by hand'"
    )

    results = {r.title: r.outcome for r in deployment.apply()}

    assert results["file format"] == "unchanged"


def test_apply_sets_its_own_file_format_back_to_the_defaults_it_relies_on(
    deployment: Deployment,
) -> None:
    sf = deployment.config.snowflake
    deployment.double.execute(plan.create_file_format_sql(sf))
    deployment.double.execute(
        f"ALTER FILE FORMAT {sf.qualified(sf.file_format)} SET SKIP_HEADER = 1 TRIM_SPACE = TRUE"
    )

    results = {r.title: r.outcome for r in deployment.apply()}

    assert results["file format"] == "updated (SKIP_HEADER, TRIM_SPACE set as apply creates them)"
    alters = [s for s in deployment.connection.statements if s.startswith("ALTER FILE FORMAT")]
    assert alters[-1].endswith("SET\n  SKIP_HEADER = 0\n  TRIM_SPACE = FALSE")
    assert deployment.sf.file_format_differences() == []


def test_apply_stops_before_any_change_when_the_pipe_is_defined_differently(
    deployment: Deployment,
) -> None:
    # A re-created pipe loses its load history, and a later REFRESH could load files twice:
    # https://docs.snowflake.com/en/user-guide/data-load-snowpipe-manage ("Load history"): "When a
    # pipe is recreated, the load history is dropped. ... [executing] an ALTER PIPE ... REFRESH
    # statement on the pipe ... could load duplicate data from staged files in the storage
    # location for the pipe if the data was already loaded successfully". SHOW PIPES shows the
    # COPY as `definition`: https://docs.snowflake.com/en/sql-reference/sql/create-pipe ("This
    # statement serves as the text/definition for the pipe and is displayed in the SHOW PIPES
    # output").
    sf = deployment.config.snowflake
    old_copy = OLD_PIPE_COPY.format(raw=sf.qualified(sf.raw_table), stage=sf.qualified(sf.stage))
    deployment.double.execute(
        f"CREATE PIPE IF NOT EXISTS {sf.qualified(sf.pipe)} AUTO_INGEST = TRUE "
        f"COMMENT = '{MARKER}' AS {old_copy}"
    )

    with pytest.raises(SnowflakeSetupError) as exc:
        deployment.apply()

    message = str(exc.value)
    assert "its COPY differs" in message
    assert "lacks METADATA$START_SCAN_TIME; FILE_FORMAT = (FORMAT_NAME" in message
    assert "CURRENT_TIMESTAMP()" in message  # the existing definition is shown
    assert "load history" in message and "loaded twice" in message
    assert f"DROP PIPE {sf.qualified(sf.pipe)}" in message
    assert "docs/bootstrap.md" in message
    assert writes(deployment.connection.statements) == []
    assert "LoggingEnabled" not in deployment.clients["s3"].get_bucket_logging(Bucket="corp-data")
    assert "CURRENT_TIMESTAMP()" in deployment.sf.pipe()["definition"]


def test_a_pipe_defined_the_same_way_in_other_spacing_and_case_is_kept(
    deployment: Deployment,
) -> None:
    sf = deployment.config.snowflake
    same = " ".join(plan.pipe_copy_sql(sf).split()).replace("COPY INTO", "copy into")
    deployment.double.execute(
        f"CREATE PIPE IF NOT EXISTS {sf.qualified(sf.pipe)} AUTO_INGEST = TRUE "
        f"COMMENT = '{MARKER}' AS {same};"
    )

    results = {r.title: r.outcome for r in deployment.apply()}

    assert results["auto-ingest pipe"] == "unchanged"


def test_definitions_compare_case_sensitively_inside_quotes_only() -> None:
    assert normalise_sql('copy into "Db"."T"  (a,b)\n FROM ( select 1 )') == normalise_sql(
        'COPY INTO "Db"."T" ( A , B ) from (SELECT 1);'
    )
    assert normalise_sql('COPY INTO "Db"."T"') != normalise_sql('COPY INTO "DB"."T"')
    assert normalise_sql("FORMAT_NAME = 'a'") != normalise_sql("FORMAT_NAME = 'A'")


def test_reused_stage_is_reported_with_its_own_file_format_which_the_pipe_does_not_use(
    deployment: Deployment,
) -> None:
    # DESC STAGE's columns (parent_property, property, property_value; STAGE_FILE_FORMAT rows):
    # https://docs.snowflake.com/en/sql-reference/sql/desc-stage
    config = deployment.config
    sf = config.snowflake
    deployment.double.add_stage(
        sf.database, sf.schema, sf.stage, config.aws.stage_url, sf.integration
    )

    results = {r.title: r.outcome for r in deployment.apply()}

    assert results["external stage"] == (
        "unchanged (its own inline file format (TYPE = CSV) is not used: the pipe names "
        f"{sf.qualified(sf.file_format)})"
    )
    assert not [s for s in deployment.connection.statements if s.startswith("CREATE STAGE")]


def test_raw_table_is_permanent_with_the_landing_types(deployment: Deployment) -> None:
    sf = deployment.config.snowflake
    for sql in (plan.create_table_sql(sf), plan.adopt_quickstart_sql(sf, "UTC")):
        assert re.match(r"CREATE TABLE\b", sql), sql
        assert "TRANSIENT" not in sql.upper() and "TEMPORARY" not in sql.upper()
        assert "file_last_modified TIMESTAMP_NTZ" in sql and "loaded_at TIMESTAMP_LTZ" in sql
        assert "file_row_number NUMBER(38,0)" in sql and "raw VARCHAR" in sql

    deployment.apply()

    kinds = deployment.connection.fakesnow.execute(
        f"SHOW TABLES LIKE '{sf.raw_table}' IN SCHEMA {sf.schema_sql}"
    )
    assert [row["kind"] for row in kinds] == ["TABLE"]


# Item F: INFORMATION_SCHEMA.COLUMNS.DATA_TYPE "shows the standard Snowflake data type of the
# column" (https://docs.snowflake.com/en/sql-reference/info-schema/columns). fakesnow reports a
# TIMESTAMP_LTZ column as TIMESTAMP_TZ (both instants, both accepted) and a TIMESTAMP_NTZ one as
# TIMESTAMP_NTZ, which is what this refusal is about.
def _bad_raw_table(dep: Deployment, loaded_at: str, file_last_modified: str) -> None:
    sf = dep.config.snowflake
    dep.connection.fakesnow.execute(
        f"CREATE TABLE {sf.qualified(sf.raw_table)} (raw VARCHAR, file_name VARCHAR, "
        f"file_row_number NUMBER(38,0), file_last_modified {file_last_modified}, "
        f"loaded_at {loaded_at})"
    )


def test_a_raw_table_with_an_ntz_loaded_at_is_refused_before_any_change(
    deployment: Deployment,
) -> None:
    _bad_raw_table(deployment, "TIMESTAMP_NTZ", "TIMESTAMP_NTZ")

    with pytest.raises(PreflightError) as refused:
        deployment.apply()

    [problem] = [p for p in refused.value.problems if "raw landing columns with other" in p]
    assert "(LOADED_AT is TIMESTAMP_NTZ, not TIMESTAMP_LTZ or TIMESTAMP_TZ)" in problem
    assert "CONVERT_TIMEZONE('UTC', loaded_at)" in problem
    assert "ALTER TABLE ... SWAP WITH" in problem
    assert writes(deployment.connection.statements) == []


def test_a_raw_table_with_an_ltz_file_last_modified_is_refused(deployment: Deployment) -> None:
    _bad_raw_table(deployment, "TIMESTAMP_LTZ", "TIMESTAMP_LTZ")

    with pytest.raises(
        PreflightError, match="FILE_LAST_MODIFIED is TIMESTAMP_TZ, not TIMESTAMP_NTZ"
    ):
        deployment.apply()


def test_verify_checks_the_raw_table_types(deployment: Deployment) -> None:
    deployment.apply()
    assert {c.name: c for c in verify(deployment.aws, deployment.sf)}["raw landing table"].ok
    sf = deployment.config.snowflake
    deployment.connection.fakesnow.execute(f"DROP TABLE {sf.qualified(sf.raw_table)}")
    _bad_raw_table(deployment, "TIMESTAMP_NTZ", "TIMESTAMP_NTZ")

    check = {c.name: c for c in verify(deployment.aws, deployment.sf)}["raw landing table"]

    assert not check.ok
    assert "LOADED_AT is TIMESTAMP_NTZ" in check.detail
    assert check.fix.startswith("create a table with apply's columns")


class _RecordingCursor:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    def execute(self, sql: str) -> None:
        self.log.append(sql)

    def fetchall(self) -> list[dict[str, Any]]:
        return [{"status": "Statement executed successfully."}]

    def close(self) -> None:
        pass


class _RecordingConnector:
    def __init__(self) -> None:
        self.log: list[str] = []
        self.closed = False

    def cursor(self, _cursor_class: Any = None) -> _RecordingCursor:
        return _RecordingCursor(self.log)

    def close(self) -> None:
        self.closed = True


def test_connection_from_environment_runs_in_utc_first_thing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import snowflake.connector

    connector = _RecordingConnector()
    monkeypatch.setattr(snowflake.connector, "connect", lambda **_kwargs: connector)
    env = {"SNOWFLAKE_ACCOUNT": "xy12345", "SNOWFLAKE_USER": "loader", "SNOWFLAKE_PASSWORD": "pw"}

    connection = connect_from_env(env)
    connection.execute("SELECT 1")

    assert isinstance(connection, ConnectorConnection)
    assert connector.log == ["ALTER SESSION SET TIMEZONE = 'UTC'", "SELECT 1"]


def test_plan_shows_every_statement_apply_and_backfill_send() -> None:
    config = make_config(base_config(snowflake={"quickstart": {"timezone": "Europe/Paris"}}))
    sf = config.snowflake

    text = plan.render_plan(config, plan.build_plan(config))

    for sql in (
        plan.session_timezone_sql(),
        plan.desc_file_format_sql(sf),
        plan.alter_file_format_sql(sf),
        plan.desc_stage_sql(sf),
        plan.adopt_quickstart_sql(sf, "Europe/Paris"),
        plan.rename_table_sql(sf, sf.quickstart.staging_table, sf.quickstart.staging_archive),
        plan.rename_table_sql(sf, sf.quickstart.parsed_table, sf.quickstart.parsed_archive),
        plan.earlier_rows_sql(sf, plan.PIPE_CREATED_ON_PLACEHOLDER),
        plan.refresh_pipe_sql(sf),
        plan.table_types_sql(sf, [sf.quickstart.parsed_table]).split(" IN (")[0],
        plan.raw_rows_sql(sf),
        plan.count_rows_sql(sf, sf.quickstart.staging_table),
        plan.pipe_status_sql(sf, sf.pipe),
        plan.loaded_file_names_sql(sf),
        plan.copy_files_sql(sf, plan.FILES_PLACEHOLDER),
    ):
        assert all(line in text for line in sql.splitlines()), sql
    assert plan.show_account_timezone_sql() not in text  # the configured time zone is used
    unset = make_config(base_config())
    assert plan.show_account_timezone_sql() in plan.render_plan(unset, plan.build_plan(unset))


def test_a_stage_reading_another_location_is_refused_before_any_change(
    deployment: Deployment,
) -> None:
    sf = deployment.config.snowflake
    deployment.double.add_stage(
        sf.database, sf.schema, sf.stage, "s3://someone-else/logs/", sf.integration
    )

    with pytest.raises(SnowflakeSetupError, match="apply will not repoint a stage"):
        deployment.apply()

    assert writes(deployment.connection.statements) == []
    assert "LoggingEnabled" not in deployment.clients["s3"].get_bucket_logging(Bucket="corp-data")
