"""apply's preflight: Regions, the AWS account, Snowflake privileges and the schema's kind are
checked before the first change, and every problem is reported together with its fix.

AWS runs on the moto server (buckets in several Regions, STS); Snowflake is split between
fakesnow and the recording double, which answers CURRENT_REGION(), IS_ROLE_IN_SESSION,
SHOW GRANTS, SHOW ROLES and INFORMATION_SCHEMA.SCHEMATA in the shapes Snowflake documents.
"""

from __future__ import annotations

from typing import Any

import pytest
from bootstrap_fixtures import ACCOUNT_ID, Deployment, RecordingSnowflake, _grant_row, writes
from botocore.stub import Stubber

from bootstrap.cloud.aws import AwsError
from bootstrap.cloud.preflight import PreflightError, aws_region_from_snowflake, find_problems

pytest_plugins = ["bootstrap_fixtures"]


def _deployment(moto: str, fakesnow: Any, double: RecordingSnowflake, **over: Any) -> Deployment:
    return Deployment(moto, fakesnow, double, **over)


def _create(dep: Deployment, bucket: str, region: str = "us-east-1") -> None:
    extra = (
        {}
        if region == "us-east-1"
        else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    )
    dep.clients["s3"].create_bucket(Bucket=bucket, **extra)


def _problems(dep: Deployment) -> list[str]:
    return find_problems(dep.config, dep.aws, dep.sf)


def _nothing_changed(dep: Deployment) -> None:
    """No Snowflake statement that changes anything, and no AWS change apply would make."""
    assert writes(dep.connection.statements) == []
    s3, iam = dep.clients["s3"], dep.clients["iam"]
    for source in dep.config.aws.source_buckets:
        assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=source)
    assert [r["RoleName"] for r in iam.list_roles()["Roles"]] == []
    assert dep.double.integrations == {}


# --- Regions ----------------------------------------------------------------------------------
#
# https://docs.aws.amazon.com/AmazonS3/latest/user-guide/server-access-logging.html (source:
# github.com/awsdocs/amazon-s3-user-guide doc_source/server-access-logging.md): "When you
# enable logging, Amazon S3 delivers access logs for a source bucket to a target bucket that
# you choose. The target bucket must be in the same AWS Region as the source bucket."
# PutBucketLogging (https://docs.amazonaws.cn/sdkfornet/v3/apidocs/items/S3/
# TPutBucketLoggingRequest.html): "All logs are saved to buckets in the same Amazon Web
# Services Region as the source bucket."
# moto stores each bucket's Region (GetBucketLocation answers it) but does not refuse
# cross-Region logging, so the rule itself is this citation's.


def test_preflight_refuses_a_source_bucket_in_another_region(
    moto: str, fakesnow_connection: Any, snowflake_double: RecordingSnowflake
) -> None:
    dep = _deployment(moto, fakesnow_connection, snowflake_double)
    _create(dep, "corp-access-logs")
    _create(dep, "corp-data")
    _create(dep, "corp-exports", "eu-west-1")

    with pytest.raises(PreflightError) as refused:
        dep.apply()

    assert refused.value.problems == [
        "source bucket corp-exports is in eu-west-1, but the log bucket corp-access-logs is in "
        "us-east-1; S3 delivers server access logs only to a bucket in the source bucket's "
        "Region. Log it to a bucket in eu-west-1 (another config), or remove it from "
        "aws.source_buckets"
    ]
    _nothing_changed(dep)


# GetBucketLocation (https://docs.aws.amazon.com/sdk-for-ruby/v3/api/Aws/S3/Types/
# GetBucketLocationOutput.html): "Buckets in Region us-east-1 have a LocationConstraint of
# null. Buckets with a LocationConstraint of EU reside in eu-west-1." moto answers None for
# us-east-1 as well.


def test_preflight_says_which_region_the_log_bucket_is_really_in(
    moto: str, fakesnow_connection: Any, snowflake_double: RecordingSnowflake
) -> None:
    dep = _deployment(moto, fakesnow_connection, snowflake_double, aws={"region": "us-west-2"})
    for bucket in ("corp-access-logs", "corp-data", "corp-exports"):
        _create(dep, bucket)

    problems = _problems(dep)

    assert problems == [
        "aws.region is us-west-2, but the log bucket corp-access-logs is in us-east-1; set "
        'aws.region = "us-east-1"'
    ]


