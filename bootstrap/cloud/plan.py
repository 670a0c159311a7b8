"""Every SQL statement and AWS document the bootstrap uses, and the ordered plan built from them.

Pure: nothing here talks to a cloud. `apply`, `verify` and `destroy` build their statements and
documents with these same functions, so what `plan` prints is what `apply` sends.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bootstrap.cloud.config import (
    MARKER,
    TAG_KEY,
    TAG_VALUE,
    AwsConfig,
    BootstrapConfig,
    SnowflakeConfig,
)
from bootstrap.cloud.names import quote_ident, quote_literal

# Values apply only learns from Snowflake part-way through; plan shows where they go.
IAM_USER_ARN_PLACEHOLDER = "<STORAGE_AWS_IAM_USER_ARN from DESC INTEGRATION>"
EXTERNAL_ID_PLACEHOLDER = "<STORAGE_AWS_EXTERNAL_ID from DESC INTEGRATION>"
QUEUE_ARN_PLACEHOLDER = "<notification_channel of the pipe from SHOW PIPES>"
MODIFIED_AFTER_PLACEHOLDER = (
    "<the rows loaded before the pipe existed: latest adopted loaded_at, or latest "
    "file_last_modified of a replaced pipe's rows>"
)
TIMEZONE_PLACEHOLDER = "<[snowflake.quickstart] timezone, else the account TIMEZONE parameter>"
FILES_PLACEHOLDER = "<up to 1000 stage-relative file names per COPY>"
PIPE_CREATED_ON_PLACEHOLDER = "<created_on of the pipe from SHOW PIPES>"

# Adopted quickstart rows are named after the table they came from, under this prefix, so that
# (file_name, file_row_number) stays unique and they can be told apart from loaded files.
ADOPTED_PREFIX = "quickstart-adopted/"

# The raw landing contract from DESIGN.md, in order; the pipe fills the last four.
RAW_COLUMNS: tuple[tuple[str, str], ...] = (
    ("RAW", "VARCHAR"),
    ("FILE_NAME", "VARCHAR"),
    ("FILE_ROW_NUMBER", "NUMBER(38,0)"),
    ("FILE_LAST_MODIFIED", "TIMESTAMP_NTZ"),
    ("LOADED_AT", "TIMESTAMP_LTZ"),
)

READ_ACTIONS = ["s3:GetObject", "s3:GetObjectVersion"]
PURGE_ACTIONS = ["s3:DeleteObject", "s3:DeleteObjectVersion"]


@dataclass(frozen=True)
class Action:
    side: Literal["aws", "snowflake"]
    title: str
    body: str  # the exact SQL statement, or the exact JSON document
    language: Literal["sql", "json"]
    condition: str = ""  # when non-empty, the action runs only in this situation


# --- AWS documents -------------------------------------------------------------------------


def log_delivery_sid_prefix(aws: AwsConfig) -> str:
    # Sids are alphanumeric only; the digest keeps deployments with other prefixes apart, and
    # lets destroy find statements for source buckets since removed from the config.
    digest = hashlib.sha256(f"{aws.log_bucket}/{aws.log_prefix}".encode()).hexdigest()[:8]
    return f"S3logsDelivery{digest}"


def log_delivery_statements(aws: AwsConfig) -> list[dict[str, Any]]:
    """Bucket-policy statements letting the S3 logging service write each source's folder.

    One statement per source bucket, so a bucket's logging can write only its own folder.
    """
    return [
        {
            "Sid": log_delivery_sid_prefix(aws) + hashlib.sha256(source.encode()).hexdigest()[:8],
            "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": f"{aws.log_bucket_arn}/{aws.logging_target_prefix(source)}*",
            "Condition": {
                "ArnLike": {"aws:SourceArn": f"arn:{aws.partition}:s3:::{source}"},
                "StringEquals": {"aws:SourceAccount": aws.account_id},
            },
        }
        for source in aws.source_buckets
    ]


def bucket_logging_status(aws: AwsConfig, source_bucket: str) -> dict[str, Any]:
    return {
        "LoggingEnabled": {
            "TargetBucket": aws.log_bucket,
            "TargetPrefix": aws.logging_target_prefix(source_bucket),
        }
    }


def trust_policy(iam_user_arn: str, external_id: str) -> dict[str, Any]:
    """Only Snowflake's IAM user, and only with this integration's external id, may assume."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "SnowflakeStorageIntegration",
                "Effect": "Allow",
                "Principal": {"AWS": iam_user_arn},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
            }
        ],
    }


def read_policy_name(aws: AwsConfig) -> str:
    return f"{aws.role_name}-s3logs-read"[:128]


