"""The Snowflake side: statement order, idempotency, quoting, the quickstart migration, the
IAM-propagation retry and the connection from environment variables."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from bootstrap_fixtures import (
    Deployment,
    RecordingSnowflake,
    base_config,
    make_config,
)

from bootstrap.cloud import plan
from bootstrap.cloud.config import MARKER
from bootstrap.cloud.destroy import destroy
from bootstrap.cloud.snowflake import (
    ConnectorConnection,
    SnowflakeSetupError,
    SnowflakeSide,
    connect_from_env,
    connection_kwargs_from_env,
)
from bootstrap.cloud.verify import verify

pytest_plugins = ["bootstrap_fixtures"]

_WRITES = re.compile(r"^\s*(CREATE|ALTER|DROP|DESC|LIST|UPDATE)\b", re.IGNORECASE)


def test_apply_runs_the_plans_sql_in_the_plans_order(deployment: Deployment) -> None:
    deployment.apply()

    planned = [
        a.body
        for a in plan.build_plan(deployment.config)
        if a.language == "sql"
        and _WRITES.match(a.body)
        and (not a.condition or "no rows predate the pipe" in a.condition)
    ]
    executed = [s for s in deployment.connection.statements if _WRITES.match(s)]
    assert executed == planned


def test_names_of_any_case_reach_snowflake_as_their_upper_case_form_everywhere(
    moto: str, fakesnow_connection: Any, snowflake_double: RecordingSnowflake
) -> None:
    # Lower- and mixed-case plain names resolve as Snowflake resolves them unquoted (the way
    # dbt writes them): every statement plan shows and apply, verify and destroy send must
    # name "SECURITY_<id>"."S3LOGS", never the spelling of the config.
    database = f"security_{uuid.uuid4().hex[:8]}"
    names_given = {
        "database": database,
        "schema": "S3Logs",
        "raw_table": "Raw_Access_Logs",
        "pipe": "raw_pipe",
        "dbt_role": "transformer",
    }
    snowflake_double.roles.add("TRANSFORMER")
    dep = Deployment(moto, fakesnow_connection, snowflake_double, snowflake=names_given)
    dep.create_buckets()
    planned = [a.body for a in plan.build_plan(dep.config) if a.language == "sql"]

    dep.apply()
    applied = len(dep.connection.statements)
    verify(dep.aws, dep.sf)
    verified = len(dep.connection.statements)
    destroy(dep.aws, dep.sf, dep.log.append)
    sent = dep.connection.statements

    schema = f'"{database.upper()}"."S3LOGS"'
    for phase, statements in {
        "plan": planned,
        "apply": sent[:applied],
        "verify": sent[applied:verified],
        "destroy": sent[verified:],
    }.items():
        assert any(schema in s for s in statements), phase
        for statement in statements:
            text = statement.replace(MARKER, "")  # 'managed by s3logs bootstrap' is no name
            for given in names_given.values():
                bounded = rf"(?<![\w$]){re.escape(given)}(?![\w$])"
                for found in re.findall(bounded, text, re.IGNORECASE):
                    assert found == given.upper(), (phase, statement)
    assert dep.sf.table_columns("RAW_ACCESS_LOGS")[0] == "RAW"
    grants = snowflake_double.role_grants["TRANSFORMER"]
    assert {(g["privilege"], g["name"]) for g in grants} >= {
        ("USAGE", database.upper()),
        ("SELECT", f"{database.upper()}.S3LOGS.RAW_ACCESS_LOGS"),
    }


def test_plain_names_are_stored_upper_case_like_unquoted_snowflake_identifiers() -> None:
    config = make_config(base_config(snowflake={"raw_table": "s3_access_logs_raw"}))

    assert config.snowflake.raw_table == "S3_ACCESS_LOGS_RAW"
    assert plan.create_table_sql(config.snowflake).startswith(
        f'CREATE TABLE IF NOT EXISTS "{config.snowflake.database}"."LOGS"."S3_ACCESS_LOGS_RAW"'
    )


def _make_quickstart(dep: Deployment, rows: list[tuple[str, str]]) -> None:
    """The quickstart's own SQL, unquoted, as users ran it by hand."""
    sf = dep.config.snowflake
    fs = dep.connection.fakesnow
    fs.execute(f'USE SCHEMA "{sf.database}"."{sf.schema}"')
    fs.execute("create table s3_access_logs_staging(raw TEXT, timestamp DATETIME)")
    for raw, loaded in rows:
        fs.execute(f"insert into s3_access_logs_staging values ('{raw}', '{loaded}')")
    dep.double.add_quickstart(sf.database, sf.schema)


