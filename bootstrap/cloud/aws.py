"""The AWS side: S3 server access logging, the log bucket's policy, the IAM role Snowflake
assumes, and the log bucket's event notification to Snowpipe's queue.

Every `ensure_*` reads the current state first and changes only what differs, so apply can be
re-run; every `remove_*` touches only what apply would have created.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.exceptions import ClientError

from bootstrap.cloud import plan
from bootstrap.cloud.config import TAG_KEY, TAG_VALUE, AwsConfig, BootstrapConfig

NOTIFICATION_KINDS = (
    "TopicConfigurations",
    "QueueConfigurations",
    "LambdaFunctionConfigurations",
)
DESTINATION_KEYS = {
    "TopicConfigurations": "TopicArn",
    "QueueConfigurations": "QueueArn",
    "LambdaFunctionConfigurations": "LambdaFunctionArn",
}


class AwsError(RuntimeError):
    """An AWS precondition or call failed; the message says what to do."""


def make_session(config: AwsConfig) -> boto3.session.Session:
    """A boto3 session from the standard credential chain; fails clearly without credentials."""
    session = boto3.session.Session(region_name=config.region)
    if session.get_credentials() is None:
        raise AwsError(
            "no AWS credentials found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials)"
        )
    return session


class AwsSide:
    def __init__(self, config: BootstrapConfig, session: boto3.session.Session) -> None:
        self.config = config
        self.aws = config.aws
        # endpoint_url in the config wins; otherwise boto3 honours AWS_ENDPOINT_URL itself.
        extra = {"endpoint_url": self.aws.endpoint_url} if self.aws.endpoint_url else {}
        self.s3 = session.client("s3", **extra)
        self.iam = session.client("iam", **extra)
        self.sts = session.client("sts", **extra)

    # --- reads -----------------------------------------------------------------------------

    def bucket_exists(self, bucket: str) -> bool:
        try:
            self.s3.head_bucket(Bucket=bucket)
        except ClientError as exc:
            if _code(exc) in ("404", "NoSuchBucket", "NotFound"):
                return False
            raise AwsError(f"cannot read bucket {bucket}: {exc}") from exc
        return True

    def logging_target(self, bucket: str) -> dict[str, Any] | None:
        return self.s3.get_bucket_logging(Bucket=bucket).get("LoggingEnabled")

    def bucket_policy(self) -> dict[str, Any] | None:
        try:
            text = self.s3.get_bucket_policy(Bucket=self.aws.log_bucket)["Policy"]
        except ClientError as exc:
            if _code(exc) == "NoSuchBucketPolicy":
                return None
            raise
        return json.loads(text)

    def notification_configuration(self) -> dict[str, Any]:
        response = self.s3.get_bucket_notification_configuration(Bucket=self.aws.log_bucket)
        return {k: v for k, v in response.items() if k != "ResponseMetadata"}

    def role(self) -> dict[str, Any] | None:
        try:
            return self.iam.get_role(RoleName=self.aws.role_name)["Role"]
        except ClientError as exc:
            if _code(exc) == "NoSuchEntity":
                return None
            raise

    def role_is_ours(self) -> bool:
        tags = self.iam.list_role_tags(RoleName=self.aws.role_name).get("Tags", [])
        return {"Key": TAG_KEY, "Value": TAG_VALUE} in tags

    def role_policy(self) -> dict[str, Any] | None:
        try:
            document = self.iam.get_role_policy(
                RoleName=self.aws.role_name, PolicyName=plan.read_policy_name(self.aws)
            )["PolicyDocument"]
        except ClientError as exc:
            if _code(exc) == "NoSuchEntity":
                return None
            raise
        return as_document(document)

    def other_role_policies(self) -> list[str]:
        """Policies on the role that apply did not put there (e.g. the quickstart's)."""
        inline = self.iam.list_role_policies(RoleName=self.aws.role_name)["PolicyNames"]
        attached = self.iam.list_attached_role_policies(RoleName=self.aws.role_name)
        names = [p for p in inline if p != plan.read_policy_name(self.aws)]
        return names + [p["PolicyArn"] for p in attached["AttachedPolicies"]]

    # --- preflight -------------------------------------------------------------------------

    def preflight(self) -> None:
        """Refuse before changing anything if apply would overwrite something it does not own."""
        problems = self.preflight_problems()
        if problems:
            raise AwsError("; ".join(problems))

    def preflight_problems(self) -> list[str]:
        """Every reason apply would refuse on the AWS side, each with its fix."""
        missing = [
            b for b in (self.aws.log_bucket, *self.aws.source_buckets) if not self.bucket_exists(b)
        ]
        problems = [f"bucket {b} does not exist (create it, or fix the config)" for b in missing]
        for source in self.aws.source_buckets:
            if source in missing:
                continue
            current = self.logging_target(source)
            wanted = plan.bucket_logging_status(self.aws, source)["LoggingEnabled"]
            if current and _logging_key(current) != _logging_key(wanted):
                problems.append(
                    f"bucket {source} already logs to s3://{current['TargetBucket']}/"
                    f"{current.get('TargetPrefix', '')}; a bucket has one logging target, so "
                    "apply will not replace it. Remove the bucket from aws.source_buckets, or "
                    "disable its logging first."
                )
        return problems

    def caller_account(self) -> str:
        """The account whose credentials apply runs with (STS GetCallerIdentity)."""
        return str(self.sts.get_caller_identity()["Account"])

    def bucket_region(self, bucket: str) -> str:
        """The bucket's Region, refusing a bucket that aws.account_id does not own.

        GetBucketLocation reports no LocationConstraint for us-east-1, and the legacy 'EU' for
        eu-west-1. ExpectedBucketOwner makes S3 answer 403 when another account owns it.
        """
        try:
            response = self.s3.get_bucket_location(
                Bucket=bucket, ExpectedBucketOwner=self.aws.account_id
            )
        except ClientError as exc:
            if _code(exc) in ("403", "AccessDenied"):
                raise AwsError(
                    f"bucket {bucket} is not owned by account {self.aws.account_id} (or these "
                    "credentials may not call s3:GetBucketLocation on it); the log bucket and "
                    "every source bucket must belong to aws.account_id"
                ) from exc
            raise AwsError(f"cannot read the Region of bucket {bucket}: {exc}") from exc
        constraint = response.get("LocationConstraint") or "us-east-1"
        return {"EU": "eu-west-1"}.get(constraint, constraint)

    # --- ensure (apply) --------------------------------------------------------------------

    def ensure_log_delivery_policy(self) -> str:
        wanted = plan.log_delivery_statements(self.aws)
        policy = self.bucket_policy() or {"Version": "2012-10-17", "Statement": []}
        others, ours = self._split_delivery_statements(policy)
        if ours and same_document(ours, wanted):
            return "unchanged"
        policy["Statement"] = [*others, *wanted]
        self.s3.put_bucket_policy(Bucket=self.aws.log_bucket, Policy=json.dumps(policy))
        return "updated" if ours else "created"

    def _split_delivery_statements(
        self, policy: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        prefix = plan.log_delivery_sid_prefix(self.aws)
        statements = _statements(policy)
        ours = [s for s in statements if str(s.get("Sid", "")).startswith(prefix)]
        return [s for s in statements if s not in ours], ours

    def ensure_logging(self, source: str) -> str:
        wanted = plan.bucket_logging_status(self.aws, source)
        current = self.logging_target(source)
        if current and _logging_key(current) == _logging_key(wanted["LoggingEnabled"]):
            return "unchanged"
        self.s3.put_bucket_logging(Bucket=source, BucketLoggingStatus=wanted)
        return "created"

    def ensure_role(self, iam_user_arn: str, external_id: str) -> str:
        trust = plan.trust_policy(iam_user_arn, external_id)
        role = self.role()
        if role is None:
            self.iam.create_role(
                RoleName=self.aws.role_name,
                AssumeRolePolicyDocument=json.dumps(trust),
                Description="Snowflake storage integration reading S3 server access logs",
                Tags=[{"Key": TAG_KEY, "Value": TAG_VALUE}],
            )
            return "created"
        if same_document(as_document(role["AssumeRolePolicyDocument"]), trust):
            return "unchanged"
        self.iam.update_assume_role_policy(
            RoleName=self.aws.role_name, PolicyDocument=json.dumps(trust)
        )
        return "updated"

    def ensure_read_policy(self) -> str:
        wanted = plan.read_policy(self.aws)
        current = self.role_policy()
        if current is not None and same_document(current, wanted):
            return "unchanged"
        self.iam.put_role_policy(
            RoleName=self.aws.role_name,
            PolicyName=plan.read_policy_name(self.aws),
            PolicyDocument=json.dumps(wanted),
        )
        return "created" if current is None else "updated"

    def ensure_notification(self, queue_arn: str) -> str:
        ours = plan.queue_configuration(self.config, queue_arn)
        merged, outcome = merge_notification(self.notification_configuration(), ours)
        if merged is not None:
            self.s3.put_bucket_notification_configuration(
                Bucket=self.aws.log_bucket, NotificationConfiguration=merged
            )
        return outcome

    # --- remove (destroy) ------------------------------------------------------------------

    def remove_notification(self) -> str:
        current = self.notification_configuration()
        remaining, removed = without_notification(current, self.config.notification_id)
        if not removed:
            return "absent"
        self.s3.put_bucket_notification_configuration(
            Bucket=self.aws.log_bucket, NotificationConfiguration=remaining
        )
        return "removed"

    def remove_role(self) -> str:
        if self.role() is None:
            return "absent"
        if not self.role_is_ours():
            return f"kept: role has no {TAG_KEY}={TAG_VALUE} tag, so apply did not create it"
        others = self.other_role_policies()
        if others:
            return f"kept: role also has policies apply did not add ({', '.join(others)})"
        if self.role_policy() is not None:
            self.iam.delete_role_policy(
                RoleName=self.aws.role_name, PolicyName=plan.read_policy_name(self.aws)
            )
        self.iam.delete_role(RoleName=self.aws.role_name)
        return "removed"

    def disable_logging(self, source: str) -> str:
        if not self.bucket_exists(source):
            return "absent"
        current = self.logging_target(source)
        wanted = plan.bucket_logging_status(self.aws, source)["LoggingEnabled"]
        if not current:
            return "absent"
        if _logging_key(current) != _logging_key(wanted):
            return "kept: logs to another target, which apply did not set"
        self.s3.put_bucket_logging(Bucket=source, BucketLoggingStatus={})
        return "removed"

    def remove_log_delivery_statements(self) -> str:
        policy = self.bucket_policy()
        if policy is None:
            return "absent"
        others, ours = self._split_delivery_statements(policy)
        if not ours:
            return "absent"
        if others:
            policy["Statement"] = others
            self.s3.put_bucket_policy(Bucket=self.aws.log_bucket, Policy=json.dumps(policy))
        else:
            self.s3.delete_bucket_policy(Bucket=self.aws.log_bucket)
        return "removed"


# --- notification merging (pure) ------------------------------------------------------------


def merge_notification(
    existing: dict[str, Any], ours: dict[str, Any]
) -> tuple[dict[str, Any] | None, str]:
    """Add `ours` to a bucket's notification configuration without touching the others.

    S3's PutBucketNotificationConfiguration replaces the whole configuration, so the merged
    result must carry every existing entry. Returns (configuration to put, outcome); the
    configuration is None when nothing needs to change.
    """
    queues = list(existing.get("QueueConfigurations", []))
    same_id = [q for q in queues if q.get("Id") == ours["Id"]]
    if same_id and same_document(_normalise_entry(same_id[0]), _normalise_entry(ours)):
        return None, "unchanged"
    for kind in NOTIFICATION_KINDS:
        for entry in existing.get(kind, []):
            if entry.get("Id") == ours["Id"] or not overlaps(entry, ours):
                continue
            same_queue = kind == "QueueConfigurations" and entry.get("QueueArn") == ours["QueueArn"]
            if same_queue and notification_covers(entry, ours):
                return None, f"unchanged: notification {entry.get('Id')!r} already does this"
            raise AwsError(
                f"the log bucket's notification {entry.get('Id')!r} already sends overlapping "
                f"events to {entry.get(DESTINATION_KEYS[kind])}; S3 allows one destination per "
                "event type and prefix. Narrow its prefix, or fan out through SNS, then re-run."
            )
    merged = {k: list(v) for k, v in existing.items() if k in NOTIFICATION_KINDS and v}
    if "EventBridgeConfiguration" in existing:
        merged["EventBridgeConfiguration"] = existing["EventBridgeConfiguration"]
    merged["QueueConfigurations"] = [q for q in queues if q.get("Id") != ours["Id"]] + [ours]
    return merged, "updated" if same_id else "created"


def without_notification(
    existing: dict[str, Any], notification_id: str
) -> tuple[dict[str, Any], bool]:
    """The configuration minus the entry with `notification_id`; others are kept as they are."""
    remaining: dict[str, Any] = {}
    removed = False
    for kind in NOTIFICATION_KINDS:
        entries = existing.get(kind, [])
        kept = [e for e in entries if e.get("Id") != notification_id]
        removed = removed or len(kept) < len(entries)
        if kept:
            remaining[kind] = kept
    if "EventBridgeConfiguration" in existing:
        remaining["EventBridgeConfiguration"] = existing["EventBridgeConfiguration"]
    return remaining, removed


def notification_filter(entry: dict[str, Any]) -> tuple[str, str]:
    """(prefix, suffix) of a notification entry; S3 spells the rule names in either case."""
    rules = entry.get("Filter", {}).get("Key", {}).get("FilterRules", [])
    values = {rule["Name"].lower(): rule["Value"] for rule in rules}
    return values.get("prefix", ""), values.get("suffix", "")


def _events_overlap(a: list[str], b: list[str]) -> bool:
    def covers(x: str, y: str) -> bool:
        return x == y or (x.endswith("*") and y.startswith(x[:-1]))

    return any(covers(x, y) or covers(y, x) for x in a for y in b)


def overlaps(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """True if two notification entries can be sent the same event (S3 refuses that)."""
    (pa, sa), (pb, sb) = notification_filter(a), notification_filter(b)
    prefixes = pa.startswith(pb) or pb.startswith(pa)
    suffixes = sa.endswith(sb) or sb.endswith(sa)
    return prefixes and suffixes and _events_overlap(a.get("Events", []), b.get("Events", []))


def notification_covers(entry: dict[str, Any], ours: dict[str, Any]) -> bool:
    """True if `entry` is notified of every object `ours` would be."""
    prefix, suffix = notification_filter(entry)
    our_prefix, _ = notification_filter(ours)
    return (
        not suffix
        and our_prefix.startswith(prefix)
        and any(e in ("s3:ObjectCreated:*", "s3:*") for e in entry.get("Events", []))
    )


def _normalise_entry(entry: dict[str, Any]) -> dict[str, Any]:
    prefix, suffix = notification_filter(entry)
    return {
        "Id": entry.get("Id"),
        "QueueArn": entry.get("QueueArn"),
        "Events": sorted(entry.get("Events", [])),
        "Filter": (prefix, suffix),
    }


# --- helpers --------------------------------------------------------------------------------


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def as_document(document: Any) -> dict[str, Any]:
    # boto3 decodes IAM policy documents to dicts; some S3-compatible endpoints return strings.
    return json.loads(document) if isinstance(document, str) else document


def _statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    statements = policy.get("Statement", [])
    return [statements] if isinstance(statements, dict) else list(statements)


def same_document(a: Any, b: Any) -> bool:
    """Policy equality up to the orderings IAM and S3 do not preserve."""
    return _canonical(a) == _canonical(b)


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        items = [_canonical(v) for v in value]
        if len(items) == 1 and not isinstance(items[0], dict | list):
            return items[0]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    return value


def _logging_key(target: dict[str, Any]) -> tuple[str, str]:
    return target.get("TargetBucket", ""), target.get("TargetPrefix", "")
