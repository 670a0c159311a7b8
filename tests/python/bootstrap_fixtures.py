"""Stand-ins for the bootstrap tests: a moto server (S3, IAM, SQS), a fakesnow server, and a
recording double of a Snowflake connection for what fakesnow cannot run.

Import the fixtures into a test module with `from bootstrap_fixtures import *` style imports
of the names it uses; pytest then finds them as module-level fixtures.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from bootstrap.cloud.apply import apply
from bootstrap.cloud.aws import AwsSide
from bootstrap.cloud.config import BootstrapConfig, parse_config
from bootstrap.cloud.snowflake import ConnectorConnection, SnowflakeSide, StatementError

ACCOUNT_ID = "123456789012"  # moto's default account
REGION = "us-east-1"
SNOWFLAKE_IAM_USER = "arn:aws:iam::999999999999:user/k7m2-s-v2st0001"
SNOWFLAKE_EXTERNAL_ID = "MYACCT_SFCRole=2_a1B2c3D4e5F6g7H8i9J0kLmNoPq="
_STARTUP_TIMEOUT = 60.0


def _free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A moto server on loopback for the whole session (reset before each test that uses it)."""
    port = _free_port()
    binary = Path(sys.executable).with_name("moto_server")
    process = subprocess.Popen(
        [str(binary), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + _STARTUP_TIMEOUT
    while True:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"moto_server did not start on port {port}")
            time.sleep(0.2)
    try:
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    # Keep boto3 from reading the developer's ~/.aws files.
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)


@pytest.fixture
def moto(moto_endpoint: str, aws_env: None) -> str:
    request = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=10).close()
    return moto_endpoint


def aws_clients(endpoint: str) -> dict[str, Any]:
    session = boto3.session.Session(region_name=REGION)
    return {name: session.client(name, endpoint_url=endpoint) for name in ("s3", "iam", "sqs")}


# fakesnow_kwargs (one fakesnow server for the session) is in conftest.py.


@pytest.fixture
def fakesnow_connection(fakesnow_kwargs: dict[str, Any]) -> Iterator[ConnectorConnection]:
    import snowflake.connector

    connection = ConnectorConnection(snowflake.connector.connect(**fakesnow_kwargs))
    try:
        yield connection
    finally:
        connection.close()


def base_config(endpoint: str | None = None, **overrides: Any) -> dict[str, Any]:
    """A config dict with a unique database, so tests sharing a fakesnow server stay apart."""
    aws: dict[str, Any] = {
        "account_id": ACCOUNT_ID,
        "region": REGION,
        "log_bucket": "corp-access-logs",
        "log_prefix": "s3-logs",
        "source_buckets": ["corp-data", "corp-exports"],
        "role_name": "snowflake-s3-logs",
    }
    if endpoint:
        aws["endpoint_url"] = endpoint
    aws.update(overrides.pop("aws", {}))
    snowflake = {"database": f"DB_{uuid.uuid4().hex[:10].upper()}", "schema": "LOGS"}
    snowflake.update(overrides.pop("snowflake", {}))
    return {"aws": aws, "snowflake": snowflake}


# What a Snowflake statement that changes nothing starts with: everything else is a write.
READS = ("SHOW", "DESC", "SELECT", "LIST")


def writes(statements: list[str]) -> list[str]:
    """The statements that change something (preflight and the checks only read)."""
    return [s for s in statements if not s.lstrip().upper().startswith(READS)]


def make_config(data: dict[str, Any]) -> BootstrapConfig:
    return parse_config(data)


# --- the Snowflake double -------------------------------------------------------------------

_QI = r'"((?:[^"]|"")*)"'
_QUALIFIED = rf"{_QI}\.{_QI}\.{_QI}"
_LIT = r"'((?:[^'\\]|\\.)*)'"


def _ident(text: str) -> str:
    return text.replace('""', '"')