QUICKSTART_ROWS = [
    ("bucketowner1 corp-data [06/Feb/2019:00:00:38 +0000] 192.0.2.3 - REQ1", "2026-01-01 10:00:00"),
    ("bucketowner1 corp-data [06/Feb/2019:00:01:02 +0000] 192.0.2.4 - REQ2", "2026-01-02 11:30:00"),
    ("bucketowner1 corp-data [06/Feb/2019:00:02:10 +0000] 192.0.2.5 - REQ3", "2026-01-03 12:45:00"),
]


def test_apply_migrates_a_quickstart_deployment_without_losing_rows(
    deployment: Deployment,
) -> None:
    _make_quickstart(deployment, QUICKSTART_ROWS)
    deployment.double.pending_files = 2
    deployment.now = datetime(2026, 1, 5, tzinfo=timezone.utc)  # the adopted rows are recent
    sf = deployment.config.snowflake

    deployment.apply()

    rows = deployment.connection.fakesnow.execute(
        f"SELECT raw, loaded_at, file_name FROM {sf.qualified(sf.raw_table)} ORDER BY raw"
    )
    assert [r["raw"] for r in rows] == [raw for raw, _ in QUICKSTART_ROWS]
    # the quickstart's times were America/Los_Angeles wall clock (the account default): UTC+8
    assert [r["loaded_at"].strftime("%Y-%m-%d %H:%M:%S") for r in rows] == [
        "2026-01-01 18:00:00",
        "2026-01-02 19:30:00",
        "2026-01-03 20:45:00",
    ]
    assert {r["file_name"] for r in rows} == {"quickstart-adopted/S3_ACCESS_LOGS_STAGING"}
    assert deployment.sf.table_columns("S3_ACCESS_LOGS_STAGING") == ()
    assert deployment.sf.count_rows("S3_ACCESS_LOGS_STAGING_QUICKSTART_ARCHIVE") == 3
    task = deployment.double.tasks[(sf.database, sf.schema, "S3_ACCESS_LOGS_TRANSFORMATION")]
    assert task["state"] == "suspended"
    assert [key[2] for key in deployment.double.pipes] == [sf.pipe]
    refresh = [s for s in deployment.connection.statements if "REFRESH" in s]
    assert len(refresh) == 1
    assert "MODIFIED_AFTER = '2026-01-03T20:45:00+00:00'" in refresh[0]
    said = "\n".join(deployment.log)
    assert "quickstart deployment found" in said
    assert "every loaded row is kept" in said
    assert "suspended the quickstart task" in said


def test_quickstart_pipe_is_paused_and_drained_before_it_is_replaced(
    deployment: Deployment,
) -> None:
    _make_quickstart(deployment, QUICKSTART_ROWS[:1])
    deployment.double.pending_files = 3

    deployment.apply()

    statements = deployment.connection.statements
    pause = next(i for i, s in enumerate(statements) if "PIPE_EXECUTION_PAUSED = TRUE" in s)
    drop = next(i for i, s in enumerate(statements) if s.startswith("DROP PIPE"))
    create = next(i for i, s in enumerate(statements) if s.startswith("CREATE PIPE"))
    assert pause < create < drop
    assert sum("SYSTEM$PIPE_STATUS" in s for s in statements[pause:create]) == 4
    assert deployment.double.pending_files == 0


def test_second_apply_after_a_migration_is_a_no_op(deployment: Deployment) -> None:
    _make_quickstart(deployment, QUICKSTART_ROWS)
    deployment.apply()

    second = deployment.apply()

    assert [r for r in second if r.changed] == []


def test_apply_refuses_when_both_quickstart_and_raw_tables_exist(deployment: Deployment) -> None:
    _make_quickstart(deployment, QUICKSTART_ROWS)
    deployment.connection.fakesnow.execute(plan.create_table_sql(deployment.config.snowflake))

    with pytest.raises(SnowflakeSetupError, match="apply will not merge them"):
        deployment.apply()

    assert not [s for s in deployment.connection.statements if _WRITES.match(s)]