def test_a_log_bucket_in_us_east_1_is_found_from_an_empty_location_constraint(
    moto: str, fakesnow_connection: Any, snowflake_double: RecordingSnowflake
) -> None:
    dep = _deployment(moto, fakesnow_connection, snowflake_double)
    _create(dep, "corp-access-logs")
    _create(dep, "eu-logs", "eu-west-1")

    assert dep.aws.bucket_region("corp-access-logs") == "us-east-1"
    assert dep.aws.bucket_region("eu-logs") == "eu-west-1"


# The pipe's queue: AWS (https://github.com/awsdocs/amazon-s3-user-guide/blob/master/
# doc_source/setup-event-notification-destination.md): "The Amazon SQS queue must be in the
# same region as your Amazon S3 bucket." Snowflake's CURRENT_REGION
# (https://docs.snowflake.com/sql-reference/functions/current_region): "Returns the name of
# the region for the account where the current user is logged in. For organizations that
# have accounts in multiple region groups, returns region_group.region." with the example
# output AWS_US_WEST_2 and PUBLIC.AWS_US_WEST_2. That the queue Snowflake creates for a pipe
# is in the account's Region is read from an existing pipe's notification_channel when there
# is one; before the pipe exists it is inferred from CURRENT_REGION() (no Snowflake page
# found states it in so many words; see docs/bootstrap.md).


def test_preflight_refuses_a_log_bucket_outside_the_snowflake_accounts_region(
    moto: str, fakesnow_connection: Any, snowflake_double: RecordingSnowflake
) -> None:
    dep = _deployment(moto, fakesnow_connection, snowflake_double)
    dep.create_buckets()
    snowflake_double.region = "PUBLIC.AWS_EU_CENTRAL_1"

    problems = _problems(dep)

    assert len(problems) == 1
    assert problems[0].startswith(
        "the pipe's notification queue is in eu-central-1 (CURRENT_REGION() "
        "PUBLIC.AWS_EU_CENTRAL_1), but the log bucket corp-access-logs is in us-east-1"
    )
    assert "Use a log bucket in eu-central-1" in problems[0]


def test_an_existing_pipes_queue_decides_the_region(
    moto: str, fakesnow_connection: Any, snowflake_double: RecordingSnowflake
) -> None:
    dep = _deployment(moto, fakesnow_connection, snowflake_double)
    dep.create_buckets()
    dep.apply()
    pipe = next(iter(snowflake_double.pipes.values()))
    pipe["notification_channel"] = "arn:aws:sqs:ap-southeast-2:999999999999:sf-snowpipe-x"

    problems = _problems(dep)

    assert len(problems) == 1
    assert "queue is in ap-southeast-2 (SHOW PIPES notification_channel arn:aws:sqs:" in problems[0]


@pytest.mark.parametrize(
    ("current_region", "aws_region"),
    [
        ("AWS_US_WEST_2", "us-west-2"),
        ("PUBLIC.AWS_AP_NORTHEAST_1", "ap-northeast-1"),
        ("AWS_US_GOV_WEST_1", "us-gov-west-1"),
        ("AZURE_WESTEUROPE", None),
        ("GCP_US_CENTRAL1", None),
    ],
)
def test_snowflake_region_names_map_to_aws_regions(
    current_region: str, aws_region: str | None
) -> None:
    assert aws_region_from_snowflake(current_region) == aws_region


# --- the AWS account --------------------------------------------------------------------------
#
# STS GetCallerIdentity (https://docs.aws.amazon.com/STS/latest/APIReference/
# API_GetCallerIdentity.html): "Account: The AWS account ID number of the account that owns
# or contains the calling entity." moto answers it (account 123456789012).


def test_preflight_refuses_credentials_of_another_account(
    moto: str, fakesnow_connection: Any, snowflake_double: RecordingSnowflake
) -> None:
    dep = _deployment(
        moto, fakesnow_connection, snowflake_double, aws={"account_id": "210987654321"}
    )
    dep.create_buckets()

    problems = _problems(dep)

    assert problems == [
        f"the AWS credentials belong to account {ACCOUNT_ID}, but aws.account_id is "
        "210987654321; use credentials for 210987654321 (AWS_PROFILE), or correct "
        "aws.account_id"
    ]


