"""The Snowflake side, over a minimal connection: `execute(sql) -> rows`.

Rows are dicts keyed by lower-case column name, as `SHOW`/`DESC` document them. Production uses
snowflake-connector-python (credentials from environment variables only); tests pass fakesnow's
server or a recording double, which is why nothing here depends on the connector's cursor.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

from bootstrap.cloud import names, plan
from bootstrap.cloud.config import MARKER, BootstrapConfig
from bootstrap.cloud.names import ValidationError


class Connection(Protocol):
    def execute(self, sql: str) -> list[dict[str, Any]]: ...


class StatementError(RuntimeError):
    """A statement failed in Snowflake; carries the statement for the error report."""

    def __init__(self, sql: str, message: str) -> None:
        super().__init__(message)
        self.sql = sql


class SnowflakeSetupError(RuntimeError):
    """The Snowflake account is in a state apply will not change by itself."""


class ConnectorConnection:
    """`Connection` over snowflake-connector-python."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    def execute(self, sql: str) -> list[dict[str, Any]]:
        from snowflake.connector import DictCursor
        from snowflake.connector.errors import Error

        cursor = self._connection.cursor(DictCursor)
        try:
            cursor.execute(sql)
            rows = cursor.fetchall()
        except Error as exc:
            raise StatementError(sql, str(exc)) from exc
        finally:
            cursor.close()
        return [{str(k).lower(): v for k, v in row.items()} for row in rows]

    def close(self) -> None:
        self._connection.close()


ENV_HELP = (
    "SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER, and SNOWFLAKE_PASSWORD or SNOWFLAKE_PRIVATE_KEY_PATH "
    "(optional: SNOWFLAKE_PRIVATE_KEY_PASSPHRASE, SNOWFLAKE_ROLE, SNOWFLAKE_WAREHOUSE, "
    "SNOWFLAKE_AUTHENTICATOR, SNOWFLAKE_HOST, SNOWFLAKE_PORT, SNOWFLAKE_PROTOCOL)"
)


def connection_kwargs_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """snowflake.connector.connect() arguments from SNOWFLAKE_* environment variables."""
    missing = [k for k in ("SNOWFLAKE_ACCOUNT", "SNOWFLAKE_USER") if not env.get(k)]
    has_secret = any(
        env.get(k)
        for k in ("SNOWFLAKE_PASSWORD", "SNOWFLAKE_PRIVATE_KEY_PATH", "SNOWFLAKE_AUTHENTICATOR")
    )
    if missing or not has_secret:
        raise SnowflakeSetupError(f"missing Snowflake credentials: set {ENV_HELP}")
    mapping = {
        "SNOWFLAKE_ACCOUNT": "account",
        "SNOWFLAKE_USER": "user",
        "SNOWFLAKE_PASSWORD": "password",
        "SNOWFLAKE_PRIVATE_KEY_PATH": "private_key_file",
        "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE": "private_key_file_pwd",
        "SNOWFLAKE_ROLE": "role",
        "SNOWFLAKE_WAREHOUSE": "warehouse",
        "SNOWFLAKE_AUTHENTICATOR": "authenticator",
        "SNOWFLAKE_HOST": "host",
        "SNOWFLAKE_PORT": "port",
        "SNOWFLAKE_PROTOCOL": "protocol",
    }
    kwargs: dict[str, Any] = {arg: env[var] for var, arg in mapping.items() if env.get(var)}
    if "port" in kwargs:
        if not kwargs["port"].isdigit():
            raise SnowflakeSetupError(f"SNOWFLAKE_PORT={kwargs['port']!r} is not a port number")
        kwargs["port"] = int(kwargs["port"])
    key = kwargs.get("private_key_file")
    if key is not None and not os.path.isfile(key):
        raise SnowflakeSetupError(
            f"SNOWFLAKE_PRIVATE_KEY_PATH={key!r}: no such file; point it at your private key"
        )
    return kwargs


def connect_from_env(env: Mapping[str, str] | None = None) -> ConnectorConnection:
    import snowflake.connector

    kwargs = connection_kwargs_from_env(os.environ if env is None else env)
    try:
        connection = ConnectorConnection(snowflake.connector.connect(**kwargs))
    except snowflake.connector.errors.Error as exc:
        raise SnowflakeSetupError(f"cannot connect to Snowflake: {exc}") from exc
    # First thing: the session's time zone is UTC, whatever the user's or account's default, so
    # any NTZ <-> LTZ conversion bootstrap makes (adopting quickstart rows) is a UTC one.
    try:
        connection.execute(plan.session_timezone_sql())
    except StatementError as exc:
        connection.close()
        raise SnowflakeSetupError(f"cannot set the session's time zone to UTC: {exc}") from exc
    return connection