def read_policy(aws: AwsConfig) -> dict[str, Any]:
    """Least privilege: read objects under the log prefix, list only that prefix.

    Unlike the quickstart's policy there is no s3:PutObject (Snowpipe never writes) and no delete
    unless purging loaded files was asked for. GetBucketLocation gets its own statement because
    that request carries no s3:prefix key, so the prefix condition would always deny it.
    """
    prefix = aws.log_prefix
    list_statement: dict[str, Any] = {
        "Sid": "ListLogPrefix",
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": aws.log_bucket_arn,
    }
    if prefix:
        list_statement["Condition"] = {"StringLike": {"s3:prefix": [f"{prefix}*"]}}
    actions = READ_ACTIONS + (PURGE_ACTIONS if aws.purge_loaded_files else [])
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadLogObjects",
                "Effect": "Allow",
                "Action": actions,
                "Resource": f"{aws.log_bucket_arn}/{prefix}*",
            },
            list_statement,
            {
                "Sid": "LocateLogBucket",
                "Effect": "Allow",
                "Action": "s3:GetBucketLocation",
                "Resource": aws.log_bucket_arn,
            },
        ],
    }


def queue_configuration(config: BootstrapConfig, queue_arn: str) -> dict[str, Any]:
    """The bucket notification that tells Snowpipe about new log objects under the prefix."""
    rule: dict[str, Any] = {}
    if config.aws.log_prefix:
        rule = {
            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": config.aws.log_prefix}]}}
        }
    return {
        "Id": config.notification_id,
        "QueueArn": queue_arn,
        "Events": ["s3:ObjectCreated:*"],
        **rule,
    }


# --- Snowflake SQL -------------------------------------------------------------------------


def session_timezone_sql() -> str:
    # Every NTZ <-> LTZ conversion bootstrap makes (adopting quickstart rows) is then UTC.
    return "ALTER SESSION SET TIMEZONE = 'UTC'"


def show_integrations_sql() -> str:
    return "SHOW INTEGRATIONS"


def create_integration_sql(config: BootstrapConfig) -> str:
    return (
        f"CREATE STORAGE INTEGRATION IF NOT EXISTS {quote_ident(config.snowflake.integration)}\n"
        "  TYPE = EXTERNAL_STAGE\n"
        "  STORAGE_PROVIDER = 'S3'\n"
        "  ENABLED = TRUE\n"
        f"  STORAGE_AWS_ROLE_ARN = {quote_literal(config.aws.role_arn)}\n"
        f"  STORAGE_ALLOWED_LOCATIONS = ({quote_literal(config.aws.stage_url)})\n"
        f"  COMMENT = {quote_literal(MARKER)}"
    )


def desc_integration_sql(sf: SnowflakeConfig) -> str:
    return f"DESC INTEGRATION {quote_ident(sf.integration)}"


def show_file_formats_sql(sf: SnowflakeConfig) -> str:
    return f"SHOW FILE FORMATS IN SCHEMA {sf.schema_sql}"


# The file format's options: (name, as written in SQL, as DESC FILE FORMAT reports it). One
# column per line, nothing unescaped or trimmed, so the parser gets the line as written; invalid
# UTF-8 becomes U+FFFD (as the local loader reads it) instead of failing the file; and no line is
# turned into NULL (the default NULL_IF is \N, which a log line could be).
FILE_FORMAT_OPTIONS: tuple[tuple[str, str, str], ...] = (
    ("FIELD_DELIMITER", "NONE", "NONE"),
    ("SKIP_BLANK_LINES", "TRUE", "TRUE"),
    ("ESCAPE_UNENCLOSED_FIELD", "NONE", "NONE"),
    ("REPLACE_INVALID_CHARACTERS", "TRUE", "TRUE"),
    ("NULL_IF", "()", "[]"),
)


# Every other DESC FILE FORMAT option that changes how a line is read, at Snowflake's CSV
# defaults (https://docs.snowflake.com/en/sql-reference/sql/create-file-format): a file format
# apply did not create must have these too, and apply's own is set back to them if changed.
FILE_FORMAT_READ_DEFAULTS: tuple[tuple[str, str, str], ...] = (
    ("RECORD_DELIMITER", "'\\n'", "\\N"),
    ("SKIP_HEADER", "0", "0"),
    ("TRIM_SPACE", "FALSE", "FALSE"),
    ("FIELD_OPTIONALLY_ENCLOSED_BY", "NONE", "NONE"),
    ("ESCAPE", "NONE", "NONE"),
    ("EMPTY_FIELD_AS_NULL", "TRUE", "TRUE"),
    ("COMPRESSION", "AUTO", "AUTO"),
    ("ENCODING", "'UTF8'", "UTF8"),
)


def file_format_checks() -> tuple[tuple[str, str, str], ...]:
    """Every option compared with DESC FILE FORMAT: apply's own, then the defaults it relies on."""
    return FILE_FORMAT_OPTIONS + FILE_FORMAT_READ_DEFAULTS


def create_file_format_sql(sf: SnowflakeConfig) -> str:
    options = "".join(f"  {name} = {sql}\n" for name, sql, _ in FILE_FORMAT_OPTIONS)
    return (
        f"CREATE FILE FORMAT IF NOT EXISTS {sf.qualified(sf.file_format)}\n"
        "  TYPE = 'CSV'\n"
        f"{options}"
        f"  COMMENT = {quote_literal(MARKER)}"
    )


