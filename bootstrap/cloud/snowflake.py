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
from typing import Any, Protocol

from bootstrap.cloud import names, plan
from bootstrap.cloud.config import MARKER, BootstrapConfig


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
        return ConnectorConnection(snowflake.connector.connect(**kwargs))
    except snowflake.connector.errors.Error as exc:
        raise SnowflakeSetupError(f"cannot connect to Snowflake: {exc}") from exc


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

    @property
    def found(self) -> bool:
        return bool(self.staging_columns) or self.pipe or self.task_state == "started"


class SnowflakeSide:
    def __init__(self, config: BootstrapConfig, connection: Connection) -> None:
        self.config = config
        self.sf = config.snowflake
        self.connection = connection

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

    def stage(self) -> dict[str, Any] | None:
        return self._show(plan.show_stages_sql(self.sf), self.sf.stage)

    def pipe(self, name: str | None = None) -> dict[str, Any] | None:
        return self._show(plan.show_pipes_sql(self.sf), name or self.sf.pipe)

    def task(self, name: str) -> dict[str, Any] | None:
        return self._show(plan.show_tasks_sql(self.sf), name)

    def stream(self, name: str) -> dict[str, Any] | None:
        return self._show(plan.show_streams_sql(self.sf), name)

    def table_columns(self, table: str) -> tuple[str, ...]:
        rows = self.run(plan.table_columns_sql(self.sf, table))
        return tuple(str(r["column_name"]).upper() for r in rows)

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
        if self.file_format() is not None:
            return "unchanged"
        self.run(plan.create_file_format_sql(self.sf))
        return "created"

    def ensure_stage(self) -> str:
        row = self.stage()
        if row is None:
            self.run(plan.create_stage_sql(self.config))
            return "created"
        url, integration = row.get("url", ""), row.get("storage_integration", "")
        if url.rstrip("/") != self.config.aws.stage_url.rstrip("/") or (
            integration and integration != self.sf.integration
        ):
            raise SnowflakeSetupError(
                f"stage {self.sf.qualified(self.sf.stage)} exists but reads {url} through "
                f"{integration or 'no integration'}; apply will not repoint a stage other pipes "
                "may use. Set snowflake.stage to a new name, or drop that stage."
            )
        return "unchanged"

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
        return Quickstart(
            staging_columns=columns if {"RAW", "TIMESTAMP"} <= set(columns) else (),
            pipe=self.pipe(qs.pipe) is not None,
            task_state=str(task.get("state", "")).lower() if task else None,
            stream=self.stream(qs.stream) is not None,
        )

    def check_migration_possible(self, quickstart: Quickstart) -> None:
        if quickstart.staging_columns and self.table_columns(self.sf.raw_table):
            raise SnowflakeSetupError(
                f"both the quickstart table {self.sf.qualified(self.sf.quickstart.staging_table)} "
                f"and the raw table {self.sf.qualified(self.sf.raw_table)} exist; apply will not "
                "merge them. Copy the rows you need into one and drop the other, or set "
                "snowflake.raw_table to the quickstart table's name."
            )

    def migrate_quickstart(
        self,
        quickstart: Quickstart,
        report: Callable[[str], None],
        *,
        attempts: int = 30,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Stop the quickstart's loading and processing, then turn its table into the raw table.

        Each step checks its own state, so a migration interrupted half-way resumes on re-run.
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
            for column, sql_type in plan.RAW_COLUMNS[1:]:
                if column not in quickstart.staging_columns:
                    self.run(plan.add_column_sql(sf, qs.staging_table, column, sql_type))
            self.run(plan.backfill_loaded_at_sql(sf, qs.staging_table))
            report(
                "  added file_name, file_row_number, file_last_modified, loaded_at to the "
                "quickstart table (loaded_at copied from its timestamp column)"
            )
            if qs.staging_table != sf.raw_table:
                self.run(plan.rename_table_sql(sf, qs.staging_table, sf.raw_table))
                report(
                    f"  renamed {sf.qualified(qs.staging_table)} to {sf.qualified(sf.raw_table)}; "
                    "every loaded row is kept"
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
        missing = [name for name, _ in plan.RAW_COLUMNS if name not in columns]
        if missing:
            raise SnowflakeSetupError(
                f"table {self.sf.qualified(self.sf.raw_table)} exists without the raw landing "
                f"columns {', '.join(missing)}; add them or choose another snowflake.raw_table"
            )
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

    def migrated_high_water(self) -> str | None:
        rows = self.run(plan.migrated_high_water_sql(self.sf))
        if not rows or not rows[0].get("migrated_rows"):
            return None
        value = rows[0].get("high_water")
        if value is None:
            return None
        return value.isoformat() if hasattr(value, "isoformat") else str(value)

    def refresh_pipe(self, modified_after: str | None = None) -> None:
        self.run(plan.refresh_pipe_sql(self.sf, modified_after))

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

    def missing_dbt_grants(self) -> list[plan.Grant]:
        if self.sf.dbt_role is None:
            return []
        return plan.missing_grants(self.sf, self.grants_to_role(self.sf.dbt_role))

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
