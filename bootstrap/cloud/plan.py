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
MODIFIED_AFTER_PLACEHOLDER = "<latest loaded_at of the rows the quickstart pipe loaded>"

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


def create_file_format_sql(sf: SnowflakeConfig) -> str:
    # One column per line, nothing unescaped or trimmed: the parser gets the line as written.
    return (
        f"CREATE FILE FORMAT IF NOT EXISTS {sf.qualified(sf.file_format)}\n"
        "  TYPE = 'CSV'\n"
        "  FIELD_DELIMITER = NONE\n"
        "  SKIP_BLANK_LINES = TRUE\n"
        "  ESCAPE_UNENCLOSED_FIELD = NONE\n"
        f"  COMMENT = {quote_literal(MARKER)}"
    )


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


def list_stage_sql(sf: SnowflakeConfig) -> str:
    return f"LIST @{sf.qualified(sf.stage)}"


def table_columns_sql(sf: SnowflakeConfig, table: str) -> str:
    return (
        "SELECT column_name FROM "
        f"{quote_ident(sf.database)}.information_schema.columns\n"
        f"WHERE table_schema = {quote_literal(sf.schema)} AND table_name = {quote_literal(table)}\n"
        "ORDER BY ordinal_position"
    )


def create_table_sql(sf: SnowflakeConfig) -> str:
    columns = ",\n".join(f"  {name.lower()} {sql_type}" for name, sql_type in RAW_COLUMNS)
    return (
        f"CREATE TABLE IF NOT EXISTS {sf.qualified(sf.raw_table)} (\n{columns}\n)\n"
        f"  COMMENT = {quote_literal(MARKER)}"
    )


def show_pipes_sql(sf: SnowflakeConfig) -> str:
    return f"SHOW PIPES IN SCHEMA {sf.schema_sql}"


def create_pipe_sql(sf: SnowflakeConfig) -> str:
    # The stage carries the file format, so the COPY needs no FORMAT_NAME string to quote.
    columns = ", ".join(name.lower() for name, _ in RAW_COLUMNS)
    return (
        f"CREATE PIPE IF NOT EXISTS {sf.qualified(sf.pipe)}\n"
        "  AUTO_INGEST = TRUE\n"
        f"  COMMENT = {quote_literal(MARKER)}\n"
        "  AS\n"
        f"  COPY INTO {sf.qualified(sf.raw_table)} ({columns})\n"
        "  FROM (\n"
        "    SELECT $1, METADATA$FILENAME, METADATA$FILE_ROW_NUMBER,\n"
        "           METADATA$FILE_LAST_MODIFIED, CURRENT_TIMESTAMP()\n"
        f"    FROM @{sf.qualified(sf.stage)}\n"
        "  )"
    )


def refresh_pipe_sql(sf: SnowflakeConfig, modified_after: str | None = None) -> str:
    sql = f"ALTER PIPE {sf.qualified(sf.pipe)} REFRESH"
    if modified_after:
        sql += f" MODIFIED_AFTER = {quote_literal(modified_after)}"
    return sql


def pipe_status_sql(sf: SnowflakeConfig, pipe: str) -> str:
    return f"SELECT SYSTEM$PIPE_STATUS({quote_literal(sf.qualified(pipe))}) AS status"


# --- quickstart migration ------------------------------------------------------------------


def pause_pipe_sql(sf: SnowflakeConfig, pipe: str) -> str:
    return f"ALTER PIPE {sf.qualified(pipe)} SET PIPE_EXECUTION_PAUSED = TRUE"


def show_tasks_sql(sf: SnowflakeConfig) -> str:
    return f"SHOW TASKS IN SCHEMA {sf.schema_sql}"


def show_streams_sql(sf: SnowflakeConfig) -> str:
    return f"SHOW STREAMS IN SCHEMA {sf.schema_sql}"


def suspend_task_sql(sf: SnowflakeConfig) -> str:
    return f"ALTER TASK {sf.qualified(sf.quickstart.task)} SUSPEND"


def add_column_sql(sf: SnowflakeConfig, table: str, column: str, sql_type: str) -> str:
    return f"ALTER TABLE {sf.qualified(table)} ADD COLUMN IF NOT EXISTS {column.lower()} {sql_type}"


def backfill_loaded_at_sql(sf: SnowflakeConfig, table: str) -> str:
    # The quickstart's "timestamp" column is exactly when each row was loaded.
    return f'UPDATE {sf.qualified(table)} SET loaded_at = "TIMESTAMP" WHERE loaded_at IS NULL'


def rename_table_sql(sf: SnowflakeConfig, old: str, new: str) -> str:
    return f"ALTER TABLE {sf.qualified(old)} RENAME TO {sf.qualified(new)}"


def migrated_high_water_sql(sf: SnowflakeConfig) -> str:
    # Rows from the quickstart pipe have no file name. A file loaded by it was modified before
    # it was loaded, so files modified after the latest of these rows were never loaded by it.
    return (
        "SELECT COUNT(*) AS migrated_rows, MAX(loaded_at) AS high_water "
        f"FROM {sf.qualified(sf.raw_table)} "
        "WHERE file_name IS NULL"
    )


def drop_pipe_sql(sf: SnowflakeConfig, pipe: str) -> str:
    return f"DROP PIPE IF EXISTS {sf.qualified(pipe)}"


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
    """SHOW GRANTS ON ACCOUNT, or on the configured DATABASE, SCHEMA or (raw) TABLE."""
    target = {
        "ACCOUNT": "",
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
    """Every action `apply` takes on a fresh account, in order, with its exact SQL or JSON."""
    aws, sf = config.aws, config.snowflake
    actions: list[Action] = []
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
        Action("snowflake", "Create the external stage", create_stage_sql(config), "sql"),
        Action(
            "snowflake",
            "First stage access, retried with backoff while the IAM changes propagate",
            list_stage_sql(sf),
            "sql",
        ),
    ]
    actions += _migration_actions(sf)
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
            "Load the log files already in the bucket",
            refresh_pipe_sql(sf),
            "sql",
            "the pipe was created by this run and no quickstart deployment was found",
        ),
        Action(
            "snowflake",
            "Load only the files the quickstart pipe did not load",
            refresh_pipe_sql(sf, MODIFIED_AFTER_PLACEHOLDER),
            "sql",
            "the pipe was created by this run and the quickstart table was migrated",
        ),
    ]
    return actions


def _migration_actions(sf: SnowflakeConfig) -> list[Action]:
    qs = sf.quickstart
    when = f"a quickstart deployment ({qs.staging_table}, {qs.pipe}, {qs.task}) was found"
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
    actions += [
        Action(
            "snowflake",
            f"Add the {column.lower()} column to the quickstart table",
            add_column_sql(sf, qs.staging_table, column, sql_type),
            "sql",
            when,
        )
        for column, sql_type in RAW_COLUMNS[1:]
    ]
    actions += [
        Action(
            "snowflake",
            "Fill loaded_at from the quickstart's timestamp column",
            backfill_loaded_at_sql(sf, qs.staging_table),
            "sql",
            when,
        ),
        Action(
            "snowflake",
            "Rename the quickstart table to the raw landing table (every row kept)",
            rename_table_sql(sf, qs.staging_table, sf.raw_table),
            "sql",
            when,
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