def _double_side(double: RecordingSnowflake) -> SnowflakeSide:
    config = make_config(base_config())
    side = SnowflakeSide(config, double)
    double.execute(plan.create_integration_sql(config))
    double.execute(plan.create_stage_sql(config))
    return side


def test_first_stage_access_gives_up_with_a_clear_message_after_bounded_retries() -> None:
    double = RecordingSnowflake()
    side = _double_side(double)
    double.list_failures = 100
    waits: list[float] = []

    with pytest.raises(SnowflakeSetupError, match="wait a minute and re-run apply"):
        side.first_stage_access(lambda _: None, attempts=5, first_delay=5, sleep=waits.append)

    assert waits == [5, 10, 20, 40]


def test_first_stage_access_does_not_retry_errors_that_are_not_iam_propagation() -> None:
    double = RecordingSnowflake()
    side = SnowflakeSide(make_config(base_config()), double)
    waits: list[float] = []

    with pytest.raises(SnowflakeSetupError, match="does not exist"):
        side.first_stage_access(lambda _: None, sleep=waits.append)

    assert waits == []


def test_verify_reports_a_paused_or_failing_pipe(deployment: Deployment) -> None:
    deployment.apply()
    deployment.double.pipe_error = "Remote file was not found"

    checks = {c.name: c for c in verify(deployment.aws, deployment.sf)}

    assert not checks["pipe running with no errors"].ok
    assert "Remote file was not found" in checks["pipe running with no errors"].detail


def test_connection_from_environment_reaches_fakesnow(
    fakesnow_kwargs: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import snowflake.connector

    # fakesnow 0.12.1 answers ALTER SESSION SET TIMEZONE with "not implemented"; its
    # nop_regexes session parameter makes it accept the statement and do nothing.
    connect = snowflake.connector.connect

    def connect_to_fakesnow(**kwargs: Any) -> Any:
        nop = {"nop_regexes": [r"^ALTER SESSION SET TIMEZONE = 'UTC'$"]}
        return connect(
            **kwargs, session_parameters={**fakesnow_kwargs["session_parameters"], **nop}
        )

    monkeypatch.setattr(snowflake.connector, "connect", connect_to_fakesnow)
    env = {
        "SNOWFLAKE_ACCOUNT": fakesnow_kwargs["account"],
        "SNOWFLAKE_USER": fakesnow_kwargs["user"],
        "SNOWFLAKE_PASSWORD": fakesnow_kwargs["password"],
        "SNOWFLAKE_HOST": fakesnow_kwargs["host"],
        "SNOWFLAKE_PORT": str(fakesnow_kwargs["port"]),
        "SNOWFLAKE_PROTOCOL": fakesnow_kwargs["protocol"],
    }
    connection = connect_from_env(env)
    try:
        assert isinstance(connection, ConnectorConnection)
        assert connection.execute("SELECT 41 + 1 AS answer") == [{"answer": 42}]
    finally:
        connection.close()


def test_missing_snowflake_credentials_name_the_variables_to_set() -> None:
    with pytest.raises(SnowflakeSetupError, match="SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER"):
        connection_kwargs_from_env({"SNOWFLAKE_ACCOUNT": "xy12345"})


def test_private_key_path_is_accepted_instead_of_a_password(tmp_path: Path) -> None:
    key = tmp_path / "rsa_key.p8"
    key.write_text("not checked here")
    kwargs = connection_kwargs_from_env(
        {
            "SNOWFLAKE_ACCOUNT": "xy12345",
            "SNOWFLAKE_USER": "loader",
            "SNOWFLAKE_PRIVATE_KEY_PATH": str(key),
            "SNOWFLAKE_ROLE": "ACCOUNTADMIN",
        }
    )

    assert kwargs == {
        "account": "xy12345",
        "user": "loader",
        "private_key_file": str(key),
        "role": "ACCOUNTADMIN",
    }


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"SNOWFLAKE_PRIVATE_KEY_PATH": "/nonexistent/rsa_key.p8"}, "no such file"),
        ({"SNOWFLAKE_PASSWORD": "x", "SNOWFLAKE_PORT": "abc"}, "not a port number"),
    ],
)
def test_unusable_snowflake_settings_say_which_variable(extra: dict, message: str) -> None:
    with pytest.raises(SnowflakeSetupError, match=message):
        connection_kwargs_from_env(
            {"SNOWFLAKE_ACCOUNT": "xy12345", "SNOWFLAKE_USER": "loader", **extra}
        )
