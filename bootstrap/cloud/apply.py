"""Run the plan: ordered, idempotent, and safe to re-run after a failure.

Each step reads the current state and changes only what differs, so a second run reports every
step as unchanged and a run after a failure picks up where the first one stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from bootstrap.cloud import preflight
from bootstrap.cloud.aws import AwsSide
from bootstrap.cloud.config import BootstrapConfig
from bootstrap.cloud.snowflake import SnowflakeSide

Report = Callable[[str], None]

# What ALTER PIPE ... REFRESH reaches back: files staged within the previous 7 days.
REFRESH_WINDOW = timedelta(days=7)


def refresh_modified_after(high_water: datetime | None, now: datetime) -> datetime | None:
    """MODIFIED_AFTER for the refresh: the high water, only while it is inside the window.

    An older high water is before every file the refresh reaches (files staged within the last
    7 days), so a plain REFRESH already queues only files after it; the pipe's own load history
    covers what the pipe loaded.
    """
    if high_water is None or high_water <= now.astimezone(timezone.utc) - REFRESH_WINDOW:
        return None
    return high_water


@dataclass(frozen=True)
class StepResult:
    side: str
    title: str
    outcome: str  # created | updated | removed | unchanged[: why] | skipped: why

    @property
    def changed(self) -> bool:
        return self.outcome.split(" ")[0].rstrip(":,") in ("created", "updated", "removed", "done")


def apply(
    config: BootstrapConfig,
    aws: AwsSide,
    sf: SnowflakeSide,
    report: Report = print,
    *,
    sleep: Callable[[float], None] = time.sleep,
    now: datetime | None = None,
) -> list[StepResult]:
    results: list[StepResult] = []

    def step(side: str, title: str, outcome: str) -> None:
        results.append(StepResult(side, title, outcome))
        report(f"[{side}] {title}: {outcome}")

    # Everything that could make apply refuse is checked before the first change, and every
    # problem is reported together (preflight.PreflightError).
    preflight.check(config, aws, sf)
    quickstart = sf.find_quickstart()

    if config.aws.source_buckets:
        step(
            "aws", "log bucket policy for the S3 logging service", aws.ensure_log_delivery_policy()
        )
        for source in config.aws.source_buckets:
            step("aws", f"server access logging on {source}", aws.ensure_logging(source))

    step("snowflake", "storage integration", sf.ensure_integration())
    iam_user_arn, external_id = sf.integration_identity()
    step(
        "aws",
        f"IAM role {config.aws.role_name} trusting {iam_user_arn}",
        aws.ensure_role(iam_user_arn, external_id),
    )
    step("aws", "least-privilege read policy on the role", aws.ensure_read_policy())
    others = aws.other_role_policies()
    if others:
        report(
            f"  note: the role also has policies apply does not manage: {', '.join(others)}; "
            "remove any that grant more than reading the log prefix"
        )
    step("snowflake", "file format", sf.ensure_file_format())
    step("snowflake", "external stage", sf.ensure_stage())
    files = sf.first_stage_access(report, sleep=sleep)
    step("snowflake", "stage access", f"ok, {files} file(s) visible")

    if quickstart.found:
        report("quickstart deployment found; adopting it into the raw landing contract")
        sf.migrate_quickstart(quickstart, report, sleep=sleep)
        step("snowflake", "quickstart adoption", "done")

    step("snowflake", "raw landing table", sf.ensure_table())
    if config.snowflake.dbt_role is not None:
        step(
            "snowflake",
            f"grants to the dbt role {config.snowflake.dbt_role}",
            sf.ensure_dbt_grants(),
        )
    step("snowflake", "auto-ingest pipe", sf.ensure_pipe())
    if quickstart.pipe:
        step("snowflake", "quickstart pipe (replaced)", sf.drop_quickstart_pipe())

    queue_arn = sf.queue_arn()
    step("aws", f"log bucket notification to {queue_arn}", aws.ensure_notification(queue_arn))

    # Every run, not only the one that created the pipe: a run that failed after creating it
    # must still queue what is already in the bucket. The pipe's load history makes the refresh
    # skip files it loaded; rows it cannot know of (adopted from the quickstart, or loaded by a
    # pipe since replaced) set MODIFIED_AFTER while their high water is within the window.
    earlier = sf.earlier_rows()
    high_water = earlier.high_water
    after = refresh_modified_after(high_water, now or datetime.now(timezone.utc))
    sent = sf.refresh_pipe(after.isoformat() if after else None)
    if after is not None:
        note = (
            f"; only files modified after {after.isoformat()}, the high water of the "
            f"{earlier.count} row(s) loaded before the pipe existed"
        )
    elif high_water is not None:
        note = (
            f"; the {earlier.count} row(s) loaded before the pipe existed end at "
            f"{high_water.isoformat()}, more than 7 days ago, so every file the refresh reaches "
            "is newer (no MODIFIED_AFTER)"
        )
    else:
        note = ""
    step(
        "snowflake",
        "pipe refresh for files of the last 7 days already in the bucket",
        f"sent {sent} file(s) to the pipe (files it already loaded are skipped){note}",
    )
    report(
        "  files modified more than 7 days ago are not refreshed; load them with "
        "`s3logs bootstrap backfill`"
    )

    changed = sum(r.changed for r in results)
    report(f"apply finished: {changed} change(s), {len(results) - changed} step(s) unchanged")
    return results