def desc_file_format_sql(sf: SnowflakeConfig) -> str:
    return f"DESC FILE FORMAT {sf.qualified(sf.file_format)}"


def alter_file_format_sql(sf: SnowflakeConfig, names: list[str] | None = None) -> str:
    """Set the named options (default: all) to the values apply creates the format with."""
    wanted = [(n, sql) for n, sql, _ in FILE_FORMAT_OPTIONS if names is None or n in names]
    wanted += [(n, sql) for n, sql, _ in FILE_FORMAT_READ_DEFAULTS if names and n in names]
    options = "\n".join(f"  {name} = {sql}" for name, sql in wanted)
    return f"ALTER FILE FORMAT {sf.qualified(sf.file_format)} SET\n{options}"


def show_stages_sql(sf: SnowflakeConfig) -> str:
    return f"SHOW STAGES IN SCHEMA {sf.schema_sql}"


def create_stage_sql(config: BootstrapConfig) -> str:
    sf = config.snowflake
    return (
        f"CREATE STAGE IF NOT EXISTS {sf.qualified(sf.stage)}\n"
        f"  URL = {quote_literal(config.aws.stage_url)}\n"
        f"  STORAGE_INTEGRATION = {quote_ident(sf.integration)}\n"
        f"  FILE_FORMAT = {sf.qualified(sf.file_format)}\n"
        f"  COMMENT = {quote_literal(MARKER)}"
    )


def desc_stage_sql(sf: SnowflakeConfig) -> str:
    return f"DESC STAGE {sf.qualified(sf.stage)}"


def list_stage_sql(sf: SnowflakeConfig) -> str:
    return f"LIST @{sf.qualified(sf.stage)}"


def table_columns_sql(sf: SnowflakeConfig, table: str) -> str:
    return (
        "SELECT column_name FROM "
        f"{quote_ident(sf.database)}.information_schema.columns\n"
        f"WHERE table_schema = {quote_literal(sf.schema)} AND table_name = {quote_literal(table)}\n"
        "ORDER BY ordinal_position"
    )


def table_column_types_sql(sf: SnowflakeConfig, table: str) -> str:
    return (
        "SELECT column_name, data_type FROM "
        f"{quote_ident(sf.database)}.information_schema.columns\n"
        f"WHERE table_schema = {quote_literal(sf.schema)} AND table_name = {quote_literal(table)}\n"
        "ORDER BY ordinal_position"
    )


# What INFORMATION_SCHEMA.COLUMNS.DATA_TYPE must say for the columns whose type changes meaning.
# loaded_at must be an instant: an NTZ column would store the pipe's LTZ scan time as wall-clock
# time in the pipe's session zone, and dbt's CONVERT_TIMEZONE('UTC', loaded_at) would then read
# it in dbt's session zone. TIMESTAMP_TZ is an instant too (it keeps its offset), so it is safe.
RAW_COLUMN_TYPES: dict[str, tuple[str, ...]] = {
    "FILE_ROW_NUMBER": ("NUMBER",),
    "FILE_LAST_MODIFIED": ("TIMESTAMP_NTZ",),
    "LOADED_AT": ("TIMESTAMP_LTZ", "TIMESTAMP_TZ"),
}


def create_table_sql(sf: SnowflakeConfig) -> str:
    columns = ",\n".join(f"  {name.lower()} {sql_type}" for name, sql_type in RAW_COLUMNS)
    return (
        f"CREATE TABLE IF NOT EXISTS {sf.qualified(sf.raw_table)} (\n{columns}\n)\n"
        f"  COMMENT = {quote_literal(MARKER)}"
    )


def show_pipes_sql(sf: SnowflakeConfig) -> str:
    return f"SHOW PIPES IN SCHEMA {sf.schema_sql}"


def pipe_select_sql(sf: SnowflakeConfig) -> str:
    """The SELECT the pipe (and the backfill) load with: the line, then the landing metadata.

    METADATA$START_SCAN_TIME rather than CURRENT_TIMESTAMP(): Snowflake documents that the latter,
    in a pipe, can be hours earlier than the load.
    """
    return (
        "SELECT $1, METADATA$FILENAME, METADATA$FILE_ROW_NUMBER,\n"
        "           METADATA$FILE_LAST_MODIFIED, METADATA$START_SCAN_TIME\n"
        f"    FROM @{sf.qualified(sf.stage)}"
    )


def file_format_clause(sf: SnowflakeConfig) -> str:
    # The COPY names its file format, so whatever file format a reused stage carries (the
    # quickstart's stage has none) cannot change how lines are read.
    return f"FILE_FORMAT = (FORMAT_NAME = {quote_literal(sf.qualified(sf.file_format))})"


def pipe_copy_sql(sf: SnowflakeConfig) -> str:
    """The pipe's COPY statement: what SHOW PIPES reports as the pipe's `definition`."""
    columns = ", ".join(name.lower() for name, _ in RAW_COLUMNS)
    return (
        f"COPY INTO {sf.qualified(sf.raw_table)} ({columns})\n"
        "  FROM (\n"
        f"    {pipe_select_sql(sf)}\n"
        "  )\n"
        f"  {file_format_clause(sf)}"
    )