# ExpectedBucketOwner (https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/s3/
# aws.sdk.kotlin.services.s3.model/-get-object-request/expected-bucket-owner.html): "The
# account ID of the expected bucket owner. If the account ID that you provide does not match
# the actual owner of the bucket, the request fails with the HTTP status code 403 Forbidden
# (access denied)." moto ignores the parameter, so S3's answer is stubbed here.


def test_a_bucket_owned_by_another_account_is_refused(
    moto: str, fakesnow_connection: Any, snowflake_double: RecordingSnowflake
) -> None:
    dep = _deployment(moto, fakesnow_connection, snowflake_double)
    with Stubber(dep.aws.s3) as stub:
        stub.add_client_error(
            "get_bucket_location",
            service_error_code="AccessDenied",
            http_status_code=403,
            expected_params={"Bucket": "corp-data", "ExpectedBucketOwner": ACCOUNT_ID},
        )
        with pytest.raises(
            AwsError, match=f"bucket corp-data is not owned by account {ACCOUNT_ID}"
        ):
            dep.aws.bucket_region("corp-data")


# --- the schema -------------------------------------------------------------------------------
#
# CREATE SCHEMA, TRANSIENT (https://docs.snowflake.com/ja/sql-reference/sql/create-schema;
# the English page https://docs.snowflake.com/sql-reference/sql/create-schema says the same):
# "Specifies a schema as transient. Transient schemas do not have a Fail-safe period ...
# Also, by definition, all tables created in a transient schema are transient."
# INFORMATION_SCHEMA.SCHEMATA (https://docs.snowflake.com/sql-reference/info-schema/schemata):
# "IS_TRANSIENT VARCHAR Whether this is a transient schema"; "The view only displays objects
# for which the current role for the session has been granted access privileges."
# fakesnow's SCHEMATA says NO even for a TRANSIENT schema, so the double answers.


def test_preflight_refuses_a_transient_schema(deployment: Deployment) -> None:
    sf = deployment.config.snowflake
    deployment.double.transient_schemas.add((sf.database, sf.schema))

    with pytest.raises(PreflightError) as refused:
        deployment.apply()

    assert refused.value.problems == [
        f'schema "{sf.database}"."LOGS" is TRANSIENT: every table created in it is transient, '
        "so the raw table would have no Fail-safe. Point snowflake.schema at a permanent "
        "schema (CREATE SCHEMA without TRANSIENT)"
    ]
    _nothing_changed(deployment)


def test_preflight_refuses_a_schema_it_cannot_see(deployment: Deployment) -> None:
    sf = deployment.config.snowflake
    deployment.double.absent_schemas.add((sf.database, sf.schema))

    problems = _problems(deployment)

    assert problems == [
        f'schema "{sf.database}"."LOGS" does not exist, or the session\'s roles cannot see it; '
        f'create it (CREATE SCHEMA "{sf.database}"."LOGS") or grant USAGE on it and its database'
    ]


# --- Snowflake privileges ---------------------------------------------------------------------
#
# SHOW GRANTS (https://docs.snowflake.com/sql-reference/sql/show-grants): "SHOW GRANTS ON
# ACCOUNT", "SHOW GRANTS ON <object_type> <object_name>", "SHOW GRANTS TO ROLE <role_name>".
# Its columns (https://docs.snowflake.com/en/release-notes/bcr-bundles/2025_01/bcr-1803,
# "aligns the output of SHOW GRANTS TO ROLE and SHOW GRANTS TO USER"): created_on, privilege,
# granted_on ("Object kind, such as TABLE or DATABASE, on which the privilege is granted"),
# name ("Name of the object on which the privilege is granted"), granted_to, grantee_name,
# grant_option, granted_by.
# IS_ROLE_IN_SESSION (https://docs.snowflake.com/en/sql-reference/functions/
# is_role_in_session.html): "Verifies whether the specified account role is in the currently
# active primary or secondary role hierarchy."
# USE SECONDARY ROLES (https://docs.snowflake.com/sql-reference/sql/use-secondary-roles):
# "Note that authorization to execute CREATE <object> statements to create objects is
# provided by the primary role." So a CREATE privilege counts only when the primary role
# (CURRENT_ROLE()) or a role it inherits (SHOW GRANTS TO ROLE: USAGE on ROLE rows) holds it.