def _lit(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


# When a staged file was last modified, unless a test says otherwise.
DEFAULT_MODIFIED = datetime(2026, 1, 1, tzinfo=timezone.utc)

# DESC FILE FORMAT of a CSV format nobody changed: the rows (and the lower-case TYPE) of the
# example at https://docs.snowflake.com/en/sql-reference/sql/desc-file-format
_CSV_FORMAT_DEFAULTS = {
    "TYPE": "csv",
    "RECORD_DELIMITER": "\\n",
    "FIELD_DELIMITER": ",",
    "FILE_EXTENSION": "",
    "SKIP_HEADER": "0",
    "PARSE_HEADER": "FALSE",
    "DATE_FORMAT": "AUTO",
    "TIME_FORMAT": "AUTO",
    "TIMESTAMP_FORMAT": "AUTO",
    "BINARY_FORMAT": "HEX",
    "ESCAPE": "NONE",
    "ESCAPE_UNENCLOSED_FIELD": "\\\\",
    "TRIM_SPACE": "FALSE",
    "FIELD_OPTIONALLY_ENCLOSED_BY": "NONE",
    "NULL_IF": "[\\\\N]",
    "COMPRESSION": "AUTO",
    "ERROR_ON_COLUMN_COUNT_MISMATCH": "TRUE",
    "VALIDATE_UTF8": "TRUE",
    "SKIP_BLANK_LINES": "FALSE",
    "REPLACE_INVALID_CHARACTERS": "FALSE",
    "EMPTY_FIELD_AS_NULL": "TRUE",
    "SKIP_BYTE_ORDER_MARK": "TRUE",
    "ENCODING": "UTF8",
}
_OPTION = re.compile(r"(\w+) = ('(?:[^'\\]|\\.)*'|\([^)]*\)|\S+)")


def _format_options(text: str) -> dict[str, str]:
    """File format options as DESC FILE FORMAT reports them: TRUE/FALSE, NONE, [list]."""
    options = {}
    for name, value in _OPTION.findall(text):
        if value.startswith("("):
            items = re.findall(r"'((?:[^'\\]|\\.)*)'", value)
            value = "[" + ", ".join(items) + "]"
        elif value.startswith("'"):
            value = value[1:-1]  # as written: DESC shows escapes as typed (RECORD_DELIMITER \n)
        options[name.upper()] = value.upper() if name.upper() != "TYPE" else value.lower()
    return options


def _grant_row(privilege: str, granted_on: str, name: str, grantee: str) -> dict[str, Any]:
    """A row of SHOW GRANTS ON <object> / TO ROLE <role>, in the columns Snowflake documents."""
    return {
        "created_on": "2026-01-01 00:00:00.000 -0800",
        "privilege": privilege,
        "granted_on": granted_on,
        "name": name,
        "granted_to": "ROLE",
        "grantee_name": grantee,
        "grant_option": "false",
        "granted_by": "SECURITYADMIN",
    }


class RecordingSnowflake:
    """Answers the statements fakesnow cannot run, in the shapes Snowflake documents.

    Stateful, so that SHOW/DESC reflect earlier CREATE/ALTER/DROP; records every statement it
    receives in `statements`. Test knobs: `stage_files` (stage-relative names) with
    `stage_modified` (name -> last-modified time, else DEFAULT_MODIFIED), `list_failures` (how
    many LISTs fail with an IAM-propagation error first), `pending_files` (quickstart pipe drain),
    `pipe_error`, `account_timezone` (SHOW PARAMETERS) and `copy_failures` (name -> first error
    of a file COPY skips). It keeps `refreshes` (MODIFIED_AFTER of each REFRESH, or None) and
    `copies` (the FILES list of each COPY). For preflight and grants: `region`
    (CURRENT_REGION()), `current_role` and `secondary_roles` (the session), `roles` and
    `role_grants` (SHOW ROLES, SHOW GRANTS TO ROLE, GRANT ... TO ROLE), `account_grants` and
    `object_grants` (SHOW GRANTS ON; every database, schema and table is owned by `owner_role`
    unless `object_grants` says otherwise), `transient_schemas` and `absent_schemas`
    (INFORMATION_SCHEMA.SCHEMATA), and `copy_history` (INFORMATION_SCHEMA.COPY_HISTORY rows by
    'DB.SCHEMA.TABLE'). For the backfill: `uncertain_files` (files COPY skips, returning no row
    for them, unless LOAD_UNCERTAIN_FILES = TRUE) and `copy_loaded_before` (files COPY's own load
    metadata skips). `metadata_filename` is the one form of a file name the double and the tests
    agree on for METADATA$FILENAME and COPY_HISTORY's FILE_NAME: `filename_form` "bucket"
    (relative to the bucket, `log_prefix` in front) or "stage" (relative to the stage URL).
    """

    def __init__(
        self, queue_arn: str = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:sf-snowpipe-q1"
    ) -> None:
        self.queue_arn = queue_arn
        self.statements: list[str] = []
        self.integrations: dict[str, dict[str, str]] = {}
        self.stages: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.pipes: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.tasks: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.streams: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.file_formats: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.stage_files: list[str] = ["corp-data/2026-01-01-00-00-00-ABCDEF"]
        self.stage_modified: dict[str, datetime] = {}
        self.list_failures = 0
        self.pending_files = 0
        self.pipe_error: str | None = None
        self.account_timezone = "America/Los_Angeles"  # Snowflake's default
        self.session_timezone: str | None = None
        self.copy_failures: dict[str, str] = {}
        self.refreshes: list[str | None] = []
        self.copies: list[list[str]] = []
        self.region = "AWS_US_EAST_1"
        self.current_role = "ACCOUNTADMIN"
        self.secondary_roles: set[str] = set()
        self.roles = {"ACCOUNTADMIN", "SYSADMIN", "SECURITYADMIN", "USERADMIN", "PUBLIC"}
        # Snowflake's system role hierarchy: ACCOUNTADMIN inherits SYSADMIN and SECURITYADMIN,
        # SECURITYADMIN inherits USERADMIN.
        self.role_grants: dict[str, list[dict[str, Any]]] = {
            "ACCOUNTADMIN": [_grant_row("USAGE", "ROLE", "SYSADMIN", "ACCOUNTADMIN")]
            + [_grant_row("USAGE", "ROLE", "SECURITYADMIN", "ACCOUNTADMIN")],
            "SECURITYADMIN": [_grant_row("USAGE", "ROLE", "USERADMIN", "SECURITYADMIN")],
        }
        self.account_grants: list[dict[str, Any]] = [
            _grant_row("MANAGE GRANTS", "ACCOUNT", "XY12345", "SECURITYADMIN"),
            _grant_row("CREATE DATABASE", "ACCOUNT", "XY12345", "SYSADMIN"),
        ]
        self.owner_role = "SYSADMIN"
        self.object_grants: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.transient_schemas: set[tuple[str, str]] = set()
        self.absent_schemas: set[tuple[str, str]] = set()
        self.copy_history: dict[str, list[dict[str, Any]]] = {}
        self.uncertain_files: set[str] = set()
        self.copy_loaded_before: set[str] = set()
        self.log_prefix = ""
        self.filename_form = "bucket"

    def metadata_filename(self, relative: str) -> str:
        """What METADATA$FILENAME (and COPY_HISTORY's FILE_NAME) holds for a stage-relative
        name, in the form this double is set to."""
        return relative if self.filename_form == "stage" else self.log_prefix + relative

    # quickstart objects as the quickstart's unquoted SQL would have stored them
    def add_quickstart(self, database: str, schema: str) -> None:
        self.pipes[(database, schema, "S3_ACCESS_LOGS_PIPE")] = self._pipe_row(
            database,
            schema,
            "S3_ACCESS_LOGS_PIPE",
            "copy into s3_access_logs_staging from (SELECT STG.$1, current_timestamp() "
            "as timestamp FROM @s3_access_logs (FILE_FORMAT => TEXT_FORMAT) STG)",
            "",
        )
        self.streams[(database, schema, "S3_ACCESS_LOGS_STREAM")] = {
            "name": "S3_ACCESS_LOGS_STREAM",
            "database_name": database,
            "schema_name": schema,
            "table_name": f"{database}.{schema}.S3_ACCESS_LOGS_STAGING",
            "comment": "",
        }
        self.tasks[(database, schema, "S3_ACCESS_LOGS_TRANSFORMATION")] = {
            "name": "S3_ACCESS_LOGS_TRANSFORMATION",
            "database_name": database,
            "schema_name": schema,
            "state": "started",
            "comment": "",
        }

    def _pipe_row(self, db: str, schema: str, name: str, definition: str, comment: str) -> dict:
        return {
            # SHOW PIPES' created_on is a TIMESTAMP_LTZ; the connector returns a datetime
            "created_on": datetime.now(timezone.utc),
            "name": name,
            "database_name": db,
            "schema_name": schema,
            "definition": definition,
            "owner": "SYSADMIN",
            "notification_channel": self.queue_arn,
            "comment": comment,
            "integration": None,
            "pattern": None,
            "error_integration": None,
            "owner_role_type": "ROLE",
            "invalid_reason": None,
            "kind": "STAGE",
            "_paused": False,
        }

    def execute(self, sql: str) -> list[dict[str, Any]]:
        self.statements.append(sql)
        text = " ".join(sql.split())
        for pattern, handler in self._handlers():
            match = re.match(pattern, text, re.IGNORECASE)
            if match:
                return handler(*match.groups())
        raise AssertionError(f"the Snowflake double does not understand: {sql}")

    def _handlers(self) -> list[tuple[str, Any]]:
        return [
            (r"SHOW INTEGRATIONS$", self._show_integrations),
            (
                rf"CREATE STORAGE INTEGRATION IF NOT EXISTS {_QI} TYPE = EXTERNAL_STAGE "
                rf"STORAGE_PROVIDER = 'S3' ENABLED = TRUE STORAGE_AWS_ROLE_ARN = {_LIT} "
                rf"STORAGE_ALLOWED_LOCATIONS = \({_LIT}\) COMMENT = {_LIT}$",
                self._create_integration,
            ),
            (
                rf"ALTER STORAGE INTEGRATION {_QI} SET STORAGE_AWS_ROLE_ARN = {_LIT} "
                rf"STORAGE_ALLOWED_LOCATIONS = \({_LIT}\)$",
                self._alter_integration,
            ),
            (
                rf"ALTER STORAGE INTEGRATION {_QI} SET STORAGE_ALLOWED_LOCATIONS = "
                rf"\(((?:{_LIT}(?:, )?)+)\)$",
                self._alter_locations,
            ),
            (
                rf"ALTER STORAGE INTEGRATION {_QI} SET STORAGE_AWS_ROLE_ARN = {_LIT}$",
                self._alter_role,
            ),
            (r"SELECT CURRENT_REGION\(\) AS region, CURRENT_ROLE\(\) AS role$", self._context),
            (r"SELECT ((?:IS_ROLE_IN_SESSION\('[^']*'\) AS r\d+(?:, )?)+)$", self._in_session),
            (r"SHOW GRANTS ON ACCOUNT$", lambda: [dict(r) for r in self.account_grants]),
            (
                rf"SHOW GRANTS ON (DATABASE|SCHEMA|TABLE|INTEGRATION) ((?:{_QI}\.?)+)$",
                self._grants_on,
            ),
            (rf"SHOW GRANTS TO ROLE {_QI}$", self._grants_to),
            (rf"SHOW ROLES LIKE {_LIT}$", self._show_roles),
            (
                rf"GRANT ([A-Z ]+) ON (DATABASE|SCHEMA|TABLE) ((?:{_QI}\.?)+) TO ROLE {_QI}$",
                self._grant,
            ),
            (
                rf"SELECT is_transient FROM {_QI}\.INFORMATION_SCHEMA\.SCHEMATA "
                rf"WHERE schema_name = {_LIT}$",
                self._schemata,
            ),
            (
                r"SELECT file_name, status, first_error_message, error_count, row_count, "
                rf"last_load_time FROM TABLE\({_QI}\.INFORMATION_SCHEMA\.COPY_HISTORY\( "
                rf"TABLE_NAME => {_LIT}, "
                r"START_TIME => DATEADD\(day, -14, CURRENT_TIMESTAMP\(\)\)\)\) "
                r"WHERE UPPER\(status\) NOT IN \('LOADED', 'LOAD IN PROGRESS'\) "
                r"ORDER BY last_load_time DESC$",
                self._copy_history,
            ),
            (rf"DESC INTEGRATION {_QI}$", self._desc_integration),
            (rf"DROP STORAGE INTEGRATION IF EXISTS {_QI}$", self._drop_integration),
            (rf"SHOW STAGES IN SCHEMA {_QI}\.{_QI}$", self._shower(self.stages)),
            (
                rf"CREATE STAGE IF NOT EXISTS {_QUALIFIED} URL = {_LIT} STORAGE_INTEGRATION = "
                rf"{_QI} FILE_FORMAT = {_QUALIFIED} COMMENT = {_LIT}$",
                self._create_stage,
            ),
            (rf"LIST @{_QUALIFIED}$", self._list),
            (rf"DROP STAGE IF EXISTS {_QUALIFIED}$", self._dropper(self.stages)),
            (rf"SHOW PIPES IN SCHEMA {_QI}\.{_QI}$", self._shower(self.pipes)),
            (
                rf"CREATE PIPE IF NOT EXISTS {_QUALIFIED} AUTO_INGEST = TRUE COMMENT = {_LIT} "
                r"AS (COPY INTO .*)$",
                self._create_pipe,
            ),
            (rf"ALTER PIPE {_QUALIFIED} SET PIPE_EXECUTION_PAUSED = TRUE$", self._pause),
            (rf"ALTER PIPE {_QUALIFIED} REFRESH(?: MODIFIED_AFTER = {_LIT})?$", self._refresh),
            (rf"SELECT SYSTEM\$PIPE_STATUS\({_LIT}\) AS status$", self._pipe_status),
            (rf"DROP PIPE IF EXISTS {_QUALIFIED}$", self._dropper(self.pipes)),
            (rf"SHOW TASKS IN SCHEMA {_QI}\.{_QI}$", self._shower(self.tasks)),
            (rf"ALTER TASK {_QUALIFIED} SUSPEND$", self._suspend),
            (rf"SHOW STREAMS IN SCHEMA {_QI}\.{_QI}$", self._shower(self.streams)),
            (rf"DROP FILE FORMAT IF EXISTS {_QUALIFIED}$", self._dropper(self.file_formats)),
            (rf"SHOW FILE FORMATS IN SCHEMA {_QI}\.{_QI}$", self._shower(self.file_formats)),
            (
                rf"CREATE FILE FORMAT IF NOT EXISTS {_QUALIFIED} (.*) COMMENT = {_LIT}$",
                self._create_file_format,
            ),
            (rf"DESC FILE FORMAT {_QUALIFIED}$", self._desc_file_format),
            (rf"ALTER FILE FORMAT {_QUALIFIED} SET (.*)$", self._alter_file_format),
            (rf"DESC STAGE {_QUALIFIED}$", self._desc_stage),
            (r"ALTER SESSION SET TIMEZONE = " + _LIT + "$", self._set_session_timezone),
            (r"SHOW PARAMETERS LIKE 'TIMEZONE' IN ACCOUNT$", self._show_timezone),
            (
                rf"COPY INTO {_QUALIFIED} \(.*\) FROM \( SELECT .* FROM @{_QUALIFIED} \) "
                r"FILES = \( (.*) \) FILE_FORMAT = \(FORMAT_NAME = " + _LIT + r"\) "
                r"ON_ERROR = SKIP_FILE( LOAD_UNCERTAIN_FILES = TRUE)?$",
                self._copy,
            ),
        ]

    @staticmethod
    def _key(db: str, schema: str, name: str) -> tuple[str, str, str]:
        return _ident(db), _ident(schema), _ident(name)

    def _show_integrations(self) -> list[dict[str, Any]]:
        return [
            {
                "name": name,
                "type": "EXTERNAL_STAGE",
                "category": "STORAGE",
                "enabled": "true",
                "comment": props["COMMENT"],
                "created_on": "2026-01-01 00:00:00.000 -0800",
            }
            for name, props in self.integrations.items()
        ]

    def _create_integration(self, name: str, role: str, location: str, comment: str) -> list:
        name = _ident(name)
        if name not in self.integrations:
            self.integrations[name] = {
                "ENABLED": "true",
                "STORAGE_PROVIDER": "S3",
                "STORAGE_ALLOWED_LOCATIONS": _lit(location),
                "STORAGE_BLOCKED_LOCATIONS": "",
                "STORAGE_AWS_IAM_USER_ARN": SNOWFLAKE_IAM_USER,
                "STORAGE_AWS_ROLE_ARN": _lit(role),
                "STORAGE_AWS_EXTERNAL_ID": SNOWFLAKE_EXTERNAL_ID,
                "COMMENT": _lit(comment),
            }
        return [{"status": f"Integration {name} successfully created."}]

    def _alter_integration(self, name: str, role: str, location: str) -> list:
        props = self._integration(name)
        props["STORAGE_AWS_ROLE_ARN"] = _lit(role)
        props["STORAGE_ALLOWED_LOCATIONS"] = _lit(location)
        return [{"status": "Statement executed successfully."}]

    def _alter_locations(self, name: str, listed: str, _last: str) -> list:
        locations = [_lit(m.group(1)) for m in re.finditer(_LIT, listed)]
        self._integration(name)["STORAGE_ALLOWED_LOCATIONS"] = ",".join(locations)
        return [{"status": "Statement executed successfully."}]

    def _alter_role(self, name: str, role: str) -> list:
        self._integration(name)["STORAGE_AWS_ROLE_ARN"] = _lit(role)
        return [{"status": "Statement executed successfully."}]

    def _hierarchy(self, role: str) -> set[str]:
        seen, todo = set(), [role]
        while todo:
            current = todo.pop()
            if current not in seen:
                seen.add(current)
                todo += [
                    r["name"]
                    for r in self.role_grants.get(current, [])
                    if r["granted_on"] == "ROLE"
                ]
        return seen

    def _context(self) -> list[dict[str, Any]]:
        return [{"region": self.region, "role": self.current_role}]

    def _in_session(self, checks: str) -> list[dict[str, Any]]:
        active = set().union(
            *(self._hierarchy(r) for r in {self.current_role, *self.secondary_roles})
        )
        pairs = re.findall(r"IS_ROLE_IN_SESSION\('([^']*)'\) AS (r\d+)", checks)
        return [{alias.lower(): role in active for role, alias in pairs}]

    def _grants_on(self, kind: str, qualified: str, _last: str) -> list[dict[str, Any]]:
        name = ".".join(_ident(part) for part in re.findall(_QI, qualified))
        rows = self.object_grants.get((kind.upper(), name))
        if rows is None:
            rows = [_grant_row("OWNERSHIP", kind.upper(), name, self.owner_role)]
        return [dict(r) for r in rows]

    def _grants_to(self, role: str) -> list[dict[str, Any]]:
        return [dict(r) for r in self.role_grants.get(_ident(role), [])]

    def _show_roles(self, pattern: str) -> list[dict[str, Any]]:
        regex = "".join(
            "." if ch == "_" else ".*" if ch == "%" else re.escape(ch) for ch in _lit(pattern)
        )
        return [
            {"created_on": "2026-01-01 00:00:00.000 -0800", "name": role, "owner": "USERADMIN"}
            for role in sorted(self.roles)
            if re.fullmatch(regex, role, re.IGNORECASE)
        ]

    def _grant(self, privilege: str, kind: str, qualified: str, _last: str, role: str) -> list:
        role = _ident(role)
        if role not in self.roles:
            raise StatementError("", f"SQL compilation error: Role '{role}' does not exist.")
        name = ".".join(_ident(part) for part in re.findall(_QI, qualified))
        row = _grant_row(privilege, kind.upper(), name, role)
        if row not in self.role_grants.setdefault(role, []):
            self.role_grants[role].append(row)
        return [{"status": "Statement executed successfully."}]

    def _schemata(self, db: str, schema: str) -> list[dict[str, Any]]:
        key = (_ident(db), _lit(schema))
        if key in self.absent_schemas:
            return []
        return [{"is_transient": "YES" if key in self.transient_schemas else "NO"}]

    def _copy_history(self, db: str, table: str) -> list[dict[str, Any]]:
        rows = self.copy_history.get(_lit(table), [])
        failed = [r for r in rows if r["status"].upper() not in ("LOADED", "LOAD IN PROGRESS")]
        return sorted(failed, key=lambda r: r["last_load_time"], reverse=True)

    def _integration(self, name: str) -> dict[str, str]:
        name = _ident(name)
        if name not in self.integrations:
            raise StatementError("", f"SQL compilation error: Integration '{name}' does not exist")
        return self.integrations[name]

    def _desc_integration(self, name: str) -> list[dict[str, Any]]:
        return [
            {
                "property": key,
                "property_type": "Boolean" if key == "ENABLED" else "String",
                "property_value": value,
                "property_default": "",
            }
            for key, value in self._integration(name).items()
        ]

    def _drop_integration(self, name: str) -> list:
        self.integrations.pop(_ident(name), None)
        return [{"status": "dropped"}]

    def _shower(self, store: dict) -> Any:
        def show(db: str, schema: str) -> list[dict[str, Any]]:
            return [
                {k: v for k, v in row.items() if not k.startswith("_")}
                for (d, s, _), row in store.items()
                if (d, s) == (_ident(db), _ident(schema))
            ]

        return show

    def _dropper(self, store: dict) -> Any:
        def drop(db: str, schema: str, name: str) -> list:
            store.pop(self._key(db, schema, name), None)
            return [{"status": "dropped"}]

        return drop

    def _create_stage(self, db, schema, name, url, integration, *rest) -> list:
        key = self._key(db, schema, name)
        fmt_db, fmt_schema, fmt_name, comment = rest
        self.stages.setdefault(
            key,
            {
                "name": key[2],
                "database_name": key[0],
                "schema_name": key[1],
                "url": _lit(url),
                "has_credentials": "N",
                "storage_integration": _ident(integration),
                "comment": _lit(comment),
                "type": "EXTERNAL",
                "cloud": "AWS",
                "_file_format": ".".join(_ident(p) for p in (fmt_db, fmt_schema, fmt_name)),
            },
        )
        return [{"status": "Stage area successfully created."}]

    def add_stage(self, database: str, schema: str, name: str, url: str, integration: str) -> None:
        """A stage made by hand, as the quickstart's: no file format of its own."""
        self.stages[(database, schema, name)] = {
            "name": name,
            "database_name": database,
            "schema_name": schema,
            "url": url,
            "has_credentials": "N",
            "storage_integration": integration,
            "comment": "",
            "type": "EXTERNAL",
            "cloud": "AWS",
        }

    def _list(self, db: str, schema: str, name: str) -> list[dict[str, Any]]:
        if self._key(db, schema, name) not in self.stages:
            raise StatementError("", f"SQL compilation error: Stage '{name}' does not exist")
        if self.list_failures:
            self.list_failures -= 1
            raise StatementError(
                "",
                "Failure using stage area. Cause: [Access Denied (Status Code: 403; "
                "Error Code: AccessDenied)]",
            )
        url = self.stages[self._key(db, schema, name)]["url"]
        # LIST names each file by its full URL, and gives last_modified as text like
        # 'Tue, 9 Jan 2018 15:31:44 GMT' (the example output in Snowflake's "Snowflake in 20
        # minutes" tutorial, https://docs.snowflake.com/en/user-guide/tutorials/snowflake-in-20minutes).
        return [
            {
                "name": url + f,
                "size": 10,
                "md5": "0f343b0931126a20f133d67c2b018a3b",
                "last_modified": format_datetime(
                    self.stage_modified.get(f, DEFAULT_MODIFIED), usegmt=True
                ),
            }
            for f in self.stage_files
        ]

    def _create_pipe(self, db, schema, name, comment, definition) -> list:
        key = self._key(db, schema, name)
        if key not in self.pipes:
            self.pipes[key] = self._pipe_row(*key, definition, _lit(comment))
        return [{"status": f"Pipe {key[2]} successfully created."}]

    def _pause(self, db: str, schema: str, name: str) -> list:
        self.pipes[self._key(db, schema, name)]["_paused"] = True
        return [{"status": "Statement executed successfully."}]

    def _refresh(self, db: str, schema: str, name: str, modified_after: str | None) -> list:
        assert self._key(db, schema, name) in self.pipes
        self.refreshes.append(_lit(modified_after) if modified_after is not None else None)
        return [{"file": f, "status": "SENT"} for f in self.stage_files]

    def _create_file_format(self, db, schema, name, options, comment) -> list:
        key = self._key(db, schema, name)
        if key not in self.file_formats:
            props = {**_CSV_FORMAT_DEFAULTS, **_format_options(options)}
            self.file_formats[key] = {
                "created_on": datetime.now(timezone.utc),
                "name": key[2],
                "database_name": key[0],
                "schema_name": key[1],
                "type": props["TYPE"].upper(),
                "owner": "SYSADMIN",
                "comment": _lit(comment),
                "_props": props,
            }
        return [{"status": f"File format {key[2]} successfully created."}]

    def _file_format(self, db: str, schema: str, name: str) -> dict[str, Any]:
        key = self._key(db, schema, name)
        if key not in self.file_formats:
            raise StatementError("", f"SQL compilation error: File format '{name}' does not exist")
        return self.file_formats[key]

    def _desc_file_format(self, db: str, schema: str, name: str) -> list[dict[str, Any]]:
        props = self._file_format(db, schema, name)["_props"]
        return [
            {
                "property": key,
                "property_type": "String",
                "property_value": value,
                "property_default": _CSV_FORMAT_DEFAULTS.get(key, ""),
            }
            for key, value in props.items()
        ]

    def _alter_file_format(self, db: str, schema: str, name: str, options: str) -> list:
        self._file_format(db, schema, name)["_props"].update(_format_options(options))
        return [{"status": "Statement executed successfully."}]

    def _desc_stage(self, db: str, schema: str, name: str) -> list[dict[str, Any]]:
        row = self.stages[self._key(db, schema, name)]
        props = [("STAGE_LOCATION", "URL", f'["{row["url"]}"]')]
        if row.get("_file_format"):
            props.append(("STAGE_FILE_FORMAT", "FORMAT_NAME", row["_file_format"]))
        else:
            props.append(("STAGE_FILE_FORMAT", "TYPE", "CSV"))
        return [
            {
                "parent_property": parent,
                "property": prop,
                "property_type": "String",
                "property_value": value,
                "property_default": "",
            }
            for parent, prop, value in props
        ]

    def _set_session_timezone(self, value: str) -> list:
        self.session_timezone = _lit(value)
        return [{"status": "Statement executed successfully."}]

    def _show_timezone(self) -> list[dict[str, Any]]:
        return [
            {
                "key": "TIMEZONE",
                "value": self.account_timezone,
                "default": "America/Los_Angeles",
                "level": "ACCOUNT",
                "description": "time zone",
                "type": "STRING",
            }
        ]

    def _copy(self, db, schema, table, sdb, sschema, stage, files, file_format, uncertain) -> list:
        names = [_lit(f) for f in re.findall(r"'((?:[^'\\]|\\.)*)'", files)]
        self.copies.append(names)
        url = self.stages[self._key(sdb, sschema, stage)]["url"]
        # COPY leaves out, with no row of output, a file its load metadata says it loaded, and
        # one whose load status is unknown unless LOAD_UNCERTAIN_FILES = TRUE; with every file
        # left out it says only "Copy executed with 0 files processed."
        skipped = self.copy_loaded_before | (set() if uncertain else self.uncertain_files)
        names = [f for f in names if f not in skipped]
        if not names:
            return [{"status": "Copy executed with 0 files processed."}]
        # COPY's output: one row per file (the columns of the COPY example in Snowflake's
        # "Snowflake in 20 minutes" tutorial); ON_ERROR = SKIP_FILE reports a bad file as
        # LOAD_FAILED and loads none of its rows.
        return [
            {
                "file": url + f,
                "status": "LOAD_FAILED" if f in self.copy_failures else "LOADED",
                "rows_parsed": 3,
                "rows_loaded": 0 if f in self.copy_failures else 3,
                "error_limit": 1,
                "errors_seen": 1 if f in self.copy_failures else 0,
                "first_error": self.copy_failures.get(f),
                "first_error_line": 2 if f in self.copy_failures else None,
                "first_error_character": None,
                "first_error_column_name": None,
            }
            for f in names
        ]

    def _pipe_status(self, qualified: str) -> list[dict[str, Any]]:
        match = re.fullmatch(_QUALIFIED, _lit(qualified))
        assert match, qualified
        row = self.pipes[self._key(*match.groups())]
        pending = self.pending_files
        self.pending_files = max(0, self.pending_files - 1)
        status: dict[str, Any] = {
            "executionState": "PAUSED" if row["_paused"] else "RUNNING",
            "pendingFileCount": pending,
            "notificationChannelName": self.queue_arn,
            "numOutstandingMessagesOnChannel": 0,
        }
        if self.pipe_error:
            status["error"] = self.pipe_error
        return [{"status": json.dumps(status)}]

    def _suspend(self, db: str, schema: str, name: str) -> list:
        self.tasks[self._key(db, schema, name)]["state"] = "suspended"
        return [{"status": "Statement executed successfully."}]


# fakesnow 0.12.1 has no DESC/ALTER FILE FORMAT, SHOW PARAMETERS or ALTER SESSION SET TIMEZONE
# ("not implemented"), and cannot COPY from an S3 stage it cannot reach: the double answers them.
_DOUBLE_ONLY = re.compile(
    r"^\s*(?:(?:CREATE|ALTER|DROP|SHOW|DESC)\s+(?:STORAGE\s+INTEGRATION|INTEGRATIONS?|STAGES?|"
    r"PIPES?|TASKS?|STREAMS?|FILE\s+FORMATS?|PARAMETERS)\b|LIST\s+@|ALTER\s+SESSION\b|"
    r"COPY\s+INTO\b|SELECT\s+SYSTEM\$PIPE_STATUS"
    r"|SHOW\s+(?:GRANTS|ROLES)\b|GRANT\s|SELECT\s+(?:CURRENT_REGION|IS_ROLE_IN_SESSION)\("
    r"|SELECT\s+is_transient\b|SELECT\s+file_name,\s+status\b)",
    re.IGNORECASE,
)


class SplitConnection:
    """Sends tables, file formats and queries to fakesnow, the rest to the double.

    `statements` records every statement in order, whichever side ran it.
    """

    def __init__(self, fakesnow: ConnectorConnection, double: RecordingSnowflake) -> None:
        self.fakesnow = fakesnow
        self.double = double
        self.statements: list[str] = []

    def execute(self, sql: str) -> list[dict[str, Any]]:
        self.statements.append(sql)
        if _DOUBLE_ONLY.match(sql):
            return self.double.execute(sql)
        return self.fakesnow.execute(sql)


@pytest.fixture
def snowflake_double() -> RecordingSnowflake:
    return RecordingSnowflake()


def prepare_schema(fakesnow: ConnectorConnection, config: BootstrapConfig) -> None:
    """The database and schema the user is expected to have created."""
    sf = config.snowflake
    fakesnow.execute(f'CREATE DATABASE IF NOT EXISTS "{sf.database}"')
    fakesnow.execute(f"CREATE SCHEMA IF NOT EXISTS {sf.schema_sql}")


def no_sleep(_seconds: float) -> None:
    """Backoff waits are real in production and skipped in tests."""


class Deployment:
    """One account pair: moto clients, the Snowflake split connection, and the sides over them."""

    def __init__(self, endpoint: str, fakesnow: Any, double: RecordingSnowflake, **over: Any):
        self.clients = aws_clients(endpoint)
        self.config: BootstrapConfig = make_config(base_config(endpoint, **over))
        prepare_schema(fakesnow, self.config)
        self.connection = SplitConnection(fakesnow, double)
        self.double = double
        self.session = boto3.session.Session(region_name=REGION)
        self.aws = AwsSide(self.config, self.session)
        self.sf = SnowflakeSide(self.config, self.connection)
        self.log: list[str] = []
        self.now: datetime | None = None  # apply's clock; None: the real one
        double.log_prefix = self.config.aws.log_prefix

    def create_buckets(self) -> None:
        s3, sqs = self.clients["s3"], self.clients["sqs"]
        for bucket in (self.config.aws.log_bucket, *self.config.aws.source_buckets):
            s3.create_bucket(Bucket=bucket)
        # Snowflake owns the pipe's queue; in moto it has to exist for S3 to accept it.
        queue_url = sqs.create_queue(QueueName="sf-snowpipe-q1")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        self.double.queue_arn = arn["Attributes"]["QueueArn"]
        self.clients["sns"] = self.session.client("sns", endpoint_url=self.config.aws.endpoint_url)
        self.clients["sns"].create_topic(Name="reports")

    def apply(self) -> list:
        clock = {"now": self.now} if self.now is not None else {}
        return apply(self.config, self.aws, self.sf, self.log.append, sleep=no_sleep, **clock)

    def notifications(self) -> dict[str, Any]:
        return self.aws.notification_configuration()


@pytest.fixture
def deployment(moto: str, fakesnow_connection: Any, snowflake_double: RecordingSnowflake):
    dep = Deployment(moto, fakesnow_connection, snowflake_double)
    dep.create_buckets()
    return dep
