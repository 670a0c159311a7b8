"""Everything that would make apply fail half-way or do harm, checked before its first change.

Each check only reads. Every problem found is reported together, each with its fix, so one
run of apply tells the user all there is to set right; nothing has changed when it refuses.

- AWS: the buckets exist and no source bucket logs elsewhere; the credentials belong to
  aws.account_id, which owns every bucket; aws.region is the log bucket's Region; every source
  bucket is in the log bucket's Region (S3 delivers access logs only within a Region); the
  log bucket is in the Region of the pipe's queue (S3 notifies only a queue in its Region).
- Snowflake: the schema exists and is not transient (the raw table must keep Fail-safe); an
  existing storage integration neither blocks the stage URL nor trusts another role (unless
  repointing was asked for); the session's roles hold the privileges apply uses; the dbt
  role exists; a quickstart deployment can be adopted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from bootstrap.cloud import names, plan
from bootstrap.cloud.aws import DESTINATION_KEYS, NOTIFICATION_KINDS, AwsError, AwsSide, overlaps
from bootstrap.cloud.config import BootstrapConfig, SnowflakeConfig
from bootstrap.cloud.names import ValidationError
from bootstrap.cloud.snowflake import (
    SnowflakeSetupError,
    SnowflakeSide,
    StatementError,
    integration_problems,
    location_covers,
    parse_locations,
    truthy,
)


class PreflightError(AwsError, SnowflakeSetupError):
    """apply refused before changing anything; `problems` lists every reason, with its fix.

    Both an AwsError and a SnowflakeSetupError: its problems come from either side, and
    callers that handle either kind of refusal handle this one.
    """

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"preflight found {len(self.problems)} problem(s); nothing was changed:\n{lines}"
        )


def check(config: BootstrapConfig, aws: AwsSide, sf: SnowflakeSide) -> None:
    problems = find_problems(config, aws, sf)
    if problems:
        raise PreflightError(problems)


def find_problems(config: BootstrapConfig, aws: AwsSide, sf: SnowflakeSide) -> list[str]:
    problems: list[str] = []

    def collect(topic: str, probe: Callable[[], list[str]]) -> None:
        try:
            problems.extend(probe())
        except (AwsError, SnowflakeSetupError, ValidationError) as exc:
            problems.append(str(exc))
        except (StatementError, ClientError, BotoCoreError) as exc:
            problems.append(f"could not check {topic}: {exc}")

    collect("the buckets", aws.preflight_problems)
    collect("the AWS account", lambda: account_problems(config, aws))
    collect("the Regions", lambda: region_problems(config, aws, sf))
    collect("the schema", lambda: schema_problems(config, sf))
    collect("the storage integration", lambda: integration_check(sf))
    collect("the dbt role", lambda: dbt_role_problems(config, sf))
    collect("the Snowflake privileges", lambda: privilege_problems(config, sf))
    collect("the quickstart deployment", lambda: quickstart_problems(sf))
    collect("the stage, pipe and file format apply would reuse", lambda: reuse_problems(sf))
    collect("the raw table", lambda: [f"{what}; {fix}" for what, fix in sf.raw_table_problems()])
    collect("the log bucket's notifications", lambda: notification_problems(config, aws, sf))
    return problems


# --- AWS --------------------------------------------------------------------------------------


def account_problems(config: BootstrapConfig, aws: AwsSide) -> list[str]:
    actual = aws.caller_account()
    if actual == config.aws.account_id:
        return []
    return [
        f"the AWS credentials belong to account {actual}, but aws.account_id is "
        f"{config.aws.account_id}; use credentials for {config.aws.account_id} (AWS_PROFILE), "
        "or correct aws.account_id"
    ]


def region_problems(config: BootstrapConfig, aws: AwsSide, sf: SnowflakeSide) -> list[str]:
    cfg = config.aws
    problems: list[str] = []
    regions: dict[str, str] = {}
    for bucket in (cfg.log_bucket, *cfg.source_buckets):
        if not aws.bucket_exists(bucket):
            continue  # reported by the bucket check
        try:
            regions[bucket] = aws.bucket_region(bucket)
        except AwsError as exc:
            problems.append(str(exc))
    log_region = regions.get(cfg.log_bucket)
    if log_region is None:
        return problems
    if log_region != cfg.region:
        problems.append(
            f"aws.region is {cfg.region}, but the log bucket {cfg.log_bucket} is in "
            f'{log_region}; set aws.region = "{log_region}"'
        )
    for source in cfg.source_buckets:
        region = regions.get(source)
        if region is not None and region != log_region:
            problems.append(
                f"source bucket {source} is in {region}, but the log bucket {cfg.log_bucket} is "
                f"in {log_region}; S3 delivers server access logs only to a bucket in the "
                f"source bucket's Region. Log it to a bucket in {region} (another config), or "
                "remove it from aws.source_buckets"
            )
    queue_region, where = snowflake_queue_region(sf)
    if queue_region is not None and queue_region != log_region:
        problems.append(
            f"the pipe's notification queue is in {queue_region} ({where}), but the log bucket "
            f"{cfg.log_bucket} is in {log_region}; S3 sends event notifications only to a "
            f"queue in the bucket's own Region. Use a log bucket in {queue_region}, or a "
            f"Snowflake account in {log_region}"
        )
    return problems


def snowflake_queue_region(sf: SnowflakeSide) -> tuple[str | None, str]:
    """The Region of the SQS queue Snowpipe will be notified through, and how it was found.

    An existing pipe names its queue (SHOW PIPES notification_channel); before the pipe exists
    the queue is the Snowflake account's, in CURRENT_REGION(). (None, why) when it cannot be
    known before the pipe exists: an account hosted outside AWS.
    """
    row = sf.pipe()
    channel = str((row or {}).get("notification_channel") or "")
    if channel.startswith("arn:"):
        return channel.split(":")[3], f"SHOW PIPES notification_channel {channel}"
    current = str(sf.session_context().get("region") or "")
    return aws_region_from_snowflake(current), f"CURRENT_REGION() {current}"


def aws_region_from_snowflake(region: str) -> str | None:
    """AWS_US_EAST_1 (or PUBLIC.AWS_US_EAST_1) -> us-east-1; None outside AWS."""
    name = region.rsplit(".", 1)[-1].upper()
    if not name.startswith("AWS_"):
        return None
    candidate = name[4:].lower().replace("_", "-")
    try:
        return names.region(candidate, "CURRENT_REGION()")
    except ValidationError:
        return None


def notification_problems(config: BootstrapConfig, aws: AwsSide, sf: SnowflakeSide) -> list[str]:
    """A notification on the log bucket that already sends the events apply's would (S3 allows
    one destination per event type and prefix) to anything but a pipe's queue.

    The new pipe's queue is known only once the pipe exists, so any overlapping destination
    that is not the queue of a pipe already in the schema is refused here, before any change,
    instead of at the notification step, after the pipe was created.
    """
    if not aws.bucket_exists(config.aws.log_bucket):
        return []  # reported by the bucket check
    ours = plan.queue_configuration(config, plan.QUEUE_ARN_PLACEHOLDER)
    channels = sf.pipe_channels()
    existing = aws.notification_configuration()
    problems = []
    for kind in NOTIFICATION_KINDS:
        for entry in existing.get(kind, []):
            if entry.get("Id") == ours["Id"] or not overlaps(entry, ours):
                continue
            destination = entry.get(DESTINATION_KEYS[kind])
            if kind == "QueueConfigurations" and destination in channels:
                continue  # a pipe's queue: apply adopts it, or adds its own beside it
            problems.append(
                f"the log bucket {config.aws.log_bucket}'s notification {entry.get('Id')!r} "
                f"already sends events overlapping s3:ObjectCreated:* under "
                f"'{config.aws.log_prefix}' to {destination}; S3 allows one destination per "
                "event type and prefix, so the pipe could not be notified. Narrow that "
                "notification's prefix, or fan out through SNS; if it is a Snowflake pipe's "
                "queue in another schema, remove it or use another log prefix"
            )
    return problems


# --- Snowflake --------------------------------------------------------------------------------


def schema_problems(config: BootstrapConfig, sf: SnowflakeSide) -> list[str]:
    schema = config.snowflake.schema_sql
    transient = sf.schema_is_transient()
    if transient is None:
        return [
            f"schema {schema} does not exist, or the session's roles cannot see it; create it "
            f"(CREATE SCHEMA {schema}) or grant USAGE on it and its database"
        ]
    if transient:
        return [
            f"schema {schema} is TRANSIENT: every table created in it is transient, so the "
            "raw table would have no Fail-safe. Point snowflake.schema at a permanent schema "
            "(CREATE SCHEMA without TRANSIENT)"
        ]
    return []


def integration_check(sf: SnowflakeSide) -> list[str]:
    if sf.integration() is None:
        return []
    return integration_problems(sf.config, sf.integration_properties())


def dbt_role_problems(config: BootstrapConfig, sf: SnowflakeSide) -> list[str]:
    role = config.snowflake.dbt_role
    if role is None or sf.role_exists(role):
        return []
    return [
        f"snowflake.dbt_role {role} does not exist (SHOW ROLES); create it (CREATE ROLE "
        f"{names.quote_ident(role)}) or correct snowflake.dbt_role"
    ]


def quickstart_problems(sf: SnowflakeSide) -> list[str]:
    sf.check_migration_possible(sf.find_quickstart())
    return []


def reuse_problems(sf: SnowflakeSide) -> list[str]:
    sf.check_reusable_objects()
    return []


@dataclass(frozen=True)
class Need:
    """A privilege apply needs, and the grants that provide it."""

    purpose: str
    kind: str  # ACCOUNT | DATABASE | SCHEMA | TABLE: the SHOW GRANTS ON that lists it
    accepted: frozenset[str]  # any of these privileges (OWNERSHIP included where it covers)
    privilege: str  # what to grant if none is held
    create: bool  # CREATE statements are authorised by the primary role's hierarchy only


def needs(config: BootstrapConfig, sf: SnowflakeSide) -> list[Need]:
    """The privileges this run of apply will use, given what exists already."""
    cfg = config.snowflake
    result = [
        Need("using the database", "DATABASE", frozenset({"USAGE", "OWNERSHIP"}), "USAGE", False),
        Need("using the schema", "SCHEMA", frozenset({"USAGE", "OWNERSHIP"}), "USAGE", False),
    ]
    if sf.integration() is None:
        result.append(
            Need(
                "creating the storage integration",
                "ACCOUNT",
                frozenset({"CREATE INTEGRATION"}),
                "CREATE INTEGRATION",
                True,
            )
        )
    else:
        result += integration_needs(config, sf)
    creates = (
        ("file format", "CREATE FILE FORMAT", sf.file_format() is not None),
        ("stage", "CREATE STAGE", sf.stage() is not None),
        ("raw table", "CREATE TABLE", bool(sf.table_columns(cfg.raw_table))),
        ("pipe", "CREATE PIPE", sf.pipe() is not None),
    )
    for what, privilege, exists in creates:
        if not exists:
            result.append(
                Need(
                    f"creating the {what}",
                    "SCHEMA",
                    frozenset({privilege, "OWNERSHIP"}),
                    privilege,
                    True,
                )
            )
    return result


def integration_needs(config: BootstrapConfig, sf: SnowflakeSide) -> list[Need]:
    """What an existing storage integration asks of the session: USAGE (or ownership) to name
    it in CREATE STAGE, and ownership for the ALTERs apply would send."""
    result = []
    if sf.stage() is None:
        # Counted through the primary role only, as a CREATE statement's privileges are.
        result.append(
            Need(
                "creating the stage through the existing storage integration",
                "INTEGRATION",
                frozenset({"USAGE", "OWNERSHIP"}),
                "USAGE",
                True,
            )
        )
    props = sf.integration_properties()
    url = config.aws.stage_url
    locations = parse_locations(props.get("STORAGE_ALLOWED_LOCATIONS", ""))
    widen = not any(location_covers(location, url) for location in locations)
    repoint = (
        props.get("STORAGE_AWS_ROLE_ARN", "") != config.aws.role_arn
        and config.snowflake.repoint_integration_role
    )
    if widen or repoint:
        what = "adding the stage URL to" if widen else "repointing"
        result.append(
            Need(
                f"{what} the existing storage integration (ALTER STORAGE INTEGRATION)",
                "INTEGRATION",
                frozenset({"OWNERSHIP"}),
                "OWNERSHIP",
                False,
            )
        )
    return result


def privilege_problems(config: BootstrapConfig, sf: SnowflakeSide) -> list[str]:
    """Compare what apply needs with SHOW GRANTS ON the account, database and schema, counting
    only grants to roles this session uses (all active roles; the primary role's hierarchy for
    CREATE statements)."""
    cfg = config.snowflake
    required = needs(config, sf)
    grant_needs: list[tuple[plan.Grant, bool]] = []  # (missing dbt grant, table exists)
    if cfg.dbt_role is not None and sf.role_exists(cfg.dbt_role):
        table_exists = bool(sf.table_columns(cfg.raw_table))
        grant_needs = [(g, table_exists) for g in sf.missing_dbt_grants()]
    kinds = {"ACCOUNT", *(n.kind for n in required)}
    if grant_needs:
        kinds |= {"DATABASE", "SCHEMA"}
        if any(g.granted_on == "TABLE" and exists for g, exists in grant_needs):
            kinds.add("TABLE")
    rows = {
        kind: [r for r in sf.grants_on(kind) if str(r.get("granted_to", "ROLE")).upper() == "ROLE"]
        for kind in sorted(kinds)
    }
    context = sf.session_context()
    current_role = str(context.get("role") or "")
    primary = sf.role_hierarchy(current_role) if current_role else set()
    grantees = {str(r.get("grantee_name")) for kind_rows in rows.values() for r in kind_rows}
    active = sf.roles_in_session(sorted(grantees))
    you = names.quote_ident(current_role) if current_role else "<your role>"

    def holds(kind: str, accepted: set[str] | frozenset[str], create: bool) -> bool:
        roles = primary if create else active
        return any(
            str(r.get("privilege", "")).upper() in accepted and str(r.get("grantee_name")) in roles
            for r in rows.get(kind, [])
        )

    problems = []
    for need in required:
        if holds(need.kind, need.accepted, need.create):
            continue
        if need.privilege == "CREATE INTEGRATION" and "ACCOUNTADMIN" in primary:
            continue
        on = _object_sql(cfg, need.kind)
        who = (
            f"the primary role {current_role} or a role it inherits"
            if need.create
            else "a role active in this session"
        )
        fix = f"GRANT {need.privilege} ON {on} TO ROLE {you}"
        if need.privilege == "OWNERSHIP":
            fix += " COPY CURRENT GRANTS (as its owner), or have its owner run the ALTER"
        if need.privilege == "CREATE INTEGRATION":
            fix += " (as ACCOUNTADMIN), or run apply with SNOWFLAKE_ROLE=ACCOUNTADMIN"
        problems.append(f"{need.purpose} needs {need.privilege} on {on}, held by {who}; {fix}")

    cannot_grant = []
    manages_grants = holds("ACCOUNT", {"MANAGE GRANTS"}, False)
    for grant, table_exists in grant_needs:
        if manages_grants:
            break
        if grant.granted_on == "TABLE" and not table_exists:
            continue  # apply creates the table, so this session's role will own it
        owned = holds(grant.granted_on, {"OWNERSHIP"}, False)
        with_option = any(
            str(r.get("privilege", "")).upper() == grant.privilege
            and str(r.get("grantee_name")) in active
            and truthy(r.get("grant_option"))
            for r in rows.get(grant.granted_on, [])
        )
        if not owned and not with_option:
            cannot_grant.append(grant)
    if cannot_grant:
        statements = "; ".join(g.sql for g in cannot_grant)
        problems.append(
            f"granting the dbt role {cfg.dbt_role} what it lacks needs MANAGE GRANTS on the "
            "account or ownership of each object, held by a role active in this session; "
            f"GRANT MANAGE GRANTS ON ACCOUNT TO ROLE {you}, or have an owner run: {statements}"
        )
    return problems


def _object_sql(sf: SnowflakeConfig, kind: str) -> str:
    return {
        "ACCOUNT": "ACCOUNT",
        "DATABASE": f"DATABASE {names.quote_ident(sf.database)}",
        "SCHEMA": f"SCHEMA {sf.schema_sql}",
        "TABLE": f"TABLE {sf.qualified(sf.raw_table)}",
        "INTEGRATION": f"INTEGRATION {names.quote_ident(sf.integration)}",
    }[kind]