def create_pipe_sql(sf: SnowflakeConfig) -> str:
    return (
        f"CREATE PIPE IF NOT EXISTS {sf.qualified(sf.pipe)}\n"
        "  AUTO_INGEST = TRUE\n"
        f"  COMMENT = {quote_literal(MARKER)}\n"
        "  AS\n"
        f"  {pipe_copy_sql(sf)}"
    )


def refresh_pipe_sql(sf: SnowflakeConfig, modified_after: str | None = None) -> str:
    sql = f"ALTER PIPE {sf.qualified(sf.pipe)} REFRESH"
    if modified_after:
        sql += f" MODIFIED_AFTER = {quote_literal(modified_after)}"
    return sql


def earlier_rows_sql(sf: SnowflakeConfig, pipe_created_on: str | None = None) -> str:
    """Rows loaded before the pipe existed: adopted quickstart rows, or a replaced pipe's rows.

    Adopted rows are found by their file_name prefix; they recorded no file, so only their
    loaded_at (the quickstart's CURRENT_TIMESTAMP(), possibly hours before the load) bounds what
    the quickstart loaded. A replaced pipe's rows (loaded before this pipe was made) name their
    files, and MAX(file_last_modified) is exact: every file they came from was modified then or
    earlier, whatever time the old pipe stamped on loaded_at.
    """
    adopted = f"STARTSWITH(file_name, {quote_literal(ADOPTED_PREFIX)})"
    condition = adopted
    if pipe_created_on:
        condition += f"\n   OR loaded_at < {quote_literal(pipe_created_on)}::TIMESTAMP_LTZ"
    return (
        "SELECT COUNT(*) AS earlier_rows,\n"
        f"       MIN(CASE WHEN {adopted} THEN loaded_at END) AS adopted_first,\n"
        f"       MAX(CASE WHEN {adopted} THEN loaded_at END) AS adopted_last,\n"
        f"       MAX(CASE WHEN NOT {adopted} THEN file_last_modified END)"
        " AS replaced_last_modified\n"
        f"  FROM {sf.qualified(sf.raw_table)}\n"
        f" WHERE {condition}"
    )


def pipe_status_sql(sf: SnowflakeConfig, pipe: str) -> str:
    return f"SELECT SYSTEM$PIPE_STATUS({quote_literal(sf.qualified(pipe))}) AS status"


# --- quickstart adoption -------------------------------------------------------------------


def pause_pipe_sql(sf: SnowflakeConfig, pipe: str) -> str:
    return f"ALTER PIPE {sf.qualified(pipe)} SET PIPE_EXECUTION_PAUSED = TRUE"


def show_tasks_sql(sf: SnowflakeConfig) -> str:
    return f"SHOW TASKS IN SCHEMA {sf.schema_sql}"


def show_streams_sql(sf: SnowflakeConfig) -> str:
    return f"SHOW STREAMS IN SCHEMA {sf.schema_sql}"


def suspend_task_sql(sf: SnowflakeConfig) -> str:
    return f"ALTER TASK {sf.qualified(sf.quickstart.task)} SUSPEND"


def table_types_sql(sf: SnowflakeConfig, tables: list[str]) -> str:
    names = ", ".join(quote_literal(table) for table in tables)
    return (
        "SELECT table_name, table_type FROM "
        f"{quote_ident(sf.database)}.information_schema.tables\n"
        f"WHERE table_schema = {quote_literal(sf.schema)} AND table_name IN ({names})"
    )


def show_account_timezone_sql() -> str:
    return "SHOW PARAMETERS LIKE 'TIMEZONE' IN ACCOUNT"


def adopted_file_name(sf: SnowflakeConfig) -> str:
    return ADOPTED_PREFIX + sf.quickstart.staging_table


def count_rows_sql(sf: SnowflakeConfig, table: str) -> str:
    return f"SELECT COUNT(*) AS row_count FROM {sf.qualified(table)}"


def raw_rows_sql(sf: SnowflakeConfig) -> str:
    """How many rows the raw table holds, and how many of them were adopted from the quickstart."""
    return (
        "SELECT COUNT(*) AS total_rows,\n"
        f"       COUNT(CASE WHEN file_name = {quote_literal(adopted_file_name(sf))} THEN 1 END)"
        " AS adopted_rows\n"
        f"  FROM {sf.qualified(sf.raw_table)}"
    )


