"""Remove what apply created, and only that.

Snowflake objects are dropped only if they carry apply's comment marker, the IAM role only if it
carries apply's tag, the bucket notification and bucket-policy statement only by their own
Id/Sid, and source-bucket logging only where it points at the configured log prefix. The raw
table is kept: it holds loaded data, and dropping it is a decision for a person.
"""

from __future__ import annotations

from bootstrap.cloud import plan
from bootstrap.cloud.apply import Report, StepResult
from bootstrap.cloud.aws import AwsSide
from bootstrap.cloud.snowflake import SnowflakeSide


def destroy(aws: AwsSide, sf: SnowflakeSide, report: Report = print) -> list[StepResult]:
    config = aws.config
    cfg_sf = config.snowflake
    results: list[StepResult] = []

    def step(side: str, title: str, outcome: str) -> None:
        results.append(StepResult(side, title, outcome))
        report(f"[{side}] {title}: {outcome}")

    # Reverse order of apply: stop new notifications first, then the pipe that consumes them.
    step(
        "aws",
        f"notification {config.notification_id} on {config.aws.log_bucket}",
        aws.remove_notification(),
    )
    step(
        "snowflake",
        "pipe",
        sf.drop_if_ours("pipe", sf.pipe(), plan.drop_pipe_sql(cfg_sf, cfg_sf.pipe)),
    )
    step("snowflake", "stage", sf.drop_if_ours("stage", sf.stage(), plan.drop_stage_sql(cfg_sf)))
    step(
        "snowflake",
        "file format",
        sf.drop_if_ours("file format", sf.file_format(), plan.drop_file_format_sql(cfg_sf)),
    )
    step("aws", f"IAM role {config.aws.role_name}", aws.remove_role())
    step(
        "snowflake",
        "storage integration",
        sf.drop_if_ours("integration", sf.integration(), plan.drop_integration_sql(cfg_sf)),
    )
    for source in config.aws.source_buckets:
        step("aws", f"server access logging on {source}", aws.disable_logging(source))
    if config.aws.source_buckets:
        step("aws", "log bucket policy statements", aws.remove_log_delivery_statements())
    report(
        f"kept the raw table {cfg_sf.qualified(cfg_sf.raw_table)} and its rows; to drop it: "
        f"{plan.drop_table_sql(cfg_sf)}"
    )
    return results