def _timestamp_text(value: Any) -> str | None:
    """An ISO 8601 text for a timestamp Snowflake returned (the connector gives datetimes)."""
    if value is None or value == "":
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _utc(value: Any) -> datetime | None:
    """A timestamp Snowflake returned, as aware UTC; NTZ values (naive) are UTC wall clock."""
    if value is None or value == "":
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


@dataclass(frozen=True)
class EarlierRows:
    """The rows loaded before the pipe existed, and how far they reach."""

    count: int = 0
    adopted_first: datetime | None = None  # earliest adopted loaded_at (quickstart's first load)
    adopted_last: datetime | None = None  # latest adopted loaded_at
    replaced_last_modified: datetime | None = None  # latest file_last_modified, replaced pipe

    @property
    def high_water(self) -> datetime | None:
        """Files modified after this were loaded by none of those rows' loaders (see
        docs/bootstrap.md for the adopted rows' residual gap)."""
        moments = [m for m in (self.adopted_last, self.replaced_last_modified) if m is not None]
        return max(moments) if moments else None


# Errors Snowflake reports while a new role or trust policy is not yet visible to STS/S3.
_IAM_PROPAGATION = re.compile(
    r"access denied|accessdenied|not authorized|assum|status code: 403|forbidden", re.I
)


@dataclass(frozen=True)
class Quickstart:
    """What apply found of a deployment made by hand with the quickstart."""

    staging_columns: tuple[str, ...]  # empty when the staging table is gone (already renamed)
    pipe: bool
    task_state: str | None  # 'started', 'suspended', or None when there is no task
    stream: bool
    parsed_table: bool = False  # the parsed table is still a table under its quickstart name
    staging_archived: bool = False  # an earlier apply renamed the staging table aside
    parsed_archived: bool = False  # ... and the parsed table

    @property
    def found(self) -> bool:
        return (
            bool(self.staging_columns)
            or self.pipe
            or self.task_state == "started"
            or (self.parsed_table and self.staging_archived)
        )

    @property
    def renames_parsed_table(self) -> bool:
        """Adoption renames the parsed table aside (once, and only while it is a table)."""
        return self.parsed_table and bool(self.staging_columns or self.staging_archived)


def normalise_sql(text: str) -> str:
    """A statement with case and spacing outside quotes made uniform, to compare definitions.

    Quoted identifiers and string literals are kept exactly: they are case-sensitive.
    """
    parts = re.split(r"""('(?:[^'\\]|\\.)*'|"(?:[^"]|"")*")""", text)
    out = []
    for index, part in enumerate(parts):
        if index % 2:
            out.append(part)
            continue
        part = re.sub(r"\s+", " ", part.upper())
        out.append(re.sub(r"\s*([(),=])\s*", r"\1", part))
    return "".join(out).strip().rstrip(";").strip()


def _desc_value(value: Any) -> str:
    return str(value if value is not None else "").strip().upper()