def adopt_quickstart_sql(sf: SnowflakeConfig, timezone: str) -> str:
    """Create the raw table, permanent, holding every row of the quickstart's staging table.

    One statement, so the table appears with all its rows or not at all. Each row gets a key no
    file can have (file_name under ADOPTED_PREFIX, a row number in load order); its TIMESTAMP, the
    quickstart pipe's CURRENT_TIMESTAMP() as wall-clock time in `timezone`, becomes UTC.
    CONVERT_TIMEZONE gives a TIMESTAMP_NTZ; storing it into the TIMESTAMP_LTZ loaded_at reads it
    in the session's time zone, which connect_from_env has set to UTC.
    """
    columns = ",\n".join(f"  {name.lower()} {sql_type}" for name, sql_type in RAW_COLUMNS)
    utc = f"CONVERT_TIMEZONE({quote_literal(timezone)}, 'UTC', \"TIMESTAMP\")"
    return (
        f"CREATE TABLE {sf.qualified(sf.raw_table)} (\n{columns}\n)\n"
        f"  COMMENT = {quote_literal(MARKER)}\n"
        "AS\n"
        "SELECT raw,\n"
        f"       {quote_literal(adopted_file_name(sf))},\n"
        '       ROW_NUMBER() OVER (ORDER BY "TIMESTAMP", raw),\n'
        f"       {utc},\n"
        f"       {utc}\n"
        f"  FROM {sf.qualified(sf.quickstart.staging_table)}"
    )


def rename_table_sql(sf: SnowflakeConfig, old: str, new: str) -> str:
    return f"ALTER TABLE {sf.qualified(old)} RENAME TO {sf.qualified(new)}"


def drop_pipe_sql(sf: SnowflakeConfig, pipe: str) -> str:
    return f"DROP PIPE IF EXISTS {sf.qualified(pipe)}"


# --- backfill (files older than the refresh window) ----------------------------------------

# COPY INTO <table> takes at most this many names in FILES.
COPY_FILES_LIMIT = 1000


def loaded_file_names_sql(sf: SnowflakeConfig) -> str:
    """The files the raw table already holds rows of (adopted rows have no file to match)."""
    return (
        f"SELECT DISTINCT file_name FROM {sf.qualified(sf.raw_table)}\n"
        f" WHERE NOT STARTSWITH(file_name, {quote_literal(ADOPTED_PREFIX)})"
    )


def copy_files_sql(sf: SnowflakeConfig, files: list[str] | str) -> str:
    """The pipe's own COPY, limited to the named stage-relative files.

    ON_ERROR = SKIP_FILE is what Snowpipe does by default; a bulk COPY would otherwise abort the
    whole batch at the first bad line. LOAD_UNCERTAIN_FILES = TRUE: COPY otherwise skips, without
    an error, a file older than 64 days whose load status it no longer knows; the backfill has
    already left out every file whose name is in the raw table, so none of these is loaded twice.
    """
    names = files if isinstance(files, str) else ",\n    ".join(quote_literal(f) for f in files)
    head, _, fmt = pipe_copy_sql(sf).rpartition("\n")
    return (
        f"{head}\n  FILES = (\n    {names}\n  )\n{fmt}\n  ON_ERROR = SKIP_FILE\n"
        "  LOAD_UNCERTAIN_FILES = TRUE"
    )


# --- destroy -------------------------------------------------------------------------------


def drop_stage_sql(sf: SnowflakeConfig) -> str:
    return f"DROP STAGE IF EXISTS {sf.qualified(sf.stage)}"


def drop_file_format_sql(sf: SnowflakeConfig) -> str:
    return f"DROP FILE FORMAT IF EXISTS {sf.qualified(sf.file_format)}"


def drop_integration_sql(sf: SnowflakeConfig) -> str:
    return f"DROP STORAGE INTEGRATION IF EXISTS {quote_ident(sf.integration)}"


def drop_table_sql(sf: SnowflakeConfig) -> str:
    return f"DROP TABLE IF EXISTS {sf.qualified(sf.raw_table)}"


# --- preflight, storage integration changes, grants, load history ------------------------

EXISTING_LOCATIONS_PLACEHOLDER = "<every location STORAGE_ALLOWED_LOCATIONS lists now, in order>"
LOAD_HISTORY_DAYS = 14  # how far back INFORMATION_SCHEMA.COPY_HISTORY reaches
DBT_SCHEMA_PRIVILEGES = ("CREATE TABLE", "CREATE VIEW", "CREATE FUNCTION")


def alter_integration_locations_sql(config: BootstrapConfig, locations: Sequence[str]) -> str:
    """Allow `locations` (the existing ones, in order, then the stage URL).

    SET replaces the whole list, so the statement carries every location already allowed:
    other stages using the integration keep their access.
    """
    listed = ", ".join(quote_literal(location) for location in locations)
    return (
        f"ALTER STORAGE INTEGRATION {quote_ident(config.snowflake.integration)} SET\n"
        f"  STORAGE_ALLOWED_LOCATIONS = ({listed})"
    )


def alter_integration_role_sql(config: BootstrapConfig) -> str:
    # SET keeps the external id; re-creating the integration would mint a new one.
    return (
        f"ALTER STORAGE INTEGRATION {quote_ident(config.snowflake.integration)} SET\n"
        f"  STORAGE_AWS_ROLE_ARN = {quote_literal(config.aws.role_arn)}"
    )


def session_context_sql() -> str:
    return "SELECT CURRENT_REGION() AS region, CURRENT_ROLE() AS role"