def _loader_session(double: RecordingSnowflake) -> None:
    """A session whose primary role LOADER holds nothing yet."""
    double.roles.add("LOADER")
    double.current_role = "LOADER"


def test_preflight_lists_every_missing_privilege_with_its_grant(deployment: Deployment) -> None:
    _loader_session(deployment.double)
    sf = deployment.config.snowflake
    schema = f'"{sf.database}"."LOGS"'

    with pytest.raises(PreflightError) as refused:
        deployment.apply()

    assert refused.value.problems == [
        f'using the database needs USAGE on DATABASE "{sf.database}", held by a role active in '
        f'this session; GRANT USAGE ON DATABASE "{sf.database}" TO ROLE "LOADER"',
        f"using the schema needs USAGE on SCHEMA {schema}, held by a role active in this "
        f'session; GRANT USAGE ON SCHEMA {schema} TO ROLE "LOADER"',
        "creating the storage integration needs CREATE INTEGRATION on ACCOUNT, held by the "
        "primary role LOADER or a role it inherits; GRANT CREATE INTEGRATION ON ACCOUNT TO ROLE "
        '"LOADER" (as ACCOUNTADMIN), or run apply with SNOWFLAKE_ROLE=ACCOUNTADMIN',
        *(
            f"creating the {what} needs {privilege} on SCHEMA {schema}, held by the primary role "
            f'LOADER or a role it inherits; GRANT {privilege} ON SCHEMA {schema} TO ROLE "LOADER"'
            for what, privilege in (
                ("file format", "CREATE FILE FORMAT"),
                ("stage", "CREATE STAGE"),
                ("raw table", "CREATE TABLE"),
                ("pipe", "CREATE PIPE"),
            )
        ),
    ]
    _nothing_changed(deployment)


def test_create_privileges_count_only_through_the_primary_role(deployment: Deployment) -> None:
    double, sf = deployment.double, deployment.config.snowflake
    _loader_session(double)
    double.roles.add("BUILDER")
    double.secondary_roles = {"BUILDER"}
    schema_name = f"{sf.database}.LOGS"
    double.object_grants[("DATABASE", sf.database)] = [
        _grant_row("USAGE", "DATABASE", sf.database, "BUILDER")
    ]
    double.object_grants[("SCHEMA", schema_name)] = [
        _grant_row("USAGE", "SCHEMA", schema_name, "BUILDER"),
        _grant_row("CREATE STAGE", "SCHEMA", schema_name, "BUILDER"),
        _grant_row("CREATE FILE FORMAT", "SCHEMA", schema_name, "LOADER"),
        _grant_row("CREATE TABLE", "SCHEMA", schema_name, "LOADER"),
        _grant_row("CREATE PIPE", "SCHEMA", schema_name, "LOADER"),
    ]
    double.account_grants.append(_grant_row("CREATE INTEGRATION", "ACCOUNT", "XY12345", "LOADER"))

    problems = _problems(deployment)

    # USAGE through the secondary role BUILDER is enough; CREATE STAGE through it is not.
    assert [p.split(";")[0] for p in problems] == [
        f'creating the stage needs CREATE STAGE on SCHEMA "{sf.database}"."LOGS", held by the '
        "primary role LOADER or a role it inherits"
    ]


def test_create_privileges_are_needed_only_for_objects_that_do_not_exist(
    deployment: Deployment,
) -> None:
    deployment.apply()  # as ACCOUNTADMIN: everything exists now
    double, sf = deployment.double, deployment.config.snowflake
    _loader_session(double)
    double.object_grants[("DATABASE", sf.database)] = [
        _grant_row("USAGE", "DATABASE", sf.database, "LOADER")
    ]
    double.object_grants[("SCHEMA", f"{sf.database}.LOGS")] = [
        _grant_row("USAGE", "SCHEMA", f"{sf.database}.LOGS", "LOADER")
    ]

    assert _problems(deployment) == []


def test_inherited_roles_count_for_create_privileges(deployment: Deployment) -> None:
    # ACCOUNTADMIN inherits SYSADMIN, which owns the database and schema in the double, and
    # may create integrations itself: the default session needs nothing more.
    assert _problems(deployment) == []