class SnowflakeSide:
    def __init__(self, config: BootstrapConfig, connection: Connection) -> None:
        self.config = config
        self.sf = config.snowflake
        self.connection = connection
        self._timezone: str | None = None

    def run(self, sql: str) -> list[dict[str, Any]]:
        return self.connection.execute(sql)

    # --- reads -----------------------------------------------------------------------------

    def _show(self, sql: str, name: str) -> dict[str, Any] | None:
        # SHOW ... LIKE takes a pattern where '_' is a wildcard; filtering here is exact.
        return next((row for row in self.run(sql) if row.get("name") == name), None)

    def integration(self) -> dict[str, Any] | None:
        return self._show(plan.show_integrations_sql(), self.sf.integration)

    def integration_properties(self) -> dict[str, str]:
        rows = self.run(plan.desc_integration_sql(self.sf))
        return {str(r["property"]).upper(): str(r.get("property_value") or "") for r in rows}

    def integration_identity(self) -> tuple[str, str]:
        """The IAM user ARN and external id Snowflake assigned, validated before use."""
        props = self.integration_properties()
        arn = names.iam_user_arn(
            props.get("STORAGE_AWS_IAM_USER_ARN", ""), "DESC INTEGRATION STORAGE_AWS_IAM_USER_ARN"
        )
        external = names.external_id(
            props.get("STORAGE_AWS_EXTERNAL_ID", ""), "DESC INTEGRATION STORAGE_AWS_EXTERNAL_ID"
        )
        return arn, external

    def file_format(self) -> dict[str, Any] | None:
        return self._show(plan.show_file_formats_sql(self.sf), self.sf.file_format)

    def file_format_properties(self) -> dict[str, str]:
        rows = self.run(plan.desc_file_format_sql(self.sf))
        return {str(r["property"]).upper(): str(r.get("property_value") or "") for r in rows}

    def file_format_differences(self) -> list[str]:
        """The options of the existing file format that differ from apply's (its own options,
        and every other option that changes how a line is read, at Snowflake's default)."""
        props = self.file_format_properties()
        return [
            name
            for name, _, reported in plan.file_format_checks()
            if _desc_value(props.get(name)) != reported
        ]

    def stage(self) -> dict[str, Any] | None:
        return self._show(plan.show_stages_sql(self.sf), self.sf.stage)

    def stage_file_format(self) -> str:
        """What file format the stage itself carries, in words, for the report."""
        rows = self.run(plan.desc_stage_sql(self.sf))
        fmt = {
            str(r.get("property", "")).upper(): str(r.get("property_value") or "")
            for r in rows
            if str(r.get("parent_property", "")).upper() == "STAGE_FILE_FORMAT"
        }
        if fmt.get("FORMAT_NAME"):
            return f"file format {fmt['FORMAT_NAME']}"
        return f"inline file format (TYPE = {fmt.get('TYPE') or 'CSV'})"

    def pipe(self, name: str | None = None) -> dict[str, Any] | None:
        return self._show(plan.show_pipes_sql(self.sf), name or self.sf.pipe)

    def task(self, name: str) -> dict[str, Any] | None:
        return self._show(plan.show_tasks_sql(self.sf), name)

    def stream(self, name: str) -> dict[str, Any] | None:
        return self._show(plan.show_streams_sql(self.sf), name)

    def table_columns(self, table: str) -> tuple[str, ...]:
        rows = self.run(plan.table_columns_sql(self.sf, table))
        return tuple(str(r["column_name"]).upper() for r in rows)

    def table_column_types(self, table: str) -> dict[str, str]:
        """{COLUMN: DATA_TYPE} as INFORMATION_SCHEMA.COLUMNS reports them."""
        rows = self.run(plan.table_column_types_sql(self.sf, table))
        return {str(r["column_name"]).upper(): str(r["data_type"]).upper() for r in rows}

    def raw_table_problems(self) -> list[tuple[str, str]]:
        """(what is wrong, the fix) for an existing raw table apply cannot use: missing columns,
        or types that change what a value means. Empty when it does not exist or is right."""
        types = self.table_column_types(self.sf.raw_table)
        if not types:
            return []
        name = self.sf.qualified(self.sf.raw_table)
        missing = [column for column, _ in plan.RAW_COLUMNS if column not in types]
        if missing:
            return [
                (
                    f"table {name} exists without the raw landing columns {', '.join(missing)}",
                    "add them or choose another snowflake.raw_table",
                )
            ]
        wrong = [
            f"{column} is {types[column]}, not {' or '.join(allowed)}"
            for column, allowed in plan.RAW_COLUMN_TYPES.items()
            if types[column] not in allowed
        ]
        if not wrong:
            return []
        wanted = ", ".join(f"{c.lower()} {t}" for c, t in plan.RAW_COLUMNS)
        return [
            (
                f"table {name} has the raw landing columns with other types "
                f"({'; '.join(wrong)}): a TIMESTAMP_NTZ loaded_at holds wall-clock times in the "
                "loading session's zone, and dbt's CONVERT_TIMEZONE('UTC', loaded_at) would "
                "shift every one by its own session's zone",
                f"create a table with apply's columns ({wanted}), copy the rows into it "
                "converting each time from the zone it was written in, and swap it in (ALTER "
                "TABLE ... SWAP WITH); or set snowflake.raw_table to a new name",
            )
        ]

    def table_types(self, tables: list[str]) -> dict[str, str]:
        """{name: 'BASE TABLE' | 'VIEW' | ...} for those of `tables` that exist."""
        rows = self.run(plan.table_types_sql(self.sf, tables))
        return {str(r["table_name"]): str(r["table_type"]).upper() for r in rows}

    def count_rows(self, table: str) -> int:
        return int(self.run(plan.count_rows_sql(self.sf, table))[0]["row_count"])

    def queue_arn(self) -> str:
        row = self.pipe()
        if row is None:
            raise SnowflakeSetupError(f"pipe {self.sf.qualified(self.sf.pipe)} does not exist")
        return names.sqs_queue_arn(
            row.get("notification_channel") or "", "SHOW PIPES notification_channel"
        )

    def pipe_status(self, name: str | None = None) -> dict[str, Any]:
        rows = self.run(plan.pipe_status_sql(self.sf, name or self.sf.pipe))
        return json.loads(next(iter(rows[0].values())))

    def list_stage(self) -> list[dict[str, Any]]:
        return self.run(plan.list_stage_sql(self.sf))

    # --- ensure (apply) --------------------------------------------------------------------

    def ensure_integration(self) -> str:
        """Create the integration, or widen an existing one without taking anything away.

        ALTER ... SET STORAGE_ALLOWED_LOCATIONS replaces the whole list, so the stage URL is
        added to the locations already allowed (kept, in order). The role ARN is changed only
        when snowflake.repoint_integration_role says so: other stages may read through it.
        """
        if self.integration() is None:
            self.run(plan.create_integration_sql(self.config))
            return "created"
        props = self.integration_properties()
        problems = integration_problems(self.config, props)
        if problems:  # preflight reported these already; this guards direct callers
            raise SnowflakeSetupError("; ".join(problems))
        url, role_arn = self.config.aws.stage_url, self.config.aws.role_arn
        changes = []
        locations = parse_locations(props.get("STORAGE_ALLOWED_LOCATIONS", ""))
        if not any(location_covers(location, url) for location in locations):
            self.run(plan.alter_integration_locations_sql(self.config, [*locations, url]))
            changes.append(f"allowed {url} (kept the {len(locations)} location(s) it allowed)")
        current_role = props.get("STORAGE_AWS_ROLE_ARN", "")
        if current_role != role_arn:
            self.run(plan.alter_integration_role_sql(self.config))
            changes.append(f"repointed from {current_role} to {role_arn}")
        return "updated: " + "; ".join(changes) if changes else "unchanged"

    def ensure_file_format(self) -> str:
        row = self.file_format()
        if row is None:
            self.run(plan.create_file_format_sql(self.sf))
            return "created"
        differing = self.file_format_differences()
        if not differing:
            return "unchanged"
        if row.get("comment") != MARKER:
            raise self._foreign_file_format(differing)
        self.run(plan.alter_file_format_sql(self.sf, differing))
        return f"updated ({', '.join(differing)} set as apply creates them)"

    def _foreign_file_format(self, differing: list[str]) -> SnowflakeSetupError:
        wanted = ", ".join(f"{n} = {sql}" for n, sql, _ in plan.file_format_checks())
        return SnowflakeSetupError(
            f"file format {self.sf.qualified(self.sf.file_format)} exists without the "
            f"'{MARKER}' comment and differs in {', '.join(differing)}; the pipe reads every "
            f"line through it, and apply will not change a format it did not create. Set "
            f"snowflake.file_format to a new name, or give it {wanted}. Nothing was changed."
        )

    def ensure_stage(self) -> str:
        row = self.stage()
        if row is None:
            self.run(plan.create_stage_sql(self.config))
            return "created"
        self._check_stage(row)
        own, ours = self.stage_file_format(), self.sf.qualified(self.sf.file_format)
        if own.replace('"', "") == f"file format {ours}".replace('"', ""):
            return "unchanged"  # the stage apply created, with apply's file format
        return f"unchanged (its own {own} is not used: the pipe names {ours})"

    def _check_stage(self, row: dict[str, Any]) -> None:
        url, integration = row.get("url", ""), row.get("storage_integration", "")
        if url.rstrip("/") != self.config.aws.stage_url.rstrip("/") or (
            integration and integration != self.sf.integration
        ):
            raise SnowflakeSetupError(
                f"stage {self.sf.qualified(self.sf.stage)} exists but reads {url} through "
                f"{integration or 'no integration'}; apply will not repoint a stage other pipes "
                "may use. Set snowflake.stage to a new name, or drop that stage."
            )

    def first_stage_access(
        self,
        report: Callable[[str], None],
        *,
        attempts: int = 8,
        first_delay: float = 5.0,
        max_delay: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> int:
        """LIST the stage, waiting out IAM propagation with exponential backoff."""
        delay = first_delay
        for attempt in range(1, attempts + 1):
            try:
                return len(self.list_stage())
            except StatementError as exc:
                if not _IAM_PROPAGATION.search(str(exc)) or attempt == attempts:
                    raise SnowflakeSetupError(
                        f"Snowflake cannot list the stage ({exc}). If the role was just created "
                        "or changed, wait a minute and re-run apply; otherwise run "
                        "`s3logs bootstrap verify` to see which link is broken."
                    ) from exc
                report(
                    f"  stage not readable yet (attempt {attempt}/{attempts}: IAM changes take "
                    f"time to propagate); retrying in {delay:.0f}s"
                )
                sleep(delay)
                delay = min(delay * 2, max_delay)
        raise AssertionError("unreachable")  # the loop returns or raises on the last attempt

    def find_quickstart(self) -> Quickstart:
        qs = self.sf.quickstart
        columns = self.table_columns(qs.staging_table)
        task = self.task(qs.task)
        types = self.table_types([qs.parsed_table, qs.staging_archive, qs.parsed_archive])
        return Quickstart(
            staging_columns=columns if {"RAW", "TIMESTAMP"} <= set(columns) else (),
            pipe=self.pipe(qs.pipe) is not None,
            task_state=str(task.get("state", "")).lower() if task else None,
            stream=self.stream(qs.stream) is not None,
            parsed_table=types.get(qs.parsed_table) == "BASE TABLE",
            staging_archived=qs.staging_archive in types,
            parsed_archived=qs.parsed_archive in types,
        )

    def check_migration_possible(self, quickstart: Quickstart) -> None:
        """Refuse, before any change, an adoption that could not finish or would merge tables."""
        sf, qs = self.sf, self.sf.quickstart
        if quickstart.staging_columns:
            if quickstart.staging_archived:
                raise SnowflakeSetupError(
                    f"both the quickstart table {sf.qualified(qs.staging_table)} and "
                    f"{sf.qualified(qs.staging_archive)} exist; apply keeps the quickstart table "
                    "aside under that name. Rename or drop the second one, then re-run apply."
                )
            raw_columns = self.table_columns(sf.raw_table)
            if raw_columns:
                self._check_resumable_adoption(raw_columns)
            else:
                self.quickstart_timezone()  # refuses now if unusable
        if quickstart.renames_parsed_table and quickstart.parsed_archived:
            raise SnowflakeSetupError(
                f"both the quickstart's parsed table {sf.qualified(qs.parsed_table)} and "
                f"{sf.qualified(qs.parsed_archive)} exist; apply keeps the parsed table aside "
                "under that name. Rename or drop the second one, then re-run apply."
            )

    def _check_resumable_adoption(self, raw_columns: tuple[str, ...]) -> None:
        """The raw table may exist beside the staging table only as an interrupted adoption."""
        sf, qs = self.sf, self.sf.quickstart
        staged = self.count_rows(qs.staging_table)
        total = adopted = -1
        if "FILE_NAME" in raw_columns:
            counts = self.run(plan.raw_rows_sql(sf))[0]
            total, adopted = int(counts["total_rows"]), int(counts["adopted_rows"] or 0)
        if total == adopted == staged:
            return  # an earlier apply created it and stopped before renaming: renames remain
        held = f"{total} row(s), {adopted} adopted from it" if total >= 0 else "no file_name column"
        raise SnowflakeSetupError(
            f"both the quickstart table {sf.qualified(qs.staging_table)} ({staged} row(s)) and "
            f"the raw table {sf.qualified(sf.raw_table)} ({held}) exist; apply will not merge "
            "them. Copy the rows you need into one and drop the other, or set "
            "snowflake.raw_table to a new name. Nothing was changed."
        )

    def quickstart_timezone(self) -> str:
        """The time zone the quickstart pipe's timestamps are wall-clock times in."""
        if self._timezone is None:
            value: object = self.sf.quickstart.timezone
            source = "snowflake.quickstart.timezone"
            if value is None:
                rows = self.run(plan.show_account_timezone_sql())
                row = next((r for r in rows if str(r.get("key", "")).upper() == "TIMEZONE"), {})
                value = str(row.get("value") or "")
                source = "the account's TIMEZONE parameter"
            try:
                self._timezone = names.iana_timezone(value, source)
            except ValidationError as exc:
                raise SnowflakeSetupError(
                    f"{exc}; set [snowflake.quickstart] timezone to the time zone the "
                    "quickstart pipe ran in. Nothing was changed."
                ) from exc
        return self._timezone

    def migrate_quickstart(
        self,
        quickstart: Quickstart,
        report: Callable[[str], None],
        *,
        attempts: int = 30,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Stop the quickstart's loading and processing, adopt its rows, keep its tables aside.

        Each step checks its own state, so an adoption interrupted half-way resumes on re-run.
        """
        sf, qs = self.sf, self.sf.quickstart
        if quickstart.pipe:
            self.run(plan.pause_pipe_sql(sf, qs.pipe))
            report(f"  paused the quickstart pipe {sf.qualified(qs.pipe)}")
            self._wait_until_drained(qs.pipe, report, attempts=attempts, sleep=sleep)
        if quickstart.task_state == "started":
            self.run(plan.suspend_task_sql(sf))
            report(
                f"  suspended the quickstart task {sf.qualified(qs.task)} (dbt build replaces "
                "it; drop it and its stream once the dbt models are running)"
            )
        if quickstart.staging_columns:
            if self.table_columns(sf.raw_table):
                report(
                    f"  {sf.qualified(sf.raw_table)} already holds the rows adopted from "
                    f"{sf.qualified(qs.staging_table)} (an earlier apply stopped before renaming)"
                )
            else:
                timezone = self.quickstart_timezone()
                self.run(plan.adopt_quickstart_sql(sf, timezone))
                report(
                    f"  created {sf.qualified(sf.raw_table)} from every row of "
                    f"{sf.qualified(qs.staging_table)}: file_name "
                    f"'{plan.adopted_file_name(sf)}', file_row_number in load order, loaded_at "
                    f"and file_last_modified converted from {timezone} to UTC"
                )
            self.run(plan.rename_table_sql(sf, qs.staging_table, qs.staging_archive))
            report(
                f"  renamed {sf.qualified(qs.staging_table)} to "
                f"{sf.qualified(qs.staging_archive)} (kept; every loaded row is kept)"
            )
        if quickstart.renames_parsed_table:
            self.run(plan.rename_table_sql(sf, qs.parsed_table, qs.parsed_archive))
            report(
                f"  renamed the quickstart's parsed table {sf.qualified(qs.parsed_table)} to "
                f"{sf.qualified(qs.parsed_archive)} (kept; dbt makes a view under the old name)"
            )

    def _wait_until_drained(
        self,
        pipe: str,
        report: Callable[[str], None],
        *,
        attempts: int,
        sleep: Callable[[float], None],
    ) -> None:
        # A paused pipe still loads files it was already notified of; replacing it before
        # they land would lose them.
        for attempt in range(1, attempts + 1):
            pending = int(self.pipe_status(pipe).get("pendingFileCount", 0) or 0)
            if pending == 0:
                return
            report(f"  quickstart pipe still has {pending} pending file(s); waiting ({attempt})")
            sleep(10.0)
        raise SnowflakeSetupError(
            f"the quickstart pipe {self.sf.qualified(pipe)} still has pending files; it is "
            "paused, so re-run apply once SYSTEM$PIPE_STATUS shows pendingFileCount 0"
        )

    def ensure_table(self) -> str:
        columns = self.table_columns(self.sf.raw_table)
        if not columns:
            self.run(plan.create_table_sql(self.sf))
            return "created"
        problems = self.raw_table_problems()  # preflight reported these already
        if problems:
            raise SnowflakeSetupError("; ".join(f"{what}; {fix}" for what, fix in problems))
        return "unchanged"

    def ensure_pipe(self) -> str:
        if self.pipe() is not None:
            return "unchanged"
        self.run(plan.create_pipe_sql(self.sf))
        return "created"

    def drop_quickstart_pipe(self) -> str:
        if self.pipe(self.sf.quickstart.pipe) is None:
            return "absent"
        self.run(plan.drop_pipe_sql(self.sf, self.sf.quickstart.pipe))
        return "removed"

    def check_reusable_objects(self) -> None:
        """Refuse, before any change, to keep objects that would load lines differently."""
        stage = self.stage()
        if stage is not None:
            self._check_stage(stage)
        pipe = self.pipe()
        if pipe is not None:
            self._check_pipe_definition(str(pipe.get("definition") or ""))
        row = self.file_format()
        if row is not None and row.get("comment") != MARKER:
            differing = self.file_format_differences()
            if differing:
                raise self._foreign_file_format(differing)

    def _check_pipe_definition(self, existing: str) -> None:
        wanted = plan.pipe_copy_sql(self.sf)
        if normalise_sql(existing) == normalise_sql(wanted):
            return
        missing = [
            part
            for part in (
                "METADATA$START_SCAN_TIME",
                plan.file_format_clause(self.sf),
                f"COPY INTO {self.sf.qualified(self.sf.raw_table)}",
                f"FROM @{self.sf.qualified(self.sf.stage)}",
            )
            if normalise_sql(part) not in normalise_sql(existing)
        ]
        name = self.sf.qualified(self.sf.pipe)
        raise SnowflakeSetupError(
            f"pipe {name} exists, but its COPY differs from the one apply creates"
            + (f" (it lacks {'; '.join(missing)})" if missing else "")
            + f":\n  existing: {' '.join(existing.split())}\n"
            f"  apply's:  {' '.join(wanted.split())}\n"
            "apply does not replace a pipe by itself: a re-created pipe loses its load history, "
            "so files it already loaded could be loaded twice. To replace it: ALTER PIPE "
            f"{name} SET PIPE_EXECUTION_PAUSED = TRUE; wait until SYSTEM$PIPE_STATUS shows "
            f"pendingFileCount 0; DROP PIPE {name}; then re-run apply, which creates the pipe and "
            "queues only files modified after the rows already loaded (see 'Replacing the pipe' "
            "in docs/bootstrap.md). Nothing was changed."
        )

    def earlier_rows(self) -> EarlierRows:
        """The rows loaded before the pipe existed: adopted quickstart rows, and rows a dropped
        earlier pipe loaded. The pipe's load history knows none of their files, so the refresh
        must skip what they cover."""
        pipe = self.pipe()
        created = pipe.get("created_on") if pipe else None
        return self._earlier(plan.earlier_rows_sql(self.sf, _timestamp_text(created)))

    def adopted_rows(self) -> EarlierRows:
        """The rows adopted from the quickstart (count, first and latest loaded_at)."""
        return self._earlier(plan.earlier_rows_sql(self.sf))

    def _earlier(self, sql: str) -> EarlierRows:
        rows = self.run(sql)
        row = rows[0] if rows else {}
        count = int(row.get("earlier_rows") or 0)
        if not count:
            return EarlierRows()
        return EarlierRows(
            count=count,
            adopted_first=_utc(row.get("adopted_first")),
            adopted_last=_utc(row.get("adopted_last")),
            replaced_last_modified=_utc(row.get("replaced_last_modified")),
        )

    def refresh_pipe(self, modified_after: str | None = None) -> int:
        """Queue the staged files of the last 7 days the pipe has not loaded; returns how many."""
        return len(self.run(plan.refresh_pipe_sql(self.sf, modified_after)))

    # --- backfill --------------------------------------------------------------------------

    def loaded_file_names(self) -> set[str]:
        return {str(r["file_name"]) for r in self.run(plan.loaded_file_names_sql(self.sf))}

    def copy_files(self, names: list[str]) -> list[dict[str, Any]]:
        """COPY the named stage-relative files with the pipe's SELECT; one row per file."""
        return self.run(plan.copy_files_sql(self.sf, names))

    # --- preflight, grants, load history --------------------------------------------------

    def session_context(self) -> dict[str, Any]:
        """CURRENT_REGION() (e.g. AWS_US_EAST_1) and CURRENT_ROLE() of this session."""
        rows = self.run(plan.session_context_sql())
        return rows[0] if rows else {}

    def roles_in_session(self, roles: Sequence[str]) -> set[str]:
        """The roles among `roles` that the session's active (primary or secondary) roles
        inherit, by IS_ROLE_IN_SESSION."""
        roles = list(dict.fromkeys(roles))
        if not roles:
            return set()
        row = self.run(plan.roles_in_session_sql(roles))[0]
        return {role for i, role in enumerate(roles) if truthy(row.get(f"r{i}"))}

    def role_hierarchy(self, role: str) -> set[str]:
        """`role` and every role it inherits (roles granted to it, transitively)."""
        seen, todo = set(), [role]
        while todo:
            current = todo.pop()
            if current in seen:
                continue
            seen.add(current)
            todo += [
                str(r.get("name"))
                for r in self.grants_to_role(current)
                if str(r.get("granted_on", "")).upper() == "ROLE"
                and str(r.get("privilege", "")).upper() == "USAGE"
            ]
        return seen

    def grants_on(self, kind: str) -> list[dict[str, Any]]:
        """SHOW GRANTS ON ACCOUNT / the configured DATABASE, SCHEMA or raw TABLE."""
        return self.run(plan.show_grants_on_sql(self.sf, kind))

    def grants_to_role(self, role: str) -> list[dict[str, Any]]:
        return self.run(plan.show_grants_to_role_sql(role))

    def role_exists(self, role: str) -> bool:
        return self._show(plan.show_roles_sql(role), role) is not None

    def schema_is_transient(self) -> bool | None:
        """None when the schema does not exist (or the session's roles cannot see it)."""
        rows = self.run(plan.schema_transient_sql(self.sf))
        if not rows:
            return None
        return truthy(rows[0].get("is_transient"))

    def dbt_role_grants(self) -> tuple[list[dict[str, Any]], list[str]]:
        """Every grant the dbt role holds, directly or through a role it inherits (SHOW GRANTS
        TO ROLE lists only direct grants), and the inherited roles read."""
        role = self.sf.dbt_role
        if role is None:
            return [], []
        inherited = sorted(self.role_hierarchy(role) - {role})
        rows = [r for current in (role, *inherited) for r in self.grants_to_role(current)]
        return rows, inherited

    def missing_dbt_grants(self) -> list[plan.Grant]:
        if self.sf.dbt_role is None:
            return []
        return plan.missing_grants(self.sf, self.dbt_role_grants()[0])

    def pipe_channels(self) -> set[str]:
        """The notification queues of every pipe in the schema (SHOW PIPES)."""
        return {
            str(r.get("notification_channel"))
            for r in self.run(plan.show_pipes_sql(self.sf))
            if r.get("notification_channel")
        }

    def ensure_dbt_grants(self) -> str:
        """Grant the dbt role only what SHOW GRANTS TO ROLE does not list yet."""
        missing = self.missing_dbt_grants()
        for grant in missing:
            self.run(grant.sql)
        if not missing:
            return "unchanged"
        return "created: " + ", ".join(f"{g.privilege} on {g.name}" for g in missing)

    def load_errors(self) -> list[dict[str, Any]]:
        """Files loaded into the raw table in the last 14 days whose status is not Loaded."""
        return self.run(plan.load_errors_sql(self.sf))

    # --- destroy ---------------------------------------------------------------------------

    def drop_if_ours(self, kind: str, row: dict[str, Any] | None, sql: str) -> str:
        if row is None:
            return "absent"
        if row.get("comment") != MARKER:
            return f"kept: {kind} has no '{MARKER}' comment, so apply did not create it"
        self.run(sql)
        return "removed"


# --- storage integration rules (pure) -------------------------------------------------------


def parse_locations(value: str) -> list[str]:
    """DESC INTEGRATION lists STORAGE_ALLOWED/BLOCKED_LOCATIONS comma-separated."""
    return [part.strip() for part in value.split(",") if part.strip()]


def location_covers(location: str, url: str) -> bool:
    """True if an allowed (or blocked) `location` includes every object under `url`."""
    if location == "*":
        return True
    return url == location or url.startswith(location.rstrip("/") + "/")


def integration_problems(config: BootstrapConfig, props: Mapping[str, str]) -> list[str]:
    """Why apply must not use this existing integration as configured, each with its fix."""
    name, url = config.snowflake.integration, config.aws.stage_url
    problems = []
    blocked = [
        b
        for b in parse_locations(props.get("STORAGE_BLOCKED_LOCATIONS", ""))
        if location_covers(b, url)
    ]
    if blocked:
        problems.append(
            f"storage integration {name} blocks {', '.join(blocked)}, which covers the stage "
            f"URL {url}; remove that entry from its STORAGE_BLOCKED_LOCATIONS, or set "
            "snowflake.integration to another integration"
        )
    current = props.get("STORAGE_AWS_ROLE_ARN", "")
    if current != config.aws.role_arn and not config.snowflake.repoint_integration_role:
        problems.append(
            f"storage integration {name} trusts the IAM role {current}, not "
            f"{config.aws.role_arn}; repointing it would cut off every other stage that reads "
            "through it. Set snowflake.integration to a new integration for these logs, or, if "
            "nothing else uses it, set [snowflake] repoint_integration_role = true"
        )
    return problems


def truthy(value: Any) -> bool:
    """Snowflake booleans as the connector or SHOW output give them (bool, 'true', 'YES')."""
    if isinstance(value, str):
        return value.strip().upper() in ("TRUE", "YES", "Y", "T", "1")
    return bool(value)