def roles_in_session_sql(roles: Sequence[str]) -> str:
    """One row: r0, r1, ... TRUE where that role is in the session's active role hierarchy."""
    checks = ", ".join(
        f"IS_ROLE_IN_SESSION({quote_literal(role)}) AS r{i}" for i, role in enumerate(roles)
    )
    return f"SELECT {checks}"


def show_grants_on_sql(sf: SnowflakeConfig, kind: str) -> str:
    """SHOW GRANTS ON ACCOUNT, or on the configured DATABASE, SCHEMA, (raw) TABLE or
    (storage) INTEGRATION."""
    target = {
        "ACCOUNT": "",
        "INTEGRATION": f" {quote_ident(sf.integration)}",
        "DATABASE": f" {quote_ident(sf.database)}",
        "SCHEMA": f" {sf.schema_sql}",
        "TABLE": f" {sf.qualified(sf.raw_table)}",
    }[kind]
    return f"SHOW GRANTS ON {kind}{target}"


def show_grants_to_role_sql(role: str) -> str:
    return f"SHOW GRANTS TO ROLE {quote_ident(role)}"


def show_roles_sql(role: str) -> str:
    # LIKE takes a pattern where '_' is a wildcard; callers filter the rows by exact name.
    return f"SHOW ROLES LIKE {quote_literal(role)}"


def schema_transient_sql(sf: SnowflakeConfig) -> str:
    return (
        f"SELECT is_transient FROM {quote_ident(sf.database)}.INFORMATION_SCHEMA.SCHEMATA "
        f"WHERE schema_name = {quote_literal(sf.schema)}"
    )


@dataclass(frozen=True)
class Grant:
    """One privilege the dbt role needs, as SHOW GRANTS TO ROLE lists it, and its GRANT."""

    privilege: str
    granted_on: str  # DATABASE | SCHEMA | TABLE
    name: str  # DB, DB.SCHEMA or DB.SCHEMA.TABLE: plain identifiers, so never quoted
    sql: str


def dbt_grants(sf: SnowflakeConfig) -> list[Grant]:
    """What dbt needs: read the raw table, build models and the UDTF in the same schema."""
    if sf.dbt_role is None:
        return []
    role = quote_ident(sf.dbt_role)
    schema = f"{sf.database}.{sf.schema}"
    grants = [
        Grant(
            "USAGE",
            "DATABASE",
            sf.database,
            f"GRANT USAGE ON DATABASE {quote_ident(sf.database)} TO ROLE {role}",
        ),
        Grant("USAGE", "SCHEMA", schema, f"GRANT USAGE ON SCHEMA {sf.schema_sql} TO ROLE {role}"),
        Grant(
            "SELECT",
            "TABLE",
            f"{schema}.{sf.raw_table}",
            f"GRANT SELECT ON TABLE {sf.qualified(sf.raw_table)} TO ROLE {role}",
        ),
    ]
    grants += [
        Grant(p, "SCHEMA", schema, f"GRANT {p} ON SCHEMA {sf.schema_sql} TO ROLE {role}")
        for p in DBT_SCHEMA_PRIVILEGES
    ]
    return grants


def missing_grants(sf: SnowflakeConfig, rows: Sequence[dict[str, Any]]) -> list[Grant]:
    """The dbt grants not in `rows` (SHOW GRANTS TO ROLE); OWNERSHIP of an object covers it."""
    held = {
        (str(r.get("privilege", "")).upper(), str(r.get("granted_on", "")).upper(), r.get("name"))
        for r in rows
    }
    return [
        g
        for g in dbt_grants(sf)
        if (g.privilege, g.granted_on, g.name) not in held
        and ("OWNERSHIP", g.granted_on, g.name) not in held
    ]


def load_errors_sql(sf: SnowflakeConfig) -> str:
    """Files loaded into the raw table in the last 14 days that did not load cleanly."""
    # Plain identifiers (decision: one identifier rule), so the unquoted name inside the
    # string resolves to exactly the objects apply created.
    table = f"{sf.database}.{sf.schema}.{sf.raw_table}"
    return (
        "SELECT file_name, status, first_error_message, error_count, row_count, last_load_time\n"
        f"FROM TABLE({quote_ident(sf.database)}.INFORMATION_SCHEMA.COPY_HISTORY(\n"
        f"  TABLE_NAME => {quote_literal(table)},\n"
        f"  START_TIME => DATEADD(day, -{LOAD_HISTORY_DAYS}, CURRENT_TIMESTAMP())))\n"
        "WHERE UPPER(status) NOT IN ('LOADED', 'LOAD IN PROGRESS')\n"
        "ORDER BY last_load_time DESC"
    )


# --- the plan ------------------------------------------------------------------------------


def _json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2)


