"""Config loading and validation, quoting, and the pure plan: no cloud, no server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from bootstrap_fixtures import base_config, make_config
from hypothesis import given
from hypothesis import strategies as st

from bootstrap.cloud import names, plan
from bootstrap.cloud.aws import AwsError, merge_notification, without_notification
from bootstrap.cloud.config import load_config
from bootstrap.cloud.names import ValidationError

EXAMPLE = Path(__file__).resolve().parents[2] / "bootstrap.example.toml"
QUEUE = "arn:aws:sqs:us-east-1:123456789012:sf-snowpipe-q1"


def test_example_config_is_valid_and_normalised() -> None:
    config = load_config(EXAMPLE)

    assert config.aws.log_prefix == "s3-access-logs/"
    assert config.aws.role_arn == "arn:aws:iam::123456789012:role/snowflake-s3-access-logs"
    assert config.snowflake.raw_table == "S3_ACCESS_LOGS_RAW"
    assert config.aws.purge_loaded_files is False


@pytest.mark.parametrize(
    "bucket",
    [
        "ab",
        "Upper-case",
        "has_underscore",
        "-starts-with-dash",
        "a..b",
        "192.168.1.10",
        "xn--punycode",
        "ends-s3alias-s3alias",
        "a" * 64,
    ],
)
def test_invalid_bucket_names_are_rejected(bucket: str) -> None:
    with pytest.raises(ValidationError, match=r"aws\.log_bucket"):
        make_config(base_config(aws={"log_bucket": bucket}))


@pytest.mark.parametrize(
    ("given_prefix", "stored"),
    [("logs", "logs/"), ("logs/", "logs/"), ("logs///", "logs/"), ("a/b", "a/b/"), ("", "")],
)
def test_prefix_gets_exactly_one_trailing_slash(given_prefix: str, stored: str) -> None:
    assert make_config(base_config(aws={"log_prefix": given_prefix})).aws.log_prefix == stored


@pytest.mark.parametrize("prefix", ["/logs", "logs/*", "a//b", "a/../b", "logs/${aws:username}"])
def test_prefixes_that_would_widen_or_confuse_the_policy_are_rejected(prefix: str) -> None:
    with pytest.raises(ValidationError, match=r"aws\.log_prefix"):
        make_config(base_config(aws={"log_prefix": prefix}))


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"aws": {"role_name": "has space"}}, "aws.role_name"),
        ({"aws": {"account_id": "12345"}}, "aws.account_id"),
        ({"aws": {"region": "mars"}}, "aws.region"),
        ({"aws": {"source_buckets": ["corp-access-logs"]}}, "must not log into itself"),
        ({"aws": {"purge_loaded_files": "yes"}}, "aws.purge_loaded_files"),
        ({"aws": {"bucket": "typo"}}, "unknown setting"),
        ({"snowflake": {"schema": ""}}, "snowflake.schema"),
        ({"snowflake": {"pipe": "s3_access_logs_pipe"}}, "must differ"),
        ({"snowflake": {"stage": "bad\nname"}}, "snowflake.stage"),
        # a trailing newline must not slip through into ARNs and policy JSON
        ({"aws": {"log_bucket": "corp-access-logs\n"}}, "aws.log_bucket"),
        ({"aws": {"account_id": "123456789012\n"}}, "aws.account_id"),
        ({"aws": {"role_name": "snowflake-reader\n"}}, "aws.role_name"),
        ({"aws": {"region": "us-east-1\n"}}, "aws.region"),
    ],
)
def test_invalid_settings_name_the_setting(override: dict, field: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(field)):
        make_config(base_config(**override))


SNOWFLAKE_NAME_FIELDS = [
    "database",
    "schema",
    "integration",
    "file_format",
    "stage",
    "raw_table",
    "pipe",
    "dbt_role",
]
NAMES_NEEDING_QUOTES = [
    "int'; DROP DATABASE prod; --",
    'fmt"x',
    "st'age\\",
    'raw "landing"',
    "my table",
    "db.schema",
    "1st_table",
    "naïve",
    "a" * 256,
]


@pytest.mark.parametrize("field", SNOWFLAKE_NAME_FIELDS)
@pytest.mark.parametrize("name", NAMES_NEEDING_QUOTES)
def test_snowflake_names_that_need_quotes_are_refused_at_config_load(field: str, name: str) -> None:
    # One identifier rule: dbt writes these names unquoted, so a name that needs quotes would
    # name another object there. It is refused before anything runs, naming the setting.
    with pytest.raises(ValidationError, match=rf"snowflake\.{field}: .*(plain|255)"):
        make_config(base_config(snowflake={field: name}))


@pytest.mark.parametrize("field", ["staging_table", "pipe", "stream", "task"])
def test_quickstart_names_follow_the_same_rule(field: str) -> None:
    data = base_config()
    data["snowflake"]["quickstart"] = {field: "quick start"}
    with pytest.raises(ValidationError, match=rf"snowflake\.quickstart\.{field}: .*plain"):
        make_config(data)


def test_plain_names_of_any_case_resolve_to_upper_case() -> None:
    config = make_config(
        base_config(
            snowflake={
                "database": "security",
                "schema": "S3Logs",
                "raw_table": "Raw_Logs$1",
                "dbt_role": "transformer",
            }
        )
    )

    sf = config.snowflake
    assert (sf.database, sf.schema, sf.raw_table, sf.dbt_role) == (
        "SECURITY",
        "S3LOGS",
        "RAW_LOGS$1",
        "TRANSFORMER",
    )
    assert sf.qualified(sf.raw_table) == '"SECURITY"."S3LOGS"."RAW_LOGS$1"'


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"repoint_integration_role": "yes"}, "snowflake.repoint_integration_role"),
        ({"dbt_role": 7}, "snowflake.dbt_role"),
    ],
)
def test_new_snowflake_settings_are_validated(override: dict, field: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(field)):
        make_config(base_config(snowflake=override))


def test_new_snowflake_settings_default_to_doing_nothing_extra() -> None:
    sf = make_config(base_config()).snowflake

    assert sf.dbt_role is None
    assert sf.repoint_integration_role is False


def test_config_that_is_not_utf8_or_a_file_gets_a_message(tmp_path: Path) -> None:
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes(b"[aws]\nlog_bucket = 'caf\xe9'\n")
    with pytest.raises(ValidationError, match="not UTF-8"):
        load_config(latin1)
    with pytest.raises(ValidationError, match="cannot read config file"):
        load_config(tmp_path)


def test_missing_config_file_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"bootstrap\.example\.toml"):
        load_config(tmp_path / "nope.toml")


@given(st.text(min_size=1, max_size=40).filter(lambda t: t.isprintable()))
def test_quoted_identifier_round_trips_and_cannot_be_closed_early(name: str) -> None:
    quoted = names.quote_ident(name)

    inner = quoted[1:-1]
    assert quoted[0] == quoted[-1] == '"'
    assert inner.replace('""', "").count('"') == 0
    assert inner.replace('""', '"') == name


@given(st.text(max_size=40))
def test_string_literal_escapes_quotes_and_backslashes(text: str) -> None:
    literal = names.quote_literal(text)

    inner = literal[1:-1]
    unescaped, i = [], 0
    while i < len(inner):
        assert inner[i] != "'", "an unescaped quote would end the literal early"
        if inner[i] == "\\":
            i += 1
        unescaped.append(inner[i])
        i += 1
    assert "".join(unescaped) == text


def test_read_policy_is_least_privilege_on_the_log_prefix() -> None:
    config = make_config(base_config())

    policy = plan.read_policy(config.aws)

    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["ReadLogObjects"]["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
    assert by_sid["ReadLogObjects"]["Resource"] == "arn:aws:s3:::corp-access-logs/s3-logs/*"
    assert by_sid["ListLogPrefix"]["Condition"] == {"StringLike": {"s3:prefix": ["s3-logs/*"]}}
    assert by_sid["LocateLogBucket"]["Action"] == "s3:GetBucketLocation"
    text = str(policy)
    assert "Put" not in text and "Delete" not in text and "*:*" not in text


def test_purging_adds_only_delete_on_the_prefix() -> None:
    config = make_config(base_config(aws={"purge_loaded_files": True}))

    actions = plan.read_policy(config.aws)["Statement"][0]["Action"]

    assert actions == [
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
    ]


def test_trust_policy_binds_the_integration_user_and_external_id() -> None:
    statement = plan.trust_policy("arn:aws:iam::999999999999:user/abc", "EXT_ID=1")["Statement"]

    assert statement == [
        {
            "Sid": "SnowflakeStorageIntegration",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::999999999999:user/abc"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": "EXT_ID=1"}},
        }
    ]


def test_log_delivery_lets_each_source_write_only_its_own_folder() -> None:
    config = make_config(base_config())

    statements = plan.log_delivery_statements(config.aws)

    assert [(s["Resource"], s["Condition"]["ArnLike"]["aws:SourceArn"]) for s in statements] == [
        ("arn:aws:s3:::corp-access-logs/s3-logs/corp-data/*", "arn:aws:s3:::corp-data"),
        ("arn:aws:s3:::corp-access-logs/s3-logs/corp-exports/*", "arn:aws:s3:::corp-exports"),
    ]


def test_pipe_fills_every_metadata_column_of_the_landing_contract() -> None:
    sql = plan.create_pipe_sql(make_config(base_config()).snowflake)

    assert "(raw, file_name, file_row_number, file_last_modified, loaded_at)" in sql
    assert "SELECT $1, METADATA$FILENAME, METADATA$FILE_ROW_NUMBER," in sql
    assert "METADATA$FILE_LAST_MODIFIED, METADATA$START_SCAN_TIME" in sql
    assert "AUTO_INGEST = TRUE" in sql


def test_plan_shows_placeholders_where_snowflake_supplies_values() -> None:
    text = plan.render_plan(make_config(base_config()), plan.build_plan(make_config(base_config())))

    assert plan.IAM_USER_ARN_PLACEHOLDER in text
    assert plan.EXTERNAL_ID_PLACEHOLDER in text
    assert plan.QUEUE_ARN_PLACEHOLDER in text


TOPIC = {
    "Id": "reports",
    "TopicArn": "arn:aws:sns:us-east-1:123456789012:reports",
    "Events": ["s3:ObjectCreated:*"],
    "Filter": {"Key": {"FilterRules": [{"Name": "Prefix", "Value": "reports/"}]}},
}


_CONFIG = make_config(base_config())


def _ours() -> dict:
    return plan.queue_configuration(_CONFIG, QUEUE)


def test_merge_keeps_existing_notifications_and_is_idempotent() -> None:
    merged, outcome = merge_notification({"TopicConfigurations": [TOPIC]}, _ours())

    assert outcome == "created"
    assert merged == {"TopicConfigurations": [TOPIC], "QueueConfigurations": [_ours()]}
    again, outcome = merge_notification(merged, _ours())
    assert (again, outcome) == (None, "unchanged")


def test_merge_adopts_an_existing_notification_to_the_same_queue() -> None:
    by_hand = {"Id": "Auto-ingest Snowflake", "QueueArn": QUEUE, "Events": ["s3:ObjectCreated:*"]}

    merged, outcome = merge_notification({"QueueConfigurations": [by_hand]}, _ours())

    assert merged is None
    assert "Auto-ingest Snowflake" in outcome


def test_merge_refuses_an_overlapping_notification_to_another_destination() -> None:
    lambda_all = {
        "Id": "thumbnailer",
        "LambdaFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:thumbs",
        "Events": ["s3:ObjectCreated:Put"],
    }

    with pytest.raises(AwsError, match="thumbnailer"):
        merge_notification({"LambdaFunctionConfigurations": [lambda_all]}, _ours())


def test_removing_our_notification_keeps_the_others() -> None:
    existing = {
        "TopicConfigurations": [TOPIC],
        "QueueConfigurations": [_ours()],
        "EventBridgeConfiguration": {},
    }

    remaining, removed = without_notification(existing, _ours()["Id"])

    assert removed
    assert remaining == {"TopicConfigurations": [TOPIC], "EventBridgeConfiguration": {}}
