"""apply, verify and destroy end to end: AWS on a moto server, Snowflake split between the
fakesnow server (tables, file formats) and the recording double (integration, stage, pipe)."""

from __future__ import annotations

import json

import pytest
from bootstrap_fixtures import (
    ACCOUNT_ID,
    REGION,
    SNOWFLAKE_EXTERNAL_ID,
    SNOWFLAKE_IAM_USER,
    Deployment,
    writes,
)

from bootstrap.cloud import plan
from bootstrap.cloud.aws import AwsError
from bootstrap.cloud.destroy import destroy
from bootstrap.cloud.verify import verify

pytest_plugins = ["bootstrap_fixtures"]

UNRELATED_TOPIC_NOTIFICATION = {
    "Id": "existing-topic-for-reports",
    "TopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:reports",
    "Events": ["s3:ObjectCreated:*"],
    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "reports/"}]}},
}
UNRELATED_POLICY_STATEMENT = {
    "Sid": "DenyInsecureTransport",
    "Effect": "Deny",
    # {"AWS": "*"} rather than the equivalent "*": moto's logging check crashes on a bare string
    "Principal": {"AWS": "*"},
    "Action": "s3:*",
    "Resource": "arn:aws:s3:::corp-access-logs/*",
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}

OTHER_TEAM_LOG_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::other-team-logs/*",
        }
    ],
}


def _changes(results: list) -> list[str]:
    return [f"{r.side}: {r.title}: {r.outcome}" for r in results if r.changed]


def test_apply_sets_up_every_piece_and_verify_passes(deployment: Deployment) -> None:
    deployment.apply()

    checks = verify(deployment.aws, deployment.sf)
    assert [c.name for c in checks if not c.ok] == []
    s3, iam = deployment.clients["s3"], deployment.clients["iam"]
    assert s3.get_bucket_logging(Bucket="corp-data")["LoggingEnabled"] == {
        "TargetBucket": "corp-access-logs",
        "TargetPrefix": "s3-logs/corp-data/",
    }
    trust = iam.get_role(RoleName="snowflake-s3-logs")["Role"]["AssumeRolePolicyDocument"]
    statement = trust["Statement"][0]
    assert statement["Principal"] == {"AWS": SNOWFLAKE_IAM_USER}
    assert statement["Condition"] == {"StringEquals": {"sts:ExternalId": SNOWFLAKE_EXTERNAL_ID}}
    columns = deployment.sf.table_columns(deployment.config.snowflake.raw_table)
    assert columns == ("RAW", "FILE_NAME", "FILE_ROW_NUMBER", "FILE_LAST_MODIFIED", "LOADED_AT")


def test_second_apply_is_a_no_op(deployment: Deployment) -> None:
    first = deployment.apply()
    assert _changes(first)
    statements_before = len(deployment.connection.statements)

    second = deployment.apply()

    assert _changes(second) == []
    later = deployment.connection.statements[statements_before:]
    # every run queues the last 7 days' files; the pipe's load history skips those it loaded
    assert writes(later) == [plan.refresh_pipe_sql(deployment.config.snowflake)]


def test_apply_keeps_existing_notifications_and_destroy_removes_only_its_own(
    deployment: Deployment,
) -> None:
    s3 = deployment.clients["s3"]
    s3.put_bucket_notification_configuration(
        Bucket="corp-access-logs",
        NotificationConfiguration={"TopicConfigurations": [UNRELATED_TOPIC_NOTIFICATION]},
    )

    deployment.apply()
    after_apply = deployment.notifications()
    assert [t["Id"] for t in after_apply["TopicConfigurations"]] == ["existing-topic-for-reports"]
    assert [q["QueueArn"] for q in after_apply["QueueConfigurations"]] == [
        deployment.double.queue_arn
    ]

    destroy(deployment.aws, deployment.sf, deployment.log.append)
    after_destroy = deployment.notifications()
    assert after_destroy.get("QueueConfigurations", []) == []
    assert [t["Id"] for t in after_destroy["TopicConfigurations"]] == ["existing-topic-for-reports"]


def test_destroy_leaves_unrelated_resources_alone(deployment: Deployment) -> None:
    s3, iam = deployment.clients["s3"], deployment.clients["iam"]
    s3.put_bucket_policy(
        Bucket="corp-access-logs",
        Policy=json.dumps({"Version": "2012-10-17", "Statement": [UNRELATED_POLICY_STATEMENT]}),
    )
    s3.create_bucket(Bucket="other-team-bucket")
    s3.create_bucket(Bucket="other-team-logs")
    s3.put_bucket_policy(Bucket="other-team-logs", Policy=json.dumps(OTHER_TEAM_LOG_POLICY))
    s3.put_bucket_logging(
        Bucket="other-team-bucket",
        BucketLoggingStatus={
            "LoggingEnabled": {"TargetBucket": "other-team-logs", "TargetPrefix": "other/"}
        },
    )
    iam.create_role(
        RoleName="other-team-role",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "ec2.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    deployment.apply()

    destroy(deployment.aws, deployment.sf, deployment.log.append)

    policy = json.loads(s3.get_bucket_policy(Bucket="corp-access-logs")["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["DenyInsecureTransport"]
    assert (
        s3.get_bucket_logging(Bucket="other-team-bucket")["LoggingEnabled"]["TargetPrefix"]
        == "other/"
    )
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket="corp-data")
    roles = [r["RoleName"] for r in iam.list_roles()["Roles"]]
    assert "other-team-role" in roles
    assert "snowflake-s3-logs" not in roles
    assert deployment.double.pipes == {}
    assert deployment.double.integrations == {}
    # the raw table holds loaded data, so destroy keeps it
    assert deployment.sf.table_columns(deployment.config.snowflake.raw_table)


def test_destroy_keeps_objects_it_did_not_create(deployment: Deployment) -> None:
    iam = deployment.clients["iam"]
    deployment.apply()
    iam.untag_role(RoleName="snowflake-s3-logs", TagKeys=["managed-by"])
    integration = deployment.double.integrations[deployment.config.snowflake.integration]
    integration["COMMENT"] = "made by hand"

    results = destroy(deployment.aws, deployment.sf, deployment.log.append)

    outcomes = {r.title: r.outcome for r in results}
    assert outcomes["IAM role snowflake-s3-logs"].startswith("kept")
    assert outcomes["storage integration"].startswith("kept")
    assert iam.get_role(RoleName="snowflake-s3-logs")
    assert deployment.config.snowflake.integration in deployment.double.integrations


def test_verify_reports_a_broken_trust_policy_with_a_fix(deployment: Deployment) -> None:
    deployment.apply()
    broken = plan.trust_policy(SNOWFLAKE_IAM_USER, "SOMEONE_ELSES_EXTERNAL_ID")
    deployment.clients["iam"].update_assume_role_policy(
        RoleName="snowflake-s3-logs", PolicyDocument=json.dumps(broken)
    )

    checks = {c.name: c for c in verify(deployment.aws, deployment.sf)}

    trust = checks["IAM role trusts the integration (user ARN + external id)"]
    assert not trust.ok
    assert SNOWFLAKE_EXTERNAL_ID in trust.detail
    assert "re-run apply" in trust.fix
    assert [name for name, c in checks.items() if not c.ok] == [trust.name]


def test_verify_reports_missing_notification_and_disabled_logging(deployment: Deployment) -> None:
    deployment.apply()
    deployment.clients["s3"].put_bucket_notification_configuration(
        Bucket="corp-access-logs", NotificationConfiguration={}
    )
    deployment.clients["s3"].put_bucket_logging(Bucket="corp-exports", BucketLoggingStatus={})

    failed = {c.name for c in verify(deployment.aws, deployment.sf) if not c.ok}

    assert failed == {
        "bucket notification points to the pipe's queue",
        "server access logging on corp-exports",
    }


def test_apply_retries_first_stage_access_while_iam_propagates(deployment: Deployment) -> None:
    deployment.double.list_failures = 2

    deployment.apply()

    retries = [line for line in deployment.log if "IAM changes take time to propagate" in line]
    assert len(retries) == 2
    assert deployment.double.pipes


def test_apply_refuses_to_repoint_a_bucket_that_logs_elsewhere(deployment: Deployment) -> None:
    s3 = deployment.clients["s3"]
    s3.create_bucket(Bucket="legacy-logs")
    legacy_policy = json.dumps(OTHER_TEAM_LOG_POLICY).replace("other-team-logs", "legacy-logs")
    s3.put_bucket_policy(Bucket="legacy-logs", Policy=legacy_policy)
    s3.put_bucket_logging(
        Bucket="corp-data",
        BucketLoggingStatus={
            "LoggingEnabled": {"TargetBucket": "legacy-logs", "TargetPrefix": "x/"}
        },
    )

    with pytest.raises(AwsError, match="already logs to s3://legacy-logs/x/"):
        deployment.apply()

    assert writes(deployment.connection.statements) == []  # refused before any change
    assert s3.get_bucket_logging(Bucket="corp-exports").get("LoggingEnabled") is None


def test_least_privilege_policy_applied_to_the_role_reads_only_the_prefix(
    deployment: Deployment,
) -> None:
    deployment.apply()

    document = deployment.clients["iam"].get_role_policy(
        RoleName="snowflake-s3-logs", PolicyName="snowflake-s3-logs-s3logs-read"
    )["PolicyDocument"]

    actions = {a for s in document["Statement"] for a in _as_list(s["Action"])}
    assert actions == {
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:ListBucket",
        "s3:GetBucketLocation",
    }
    resources = {s["Resource"] for s in document["Statement"]}
    assert resources == {"arn:aws:s3:::corp-access-logs/s3-logs/*", "arn:aws:s3:::corp-access-logs"}


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value