def build_plan(config: BootstrapConfig) -> list[Action]:
    """Every action `apply` takes, in order, with its exact SQL or JSON; then `backfill`'s."""
    aws, sf = config.aws, config.snowflake
    actions: list[Action] = [
        Action(
            "snowflake",
            "Run this session in UTC (every NTZ <-> LTZ conversion bootstrap makes is then UTC)",
            session_timezone_sql(),
            "sql",
            "a command connects to Snowflake (first thing, every command)",
        ),
        *_existing_object_checks(sf),
    ]
    if aws.source_buckets:
        actions.append(
            Action(
                "aws",
                f"S3 PutBucketPolicy on {aws.log_bucket}: add or replace the statements whose "
                f"Sid starts with {log_delivery_sid_prefix(aws)}, keeping every other statement",
                json.dumps(log_delivery_statements(aws), indent=2),
                "json",
            )
        )
        actions.extend(
            Action(
                "aws",
                f"S3 PutBucketLogging on {source}",
                _json(bucket_logging_status(aws, source)),
                "json",
            )
            for source in aws.source_buckets
        )
    actions += [
        Action(
            "snowflake", "Create the storage integration", create_integration_sql(config), "sql"
        ),
        Action(
            "snowflake",
            "Add the stage URL to the integration's allowed locations (every location already "
            "allowed is kept; the external id is kept)",
            alter_integration_locations_sql(
                config, [EXISTING_LOCATIONS_PLACEHOLDER, aws.stage_url]
            ),
            "sql",
            "the integration exists and does not allow the stage URL yet (apply refuses instead "
            "if STORAGE_BLOCKED_LOCATIONS covers it)",
        ),
        Action(
            "snowflake",
            "Point the integration at the configured IAM role (stages using the old role lose "
            "access)",
            alter_integration_role_sql(config),
            "sql",
            "the integration trusts another role and snowflake.repoint_integration_role = true "
            "(otherwise apply refuses)",
        ),
        Action(
            "snowflake",
            "Read back the IAM user ARN and external id Snowflake assigned",
            desc_integration_sql(sf),
            "sql",
        ),
        Action(
            "aws",
            f"IAM CreateRole {aws.role_name} (tag {TAG_KEY}={TAG_VALUE}) with this trust "
            "policy, or UpdateAssumeRolePolicy if the role exists",
            _json(trust_policy(IAM_USER_ARN_PLACEHOLDER, EXTERNAL_ID_PLACEHOLDER)),
            "json",
        ),
        Action(
            "aws",
            f"IAM PutRolePolicy {read_policy_name(aws)} on {aws.role_name} (least privilege)",
            _json(read_policy(aws)),
            "json",
        ),
        Action("snowflake", "Create the file format", create_file_format_sql(sf), "sql"),
        Action(
            "snowflake",
            "Bring apply's file format back to the options above",
            alter_file_format_sql(sf),
            "sql",
            "the file format exists with apply's comment and other options (only those are set)",
        ),
        Action("snowflake", "Create the external stage", create_stage_sql(config), "sql"),
        Action(
            "snowflake",
            "Report the reused stage's own file format (the pipe names its own, so it is unused)",
            desc_stage_sql(sf),
            "sql",
            "the stage already existed",
        ),
        Action(
            "snowflake",
            "First stage access, retried with backoff while the IAM changes propagate",
            list_stage_sql(sf),
            "sql",
        ),
    ]
    actions += _adoption_actions(sf)
    actions += [
        Action("snowflake", "Create the raw landing table", create_table_sql(sf), "sql"),
        *(
            Action(
                "snowflake",
                f"Grant the dbt role {g.privilege} on the {g.granted_on.lower()} {g.name}",
                g.sql,
                "sql",
                f"SHOW GRANTS TO ROLE {quote_ident(sf.dbt_role or '')} does not list it",
            )
            for g in dbt_grants(sf)
        ),
        Action("snowflake", "Create the auto-ingest pipe", create_pipe_sql(sf), "sql"),
        Action(
            "snowflake",
            "Drop the quickstart pipe, now replaced",
            drop_pipe_sql(sf, sf.quickstart.pipe),
            "sql",
            "a quickstart deployment was found",
        ),
        Action("snowflake", "Read the pipe's SQS queue ARN", show_pipes_sql(sf), "sql"),
        Action(
            "aws",
            f"S3 PutBucketNotificationConfiguration on {aws.log_bucket}: add this queue "
            "configuration to the existing ones (none removed or changed)",
            _json(queue_configuration(config, QUEUE_ARN_PLACEHOLDER)),
            "json",
        ),
        Action(
            "snowflake",
            "Find rows loaded before the pipe existed (adopted, or a replaced pipe's)",
            earlier_rows_sql(sf, PIPE_CREATED_ON_PLACEHOLDER),
            "sql",
        ),
        Action(
            "snowflake",
            "Queue the log files of the last 7 days the pipe has not loaded (every run; its load "
            "history skips the files it loaded)",
            refresh_pipe_sql(sf),
            "sql",
            "no rows predate the pipe, or the latest of them is more than 7 days old (the "
            "refresh reaches back only 7 days, so it then queues only files after them)",
        ),
        Action(
            "snowflake",
            "Queue only the files modified after the rows that predate the pipe",
            refresh_pipe_sql(sf, MODIFIED_AFTER_PLACEHOLDER),
            "sql",
            "rows predate the pipe (adopted from the quickstart, or loaded by a replaced pipe) "
            "and the latest of them is within the last 7 days",
        ),
        *_backfill_actions(sf),
    ]
    return actions