# --- everything at once -----------------------------------------------------------------------


def test_every_problem_is_reported_together_and_nothing_is_changed(
    moto: str, fakesnow_connection: Any, snowflake_double: RecordingSnowflake
) -> None:
    dep = _deployment(
        moto,
        fakesnow_connection,
        snowflake_double,
        aws={"account_id": "210987654321", "region": "us-west-2"},
        snowflake={"dbt_role": "transformer"},
    )
    _create(dep, "corp-access-logs")
    _create(dep, "corp-data", "eu-west-1")
    sf = dep.config.snowflake
    snowflake_double.transient_schemas.add((sf.database, sf.schema))
    _loader_session(snowflake_double)

    with pytest.raises(PreflightError) as refused:
        dep.apply()

    found = "\n".join(refused.value.problems)
    for expected in (
        "bucket corp-exports does not exist",
        "the AWS credentials belong to account 123456789012",
        "aws.region is us-west-2",
        "source bucket corp-data is in eu-west-1",
        "is TRANSIENT",
        "snowflake.dbt_role TRANSFORMER does not exist",
        "creating the storage integration needs CREATE INTEGRATION",
        "creating the pipe needs CREATE PIPE",
    ):
        assert expected in found
    assert str(refused.value).startswith(
        f"preflight found {len(refused.value.problems)} problem(s); nothing was changed:\n  - "
    )
    assert writes(dep.connection.statements) == []
    assert "LoggingEnabled" not in dep.clients["s3"].get_bucket_logging(Bucket="corp-data")
    assert dep.clients["iam"].list_roles()["Roles"] == []
    assert "Policy" not in _bucket_policy(dep, "corp-access-logs")


def test_the_cli_prints_every_problem_without_a_traceback(
    deployment: Deployment, tmp_path: Any
) -> None:
    from click.testing import CliRunner

    from bootstrap.cloud import cli as cloud_cli

    aws, sf = deployment.config.aws, deployment.config.snowflake
    deployment.double.transient_schemas.add((sf.database, sf.schema))
    path = tmp_path / "bootstrap.toml"
    path.write_text(
        "[aws]\n"
        f'account_id = "{aws.account_id}"\nregion = "{aws.region}"\n'
        f'log_bucket = "{aws.log_bucket}"\nlog_prefix = "{aws.log_prefix}"\n'
        'source_buckets = ["corp-data", "corp-exports", "corp-missing"]\n'
        f'role_name = "{aws.role_name}"\nendpoint_url = "{aws.endpoint_url}"\n'
        f'[snowflake]\ndatabase = "{sf.database}"\nschema = "{sf.schema}"\n'
    )
    obj = {"snowflake_connection": deployment.connection, "sleep": lambda _s: None}

    result = CliRunner().invoke(cloud_cli.bootstrap, ["apply", "-c", str(path)], obj=obj)

    assert result.exit_code == 1
    assert "preflight found 2 problem(s); nothing was changed:" in result.output
    assert "  - bucket corp-missing does not exist" in result.output
    assert "is TRANSIENT" in result.output
    assert "Traceback" not in result.output
    assert writes(deployment.connection.statements) == []


def _bucket_policy(dep: Deployment, bucket: str) -> dict:
    try:
        return dep.clients["s3"].get_bucket_policy(Bucket=bucket)
    except dep.clients["s3"].exceptions.ClientError:
        return {}


# --- the log bucket's notifications (item H) --------------------------------------------------
#
# S3 accepts one destination per event type and overlapping key-name filter (the rule
# aws.merge_notification already applies at step 8, documented under "Configuring event
# notifications using object key name filtering" in the Amazon S3 User Guide); the new pipe's
# queue is known only once the pipe exists. moto does not refuse overlaps, so this test checks
# the refusal comes before any change.


def _topic_on_the_log_prefix(dep: Deployment) -> str:
    sns = dep.session.client("sns", endpoint_url=dep.config.aws.endpoint_url)
    arn = sns.create_topic(Name="everything")["TopicArn"]
    dep.clients["s3"].put_bucket_notification_configuration(
        Bucket=dep.config.aws.log_bucket,
        NotificationConfiguration={
            "TopicConfigurations": [
                {"Id": "all-new-objects", "TopicArn": arn, "Events": ["s3:ObjectCreated:Put"]}
            ]
        },
    )
    return arn


