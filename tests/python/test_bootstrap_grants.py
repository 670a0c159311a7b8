"""[snowflake] dbt_role: apply grants what the dbt project needs, only what is missing; verify
checks it; plan shows the GRANT statements; preflight refuses a role that does not exist or a
session that could not grant.

SHOW GRANTS TO ROLE (https://docs.snowflake.com/sql-reference/sql/show-grants: "SHOW GRANTS
TO ROLE <role_name>") lists privilege, granted_on, name (the object's name) and grantee_name
(https://docs.snowflake.com/en/release-notes/bcr-bundles/2025_01/bcr-1803). GRANT <privileges>
... TO ROLE adds one privilege; granting what a role already holds changes nothing, which is
why apply reads the list first and reports only what it added. The owner of an object holds
every privilege on it (https://docs.snowflake.com/ja/user-guide/security-access-control-overview,
read in Japanese; in English: "In a regular schema, the owner role has all privileges on the
object by default, including the ability to grant or revoke privileges on the object to other
roles"). MANAGE GRANTS
"gives the ability to grant or revoke privileges on any object as if the invoking role were the
owner of the object" (CIS Snowflake Foundations 2.2, quoting Snowflake's description:
https://www.tenable.com/audits/items/CIS_Snowflake_Foundations_v2.0.0_L1.audit:
fb69e202275aac30548065b4e0d2ec3f). The recording double keeps SHOW GRANTS TO ROLE in step
with every GRANT it receives.
"""

from __future__ import annotations

from typing import Any

import pytest
from bootstrap_fixtures import Deployment, RecordingSnowflake, _grant_row

from bootstrap.cloud import plan
from bootstrap.cloud.preflight import PreflightError, find_problems
from bootstrap.cloud.verify import verify

pytest_plugins = ["bootstrap_fixtures"]

CHECK = "dbt role can read the raw table and build models"


@pytest.fixture
def with_dbt_role(
    moto: str, fakesnow_connection: Any, snowflake_double: RecordingSnowflake
) -> Deployment:
    snowflake_double.roles.add("TRANSFORMER")
    dep = Deployment(
        moto, fakesnow_connection, snowflake_double, snowflake={"dbt_role": "transformer"}
    )
    dep.create_buckets()
    return dep


def _grants_sent(dep: Deployment) -> list[str]:
    return [s for s in dep.connection.statements if s.startswith("GRANT ")]


def _expected(dep: Deployment) -> list[str]:
    db = dep.config.snowflake.database
    schema = f'"{db}"."LOGS"'
    return [
        f'GRANT USAGE ON DATABASE "{db}" TO ROLE "TRANSFORMER"',
        f'GRANT USAGE ON SCHEMA {schema} TO ROLE "TRANSFORMER"',
        f'GRANT SELECT ON TABLE {schema}."S3_ACCESS_LOGS_RAW" TO ROLE "TRANSFORMER"',
        f'GRANT CREATE TABLE ON SCHEMA {schema} TO ROLE "TRANSFORMER"',
        f'GRANT CREATE VIEW ON SCHEMA {schema} TO ROLE "TRANSFORMER"',
        f'GRANT CREATE FUNCTION ON SCHEMA {schema} TO ROLE "TRANSFORMER"',
    ]


def test_apply_grants_the_dbt_role_what_it_needs_once(with_dbt_role: Deployment) -> None:
    dep = with_dbt_role

    first = dep.apply()
    sent = _grants_sent(dep)
    second = dep.apply()

    assert sent == _expected(dep)
    assert _grants_sent(dep) == sent  # the second apply read SHOW GRANTS and granted nothing
    outcome = {r.title: r.outcome for r in first}["grants to the dbt role TRANSFORMER"]
    assert outcome.startswith("created: USAGE on ")
    assert {r.title: r.outcome for r in second}["grants to the dbt role TRANSFORMER"] == (
        "unchanged"
    )
    # the GRANT follows the CREATE TABLE it needs
    statements = dep.connection.statements
    create_table = next(i for i, s in enumerate(statements) if s.startswith("CREATE TABLE"))
    assert statements.index(sent[2]) > create_table


def test_apply_grants_only_what_the_role_lacks(with_dbt_role: Deployment) -> None:
    dep = with_dbt_role
    db = dep.config.snowflake.database
    dep.double.role_grants["TRANSFORMER"] = [
        _grant_row("USAGE", "DATABASE", db, "TRANSFORMER"),
        _grant_row("OWNERSHIP", "SCHEMA", f"{db}.LOGS", "TRANSFORMER"),
    ]

    results = dep.apply()

    assert _grants_sent(dep) == [_expected(dep)[2]]
    assert {r.title: r.outcome for r in results}["grants to the dbt role TRANSFORMER"] == (
        f"created: SELECT on {db}.LOGS.S3_ACCESS_LOGS_RAW"
    )