def _existing_object_checks(sf: SnowflakeConfig) -> list[Action]:
    """What apply reads, before its first change, to refuse instead of changing half-way."""
    qs = sf.quickstart
    return [
        Action(
            "snowflake",
            "Compare an existing pipe's definition with the COPY below; stop if it differs",
            show_pipes_sql(sf),
            "sql",
            "the pipe exists",
        ),
        Action(
            "snowflake",
            "Compare an existing file format's options; stop if it is not apply's and differs",
            desc_file_format_sql(sf),
            "sql",
            "the file format exists",
        ),
        Action(
            "snowflake",
            "Find the quickstart's parsed table and any archive an earlier apply made",
            table_types_sql(sf, [qs.parsed_table, qs.staging_archive, qs.parsed_archive]),
            "sql",
        ),
        Action(
            "snowflake",
            "Beside the quickstart table, the raw table may only hold its adopted rows (an "
            "interrupted adoption, resumed); otherwise stop",
            f"{count_rows_sql(sf, qs.staging_table)};\n{raw_rows_sql(sf)}",
            "sql",
            "both the quickstart table and the raw table exist",
        ),
    ]


def _backfill_actions(sf: SnowflakeConfig) -> list[Action]:
    when = "you run `s3logs bootstrap backfill` (files older than the 7-day refresh window)"
    return [
        Action(
            "snowflake",
            "Check the pipe has no pending files (one it is loading is not in the raw table yet)",
            pipe_status_sql(sf, sf.pipe),
            "sql",
            when,
        ),
        Action("snowflake", "List the log files in the stage", list_stage_sql(sf), "sql", when),
        Action(
            "snowflake",
            "Read the files the raw table already holds (they are not loaded again)",
            loaded_file_names_sql(sf),
            "sql",
            when,
        ),
        Action(
            "snowflake",
            "Load the remaining older files with the pipe's COPY, at most 1000 per statement",
            copy_files_sql(sf, FILES_PLACEHOLDER),
            "sql",
            when,
        ),
    ]


def _adoption_actions(sf: SnowflakeConfig) -> list[Action]:
    qs = sf.quickstart
    when = f"a quickstart deployment ({qs.staging_table}, {qs.pipe}, {qs.task}) was found"
    timezone = qs.timezone or TIMEZONE_PLACEHOLDER
    actions = [
        Action("snowflake", "Pause the quickstart pipe", pause_pipe_sql(sf, qs.pipe), "sql", when),
        Action(
            "snowflake",
            "Wait until the quickstart pipe has no pending files",
            pipe_status_sql(sf, qs.pipe),
            "sql",
            when,
        ),
        Action("snowflake", "Suspend the quickstart task", suspend_task_sql(sf), "sql", when),
    ]
    if qs.timezone is None:
        actions.append(
            Action(
                "snowflake",
                "Read the account's time zone, in which the quickstart pipe stored its timestamps",
                show_account_timezone_sql(),
                "sql",
                f"{when} and [snowflake.quickstart] timezone is not set",
            )
        )
    actions += [
        Action(
            "snowflake",
            f"Create the raw landing table from every row of {qs.staging_table} (keys "
            f"{adopted_file_name(sf)} + row number, times converted from {timezone} to UTC)",
            adopt_quickstart_sql(sf, timezone),
            "sql",
            when,
        ),
        Action(
            "snowflake",
            "Keep the quickstart staging table aside (never dropped)",
            rename_table_sql(sf, qs.staging_table, qs.staging_archive),
            "sql",
            when,
        ),
        Action(
            "snowflake",
            "Keep the quickstart's parsed table aside (dbt makes a view under its name)",
            rename_table_sql(sf, qs.parsed_table, qs.parsed_archive),
            "sql",
            f"{when} and {qs.parsed_table} is a table",
        ),
    ]
    return actions


def render_plan(config: BootstrapConfig, actions: list[Action]) -> str:
    aws, sf = config.aws, config.snowflake
    lines = [
        "s3logs bootstrap plan (nothing has been changed)",
        f"  log location  s3://{aws.log_bucket}/{aws.log_prefix}",
        f"  sources       {', '.join(aws.source_buckets) or '(none: logging left as it is)'}",
        f"  IAM role      {aws.role_arn}",
        f"  Snowflake     {sf.schema_sql}, raw table {quote_ident(sf.raw_table)}",
        "",
        "Steps already in place are skipped by apply; conditional steps say when they run.",
        "",
    ]
    for number, action in enumerate(actions, start=1):
        lines.append(f"{number:>2}. [{action.side}] {action.title}")
        if action.condition:
            lines.append(f"    only if {action.condition}")
        lines.extend("      " + line for line in action.body.splitlines())
        lines.append("")
    return "\n".join(lines)