def test_an_overlapping_notification_is_refused_before_the_pipe_exists(
    deployment: Deployment,
) -> None:
    arn = _topic_on_the_log_prefix(deployment)

    with pytest.raises(PreflightError) as refused:
        deployment.apply()

    [problem] = [p for p in refused.value.problems if "notification" in p]
    assert "notification 'all-new-objects' already sends events overlapping" in problem
    assert arn in problem and "fan out through SNS" in problem
    _nothing_changed(deployment)
    assert deployment.double.pipes == {}


def test_a_notification_to_an_existing_pipes_queue_is_not_a_conflict(
    deployment: Deployment,
) -> None:
    # the quickstart's hand-made notification: new objects under the prefix to its pipe's queue
    deployment.double.add_quickstart(deployment.config.snowflake.database, "LOGS")
    deployment.clients["s3"].put_bucket_notification_configuration(
        Bucket=deployment.config.aws.log_bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "Id": "quickstart",
                    "QueueArn": deployment.double.queue_arn,
                    "Events": ["s3:ObjectCreated:*"],
                }
            ]
        },
    )

    assert not [p for p in _problems(deployment) if "notification" in p]


# --- an existing storage integration (item H) -------------------------------------------------
#
# CREATE STAGE ... STORAGE_INTEGRATION needs USAGE on the integration, and ALTER STORAGE
# INTEGRATION needs its OWNERSHIP (the "Access control requirements" of
# https://docs.snowflake.com/en/sql-reference/sql/create-stage and
# https://docs.snowflake.com/en/sql-reference/sql/alter-storage-integration; the stored copy of
# the docs did not return those tables, so this is their reading, not a quotation). SHOW GRANTS
# ON INTEGRATION <name> lists who holds them ("SHOW GRANTS ON <object_type> <object_name>",
# https://docs.snowflake.com/sql-reference/sql/show-grants).


def _foreign_integration(dep: Deployment, owner: str, locations: str) -> str:
    cfg = dep.config
    dep.double.integrations[cfg.snowflake.integration] = {
        "ENABLED": "true",
        "STORAGE_PROVIDER": "S3",
        "STORAGE_ALLOWED_LOCATIONS": locations,
        "STORAGE_BLOCKED_LOCATIONS": "",
        "STORAGE_AWS_IAM_USER_ARN": "arn:aws:iam::999999999999:user/k7m2-s-v2st0001",
        "STORAGE_AWS_ROLE_ARN": cfg.aws.role_arn,
        "STORAGE_AWS_EXTERNAL_ID": "MYACCT_SFCRole=2_abc=",
        "COMMENT": "",
    }
    dep.double.roles.add(owner)
    dep.double.object_grants[("INTEGRATION", cfg.snowflake.integration)] = [
        _grant_row("OWNERSHIP", "INTEGRATION", cfg.snowflake.integration, owner)
    ]
    return cfg.snowflake.integration


def test_an_integration_the_session_cannot_use_or_alter_is_refused(
    deployment: Deployment,
) -> None:
    name = _foreign_integration(deployment, "PLATFORM", "s3://elsewhere/")

    problems = _problems(deployment)

    assert (
        f"creating the stage through the existing storage integration needs USAGE on "
        f'INTEGRATION "{name}", held by the primary role ACCOUNTADMIN or a role it inherits; '
        f'GRANT USAGE ON INTEGRATION "{name}" TO ROLE "ACCOUNTADMIN"'
    ) in problems
    assert [p for p in problems if p.startswith("adding the stage URL to the existing storage")]
    assert [p for p in problems if f'needs OWNERSHIP on INTEGRATION "{name}"' in p]


def test_usage_is_enough_when_the_integration_already_allows_the_location(
    deployment: Deployment,
) -> None:
    name = _foreign_integration(deployment, "PLATFORM", deployment.config.aws.stage_url)
    deployment.double.object_grants[("INTEGRATION", name)].append(
        _grant_row("USAGE", "INTEGRATION", name, "SYSADMIN")
    )

    assert not [p for p in _problems(deployment) if "INTEGRATION" in p]
