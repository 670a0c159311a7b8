"""An existing storage integration is widened, never narrowed or repointed behind the user's back.

ALTER STORAGE INTEGRATION (https://docs.snowflake.com/en/sql-reference/sql/
alter-storage-integration.html): "STORAGE_ALLOWED_LOCATIONS = ('cloud_specific_url')
Explicitly limits external stages that use the integration to reference one or more storage
locations ... Supports a comma-separated list of URLs for existing buckets and, optionally,
paths used to store data files for loading/unloading. Alternatively supports the * wildcard,
meaning 'allow access to all buckets and/or paths'." SET assigns the list (there is no form
that appends), so SET with only the stage URL would take every other location away.
CREATE STORAGE INTEGRATION (https://docs.snowflake.com/sql-reference/sql/
create-storage-integration): "A single storage integration can support multiple external
stages. The URL in the stage definition must align with the storage location specified for
the STORAGE_ALLOWED_LOCATIONS parameter." So another team's stages may read through the same
integration, and through its role (STORAGE_AWS_ROLE_ARN): repointing the role cuts them off.
The recording double keeps DESC INTEGRATION's properties and applies each ALTER to them.
"""

from __future__ import annotations

from typing import Any

import pytest
from bootstrap_fixtures import SNOWFLAKE_EXTERNAL_ID, SNOWFLAKE_IAM_USER, Deployment

from bootstrap.cloud.preflight import PreflightError
from bootstrap.cloud.verify import verify

pytest_plugins = ["bootstrap_fixtures"]

OTHER_ROLE = "arn:aws:iam::123456789012:role/other-team-snowflake"
OTHER_LOCATIONS = ["s3://other-team-bucket/exports/", "s3://corp-access-logs/billing/"]


def _existing_integration(dep: Deployment, *, role: str, allowed: list[str], blocked=()) -> dict:
    props: dict[str, Any] = {
        "ENABLED": "true",
        "STORAGE_PROVIDER": "S3",
        "STORAGE_ALLOWED_LOCATIONS": ",".join(allowed),
        "STORAGE_BLOCKED_LOCATIONS": ",".join(blocked),
        "STORAGE_AWS_IAM_USER_ARN": SNOWFLAKE_IAM_USER,
        "STORAGE_AWS_ROLE_ARN": role,
        "STORAGE_AWS_EXTERNAL_ID": SNOWFLAKE_EXTERNAL_ID,
        "COMMENT": "made by the data platform team",
    }
    dep.double.integrations[dep.config.snowflake.integration] = props
    return props


def _alters(dep: Deployment) -> list[str]:
    return [s for s in dep.connection.statements if s.startswith("ALTER STORAGE INTEGRATION")]


def test_apply_adds_the_stage_url_and_keeps_every_allowed_location(deployment: Deployment) -> None:
    props = _existing_integration(
        deployment, role=deployment.config.aws.role_arn, allowed=OTHER_LOCATIONS
    )

    results = deployment.apply()

    assert props["STORAGE_ALLOWED_LOCATIONS"].split(",") == [
        *OTHER_LOCATIONS,
        "s3://corp-access-logs/s3-logs/",
    ]
    assert props["STORAGE_AWS_ROLE_ARN"] == deployment.config.aws.role_arn
    assert _alters(deployment) == [
        'ALTER STORAGE INTEGRATION "S3_INT_S3_ACCESS_LOGS" SET\n'
        "  STORAGE_ALLOWED_LOCATIONS = ('s3://other-team-bucket/exports/', "
        "'s3://corp-access-logs/billing/', 's3://corp-access-logs/s3-logs/')"
    ]
    outcome = next(r.outcome for r in results if r.title == "storage integration")
    assert outcome.startswith("updated: allowed s3://corp-access-logs/s3-logs/")
    assert [c.name for c in verify(deployment.aws, deployment.sf) if not c.ok] == []


@pytest.mark.parametrize("allowed", [["*"], ["s3://corp-access-logs/"]])
def test_a_location_that_already_covers_the_stage_url_is_left_alone(
    deployment: Deployment, allowed: list[str]
) -> None:
    props = _existing_integration(deployment, role=deployment.config.aws.role_arn, allowed=allowed)

    deployment.apply()

    assert _alters(deployment) == []
    assert props["STORAGE_ALLOWED_LOCATIONS"] == ",".join(allowed)
    assert [c.name for c in verify(deployment.aws, deployment.sf) if not c.ok] == []


def test_apply_refuses_to_repoint_an_integrations_role_unless_told(
    deployment: Deployment,
) -> None:
    props = _existing_integration(deployment, role=OTHER_ROLE, allowed=OTHER_LOCATIONS)

    with pytest.raises(PreflightError) as refused:
        deployment.apply()

    assert refused.value.problems == [
        f"storage integration S3_INT_S3_ACCESS_LOGS trusts the IAM role {OTHER_ROLE}, not "
        f"{deployment.config.aws.role_arn}; repointing it would cut off every other stage that "
        "reads through it. Set snowflake.integration to a new integration for these logs, or, "
        "if nothing else uses it, set [snowflake] repoint_integration_role = true"
    ]
    assert _alters(deployment) == []
    assert props["STORAGE_AWS_ROLE_ARN"] == OTHER_ROLE
    assert props["STORAGE_ALLOWED_LOCATIONS"] == ",".join(OTHER_LOCATIONS)


def test_repointing_the_role_when_told_keeps_the_locations(
    moto: str, fakesnow_connection: Any, snowflake_double: Any
) -> None:
    dep = Deployment(
        moto, fakesnow_connection, snowflake_double, snowflake={"repoint_integration_role": True}
    )
    dep.create_buckets()
    props = _existing_integration(dep, role=OTHER_ROLE, allowed=OTHER_LOCATIONS)

    dep.apply()

    assert props["STORAGE_AWS_ROLE_ARN"] == dep.config.aws.role_arn
    assert props["STORAGE_ALLOWED_LOCATIONS"].split(",") == [
        *OTHER_LOCATIONS,
        "s3://corp-access-logs/s3-logs/",
    ]
    assert _alters(dep)[-1] == (
        'ALTER STORAGE INTEGRATION "S3_INT_S3_ACCESS_LOGS" SET\n'
        f"  STORAGE_AWS_ROLE_ARN = '{dep.config.aws.role_arn}'"
    )


def test_apply_refuses_a_stage_url_the_integration_blocks(deployment: Deployment) -> None:
    _existing_integration(
        deployment,
        role=deployment.config.aws.role_arn,
        allowed=["*"],
        blocked=["s3://corp-access-logs/"],
    )

    with pytest.raises(PreflightError, match="blocks s3://corp-access-logs/, which covers"):
        deployment.apply()

    assert _alters(deployment) == []


def test_verify_tells_how_to_repoint_when_the_role_differs(deployment: Deployment) -> None:
    deployment.apply()
    integration = deployment.double.integrations[deployment.config.snowflake.integration]
    integration["STORAGE_AWS_ROLE_ARN"] = OTHER_ROLE

    checks = {c.name: c for c in verify(deployment.aws, deployment.sf)}

    check = checks["integration points at the IAM role and log location"]
    assert not check.ok
    assert "repoint_integration_role = true" in check.fix
