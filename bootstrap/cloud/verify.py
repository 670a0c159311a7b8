"""Check that every piece exists and that the pieces point at each other."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bootstrap.cloud import plan
from bootstrap.cloud.aws import AwsSide, as_document, notification_covers, same_document
from bootstrap.cloud.snowflake import SnowflakeSide, location_covers, parse_locations

LOAD_ERRORS_SHOWN = 5  # file names a failed load-history check lists
APPLY = "run `s3logs bootstrap apply` (it only changes what is missing or wrong)"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


class _Failed(Exception):
    def __init__(self, detail: str, fix: str = APPLY) -> None:
        super().__init__(detail)
        self.fix = fix


def verify(aws: AwsSide, sf: SnowflakeSide) -> list[Check]:
    config = aws.config
    cfg_aws, cfg_sf = config.aws, config.snowflake
    checks: list[Check] = []

    def check(name: str, probe: Callable[[], str]) -> None:
        try:
            checks.append(Check(name, True, probe()))
        except _Failed as failed:
            checks.append(Check(name, False, str(failed), failed.fix))
        except Exception as exc:  # a failed read is a failed check, not a crash
            checks.append(Check(name, False, f"{type(exc).__name__}: {exc}", APPLY))

    def integration_points_at_role() -> str:
        if sf.integration() is None:
            raise _Failed(f"integration {cfg_sf.integration} does not exist")
        props = sf.integration_properties()
        role = props.get("STORAGE_AWS_ROLE_ARN")
        if role != cfg_aws.role_arn:
            raise _Failed(
                f"STORAGE_AWS_ROLE_ARN is {role}, expected {cfg_aws.role_arn}",
                "if nothing else reads through this integration, set [snowflake] "
                "repoint_integration_role = true and run `s3logs bootstrap apply`; otherwise "
                "set snowflake.integration to a new integration",
            )
        allowed = parse_locations(props.get("STORAGE_ALLOWED_LOCATIONS", ""))
        if not any(location_covers(location, cfg_aws.stage_url) for location in allowed):
            raise _Failed(f"STORAGE_ALLOWED_LOCATIONS does not include {cfg_aws.stage_url}")
        return f"role {role}, location {cfg_aws.stage_url}"

    def role_trusts_integration() -> str:
        arn, external = sf.integration_identity()
        role = aws.role()
        if role is None:
            raise _Failed(f"IAM role {cfg_aws.role_name} does not exist")
        if not same_document(
            as_document(role["AssumeRolePolicyDocument"]), plan.trust_policy(arn, external)
        ):
            raise _Failed(
                "the trust policy does not allow exactly the integration's IAM user "
                f"{arn} with external id {external}",
                "re-run apply to rewrite the trust policy; if someone re-created the "
                "integration, its external id changed and the old trust no longer matches",
            )
        return f"trusts {arn} with the integration's external id"

    def role_policy_least_privilege() -> str:
        current = aws.role_policy()
        if current is None:
            raise _Failed(f"inline policy {plan.read_policy_name(cfg_aws)} is missing")
        if not same_document(current, plan.read_policy(cfg_aws)):
            raise _Failed("the inline read policy differs from the least-privilege policy")
        extra = aws.other_role_policies()
        if extra:
            raise _Failed(
                f"the role also has {', '.join(extra)}",
                "remove those policies if they grant more than reading the log prefix",
            )
        return f"read-only on {cfg_aws.stage_url}" + (
            " (+ delete, for purge)" if cfg_aws.purge_loaded_files else ""
        )

    def stage_lists() -> str:
        if sf.stage() is None:
            raise _Failed(f"stage {cfg_sf.stage} does not exist")
        return f"{len(sf.list_stage())} file(s) listed"

    def raw_table() -> str:
        if not sf.table_columns(cfg_sf.raw_table):
            raise _Failed(f"table {cfg_sf.raw_table} does not exist")
        problems = sf.raw_table_problems()
        if problems:
            detail, fix = problems[0]
            raise _Failed(detail, fix)
        return "has the raw landing columns, loaded_at an instant, file_last_modified NTZ"

    def pipe_running() -> str:
        if sf.pipe() is None:
            raise _Failed(f"pipe {cfg_sf.pipe} does not exist")
        status = sf.pipe_status()
        state = status.get("executionState")
        error = status.get("error") or status.get("lastForwardedErrorMessage")
        if state != "RUNNING":
            raise _Failed(
                f"executionState is {state}",
                f"ALTER PIPE {cfg_sf.qualified(cfg_sf.pipe)} SET PIPE_EXECUTION_PAUSED = FALSE",
            )
        if error:
            raise _Failed(f"pipe reports an error: {error}", "fix the cause, then re-run verify")
        return f"RUNNING, {status.get('pendingFileCount', 0)} pending file(s)"

    def dbt_role_grants() -> str:
        if cfg_sf.dbt_role is None:
            return "skipped: no snowflake.dbt_role is set"
        rows, inherited = sf.dbt_role_grants()
        missing = plan.missing_grants(cfg_sf, rows)
        read = (
            f" (read: the grants to {cfg_sf.dbt_role} and to the roles it inherits: "
            f"{', '.join(inherited)})"
            if inherited
            else f" (read: the grants to {cfg_sf.dbt_role}; it inherits no role)"
        )
        if missing:
            raise _Failed(
                f"the dbt role {cfg_sf.dbt_role} lacks "
                + ", ".join(f"{g.privilege} on {g.name}" for g in missing)
                + read
                + "; grants to PUBLIC, and database roles, are not counted",
                "run `s3logs bootstrap apply`, or: " + "; ".join(g.sql for g in missing),
            )
        return (
            f"{cfg_sf.dbt_role} has "
            + ", ".join(sorted({g.privilege for g in plan.dbt_grants(cfg_sf)}))
            + read
        )

    def files_loaded() -> str:
        failed = sf.load_errors()
        if not failed:
            return f"no skipped or partly loaded file in the last {plan.LOAD_HISTORY_DAYS} days"
        shown = ", ".join(str(r.get("file_name")) for r in failed[:LOAD_ERRORS_SHOWN])
        more = (
            f" and {len(failed) - LOAD_ERRORS_SHOWN} more"
            if len(failed) > LOAD_ERRORS_SHOWN
            else ""
        )
        first = failed[0]
        raise _Failed(
            f"{len(failed)} file(s) not fully loaded in the last {plan.LOAD_HISTORY_DAYS} days "
            f"({shown}{more}); latest: {first.get('status')}, {first.get('error_count') or 0} "
            f"error row(s), first error: {first.get('first_error_message')}",
            "fix each object (or what made it unreadable), then re-stage it: copy it to its "
            "own key again (this touches it, so S3 notifies the pipe and the refresh window "
            "starts again). `s3logs bootstrap backfill` loads only files last modified more "
            "than 7 days ago (--older-than-days), so use it only for those; the full list: "
            + plan.load_errors_sql(cfg_sf).replace("\n", " "),
        )

    def notification_wired() -> str:
        queue_arn = sf.queue_arn()
        ours = plan.queue_configuration(config, queue_arn)
        queues = aws.notification_configuration().get("QueueConfigurations", [])
        match = next(
            (q for q in queues if q.get("QueueArn") == queue_arn and notification_covers(q, ours)),
            None,
        )
        if match is None:
            raise _Failed(
                f"no notification on {cfg_aws.log_bucket} sends new objects to {queue_arn}"
            )
        return f"{match.get('Id')} -> {queue_arn}"

    def logging_enabled(source: str) -> Callable[[], str]:
        def probe() -> str:
            wanted = plan.bucket_logging_status(cfg_aws, source)["LoggingEnabled"]
            current = aws.logging_target(source)
            if not current:
                raise _Failed("server access logging is off")
            target = (current.get("TargetBucket"), current.get("TargetPrefix"))
            if target != (wanted["TargetBucket"], wanted["TargetPrefix"]):
                raise _Failed(f"logs to s3://{target[0]}/{target[1]}, not the configured prefix")
            return f"-> s3://{target[0]}/{target[1]}"

        return probe

    def delivery_policy() -> str:
        statements = (aws.bucket_policy() or {}).get("Statement", [])
        wanted = plan.log_delivery_statements(cfg_aws)
        missing = [w for w in wanted if not any(same_document(s, w) for s in statements)]
        if missing:
            raise _Failed(
                "the log bucket policy does not let the logging service write "
                + ", ".join(m["Resource"] for m in missing)
            )
        return f"{len(wanted)} statement(s) {plan.log_delivery_sid_prefix(cfg_aws)}*"

    check("integration points at the IAM role and log location", integration_points_at_role)
    check("IAM role trusts the integration (user ARN + external id)", role_trusts_integration)
    check("IAM role policy is least privilege", role_policy_least_privilege)
    check("stage lists files", stage_lists)
    check("raw landing table", raw_table)
    check("pipe running with no errors", pipe_running)
    check("pipe loaded every file (load history)", files_loaded)
    check("dbt role can read the raw table and build models", dbt_role_grants)
    check("bucket notification points to the pipe's queue", notification_wired)
    if cfg_aws.source_buckets:
        check("log bucket policy allows log delivery", delivery_policy)
    for source in cfg_aws.source_buckets:
        check(f"server access logging on {source}", logging_enabled(source))
    return checks


def render_checks(checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = [f"{'':4}  {'check':<{width}}  detail", f"{'':4}  {'-' * width}  {'-' * 6}"]
    for c in checks:
        lines.append(f"{'PASS' if c.ok else 'FAIL'}  {c.name:<{width}}  {c.detail}")
        if not c.ok:
            lines.append(f"{'':4}  {'':<{width}}  fix: {c.fix}")
    failed = sum(not c.ok for c in checks)
    lines.append("")
    lines.append(f"{len(checks) - failed} passed, {failed} failed")
    return "\n".join(lines)