def test_grants_through_a_role_the_dbt_role_inherits_count(with_dbt_role: Deployment) -> None:
    # Item I: SHOW GRANTS TO ROLE "Lists all access control privileges that have been explicitly
    # granted" (https://docs.snowflake.com/sql-reference/sql/show-grants): a privilege the dbt
    # role holds through a role granted to it (a USAGE row on ROLE) is not listed for it, so
    # the roles it inherits are read too.
    dep = with_dbt_role
    db = dep.config.snowflake.database
    dep.double.roles |= {"READER", "BUILDER"}
    dep.double.role_grants["TRANSFORMER"] = [_grant_row("USAGE", "ROLE", "READER", "TRANSFORMER")]
    dep.double.role_grants["READER"] = [
        _grant_row("USAGE", "ROLE", "BUILDER", "READER"),
        _grant_row("USAGE", "DATABASE", db, "READER"),
        _grant_row("USAGE", "SCHEMA", f"{db}.LOGS", "READER"),
    ]
    dep.double.role_grants["BUILDER"] = [
        _grant_row(p, "SCHEMA", f"{db}.LOGS", "BUILDER")
        for p in ("CREATE TABLE", "CREATE VIEW", "CREATE FUNCTION")
    ]

    dep.apply()

    assert _grants_sent(dep) == [_expected(dep)[2]]  # only SELECT on the raw table was missing
    check = {c.name: c for c in verify(dep.aws, dep.sf)}[CHECK]
    assert check.ok, check.detail
    assert "the roles it inherits: BUILDER, READER" in check.detail


def test_verify_checks_the_dbt_roles_grants_and_gives_the_grant(with_dbt_role: Deployment) -> None:
    dep = with_dbt_role
    dep.apply()
    assert {c.name: c for c in verify(dep.aws, dep.sf)}[CHECK].ok
    dep.double.role_grants["TRANSFORMER"] = [
        g for g in dep.double.role_grants["TRANSFORMER"] if g["privilege"] != "CREATE FUNCTION"
    ]

    check = {c.name: c for c in verify(dep.aws, dep.sf)}[CHECK]

    assert not check.ok
    assert check.detail == (
        f"the dbt role TRANSFORMER lacks CREATE FUNCTION on {dep.config.snowflake.database}.LOGS"
        " (read: the grants to TRANSFORMER; it inherits no role); grants to PUBLIC, and "
        "database roles, are not counted"
    )
    assert check.fix.endswith(_expected(dep)[5])


def test_verify_says_the_check_is_skipped_without_a_dbt_role(deployment: Deployment) -> None:
    deployment.apply()

    check = {c.name: c for c in verify(deployment.aws, deployment.sf)}[CHECK]

    assert check.ok
    assert check.detail == "skipped: no snowflake.dbt_role is set"
    assert _grants_sent(deployment) == []


def test_plan_shows_the_grant_statements(with_dbt_role: Deployment) -> None:
    text = plan.render_plan(with_dbt_role.config, plan.build_plan(with_dbt_role.config))

    for statement in _expected(with_dbt_role):
        assert statement in text
    assert 'only if SHOW GRANTS TO ROLE "TRANSFORMER" does not list it' in text


def test_plan_has_no_grants_without_a_dbt_role(deployment: Deployment) -> None:
    text = plan.render_plan(deployment.config, plan.build_plan(deployment.config))

    assert "GRANT " not in text


def test_preflight_reports_a_dbt_role_that_does_not_exist(
    moto: str, fakesnow_connection: Any, snowflake_double: RecordingSnowflake
) -> None:
    dep = Deployment(moto, fakesnow_connection, snowflake_double, snowflake={"dbt_role": "dbt"})
    dep.create_buckets()

    with pytest.raises(PreflightError) as refused:
        dep.apply()

    assert refused.value.problems == [
        'snowflake.dbt_role DBT does not exist (SHOW ROLES); create it (CREATE ROLE "DBT") or '
        "correct snowflake.dbt_role"
    ]
    assert _grants_sent(dep) == []


def test_preflight_reports_a_session_that_could_not_grant(with_dbt_role: Deployment) -> None:
    dep = with_dbt_role
    dep.apply()  # as ACCOUNTADMIN; then a role that may create but not grant takes over
    double, db = dep.double, dep.config.snowflake.database
    double.role_grants["TRANSFORMER"] = []
    double.roles.add("LOADER")
    double.current_role = "LOADER"
    double.object_grants[("DATABASE", db)] = [_grant_row("USAGE", "DATABASE", db, "LOADER")]
    double.object_grants[("SCHEMA", f"{db}.LOGS")] = [
        _grant_row("USAGE", "SCHEMA", f"{db}.LOGS", "LOADER")
    ]

    problems = find_problems(dep.config, dep.aws, dep.sf)

    assert len(problems) == 1
    assert problems[0].startswith(
        "granting the dbt role TRANSFORMER what it lacks needs MANAGE GRANTS on the account or "
        "ownership of each object, held by a role active in this session; GRANT MANAGE GRANTS ON "
        'ACCOUNT TO ROLE "LOADER", or have an owner run: '
    )
    assert all(statement in problems[0] for statement in _expected(dep))
