"""`s3logs bootstrap`: plan, apply, verify and destroy the AWS + Snowflake ingestion setup."""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

import click
from botocore.exceptions import BotoCoreError, ClientError

from bootstrap.cloud import plan as plan_module
from bootstrap.cloud.apply import apply as run_apply
from bootstrap.cloud.aws import AwsError, AwsSide, make_session
from bootstrap.cloud.backfill import REFRESH_WINDOW, run_backfill
from bootstrap.cloud.config import BootstrapConfig, load_config
from bootstrap.cloud.destroy import destroy as run_destroy
from bootstrap.cloud.names import ValidationError
from bootstrap.cloud.snowflake import (
    SnowflakeSetupError,
    SnowflakeSide,
    StatementError,
    connect_from_env,
)
from bootstrap.cloud.verify import render_checks
from bootstrap.cloud.verify import verify as run_verify

F = TypeVar("F", bound=Callable[..., Any])

CREDENTIALS_HELP = """
\b
Credentials come from the environment only:
  AWS        the standard chain (AWS_PROFILE, or AWS_ACCESS_KEY_ID and
             AWS_SECRET_ACCESS_KEY); AWS_ENDPOINT_URL or aws.endpoint_url
             points at an S3/IAM-compatible endpoint.
  Snowflake  SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER, and SNOWFLAKE_PASSWORD or
             SNOWFLAKE_PRIVATE_KEY_PATH (+ SNOWFLAKE_PRIVATE_KEY_PASSPHRASE);
             optional SNOWFLAKE_ROLE, SNOWFLAKE_WAREHOUSE, SNOWFLAKE_AUTHENTICATOR.
"""


def _config_option(func: F) -> F:
    return click.option(
        "--config",
        "-c",
        "config_path",
        type=click.Path(dir_okay=False),
        default="bootstrap.toml",
        show_default=True,
        envvar="S3LOGS_BOOTSTRAP_CONFIG",
        show_envvar=True,
        help="Bootstrap TOML file (start from bootstrap.example.toml in the repository).",
    )(func)


def _friendly_errors(func: F) -> F:
    """Turn expected failures into one clear message and exit status 1, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ValidationError as exc:
            raise click.ClickException(
                f"invalid configuration: {exc}. Nothing was changed."
            ) from exc
        except StatementError as exc:
            raise click.ClickException(
                f"Snowflake rejected a statement: {exc}\n  statement: {exc.sql}\n"
                "Steps before it are done; fix the cause and re-run (finished steps are skipped)."
            ) from exc
        except (AwsError, SnowflakeSetupError) as exc:
            raise click.ClickException(str(exc)) from exc
        except (ClientError, BotoCoreError) as exc:
            raise click.ClickException(
                f"AWS call failed: {exc}\nSteps before it are done; fix the cause and re-run."
            ) from exc

    return wrapper  # type: ignore[return-value]


def _load(config_path: str) -> BootstrapConfig:
    return load_config(config_path)


def _sides(ctx: click.Context, config: BootstrapConfig) -> tuple[AwsSide, SnowflakeSide]:
    # ctx.obj lets tests hand in a moto-backed session and a Snowflake stand-in.
    obj = ctx.obj or {}
    session = obj.get("aws_session") or make_session(config.aws)
    connection = obj.get("snowflake_connection") or connect_from_env()
    return AwsSide(config, session), SnowflakeSide(config, connection)


def _stdin_is_interactive() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


@click.group(
    "bootstrap",
    epilog=CREDENTIALS_HELP,
    context_settings={"help_option_names": ["-h", "--help"]},
)
def bootstrap() -> None:
    """Set up S3 server access log ingestion into Snowflake, in one reversible command.

    \b
    plan     print every action with its exact SQL and IAM JSON (no credentials needed)
    apply    make it so: idempotent, ordered, safe to re-run after a failure
    verify   check each piece exists and is wired to the next; pass/fail with fixes
    destroy  remove what apply created, and only that
    backfill load log files older than the pipe's 7-day refresh window

    A deployment made by hand with the Snowflake quickstart is detected and adopted by apply.
    """


@bootstrap.command("plan", epilog=CREDENTIALS_HELP)
@_config_option
@_friendly_errors
def plan_command(config_path: str) -> None:
    """Print every action apply would take, in order, and change nothing.

    Shows the exact Snowflake SQL and the exact IAM and S3 JSON documents. Values that only
    Snowflake knows (the integration's IAM user ARN and external id, the pipe's queue) are shown
    as <placeholders>. Needs no cloud credentials.
    """
    config = _load(config_path)
    click.echo(plan_module.render_plan(config, plan_module.build_plan(config)))


@bootstrap.command("apply", epilog=CREDENTIALS_HELP)
@_config_option
@click.pass_context
@_friendly_errors
def apply_command(ctx: click.Context, config_path: str) -> None:
    """Create or update the AWS and Snowflake setup described by the config.

    Idempotent: each step reads the current state first and changes only what differs, so a
    second run changes nothing and a run after a failure resumes. Before changing anything it
    checks buckets, account, Regions, schema, storage integration and Snowflake privileges, and
    lists every problem found with its fix; it refuses to overwrite another bucket-logging
    target, a conflicting bucket notification, or another stage's access to the integration.
    Existing bucket notifications and bucket-policy statements are kept. Adopts a quickstart
    deployment (staging table, pipe, task) without losing loaded rows, and keeps its tables
    aside. Every run queues the files of the last 7 days the pipe has not loaded; older files
    are loaded by `backfill`.
    """
    config = _load(config_path)
    aws, sf = _sides(ctx, config)
    sleep = (ctx.obj or {}).get("sleep", time.sleep)
    run_apply(config, aws, sf, click.echo, sleep=sleep)


@bootstrap.command("verify", epilog=CREDENTIALS_HELP)
@_config_option
@click.pass_context
@_friendly_errors
def verify_command(ctx: click.Context, config_path: str) -> None:
    """Check every piece exists and is wired; print pass/fail with the fix for each failure.

    Checks: integration -> role ARN and location; role trust -> integration's IAM user and
    external id; least-privilege role policy; stage lists files; raw table columns; pipe
    running without errors; no file skipped or partly loaded in the last 14 days; the dbt
    role's grants; bucket notification -> pipe's queue; logging on each source bucket.
    Exits 1 if any check fails.
    """
    config = _load(config_path)
    aws, sf = _sides(ctx, config)
    checks = run_verify(aws, sf)
    click.echo(render_checks(checks))
    if not all(c.ok for c in checks):
        ctx.exit(1)


@bootstrap.command("destroy", epilog=CREDENTIALS_HELP)
@_config_option
@click.option(
    "--yes",
    "-y",
    is_flag=True,
    help="Do not ask for confirmation (for scripts). Without it, destroy asks on a terminal "
    "and refuses when there is none.",
)
@click.pass_context
@_friendly_errors
def destroy_command(ctx: click.Context, config_path: str, yes: bool) -> None:
    """Remove what apply created, and only that.

    Removes apply's bucket notification (the bucket's other notifications stay), the pipe,
    stage, file format and integration (only those carrying apply's comment), the IAM role
    (only if tagged by apply), logging on the source buckets (only where it points at the
    configured prefix) and apply's bucket-policy statements. Keeps the raw table and its rows.
    """
    config = _load(config_path)
    if not yes:
        if not _stdin_is_interactive():
            raise click.ClickException(
                "destroy needs confirmation and there is no terminal to ask on; "
                "re-run with --yes to confirm. Nothing was changed."
            )
        click.confirm(
            f"Remove the s3logs setup for s3://{config.aws.log_bucket}/{config.aws.log_prefix} "
            f"and {config.snowflake.schema_sql}?",
            abort=True,
        )
    aws, sf = _sides(ctx, config)
    run_destroy(aws, sf, click.echo)


def _snowflake_side(ctx: click.Context, config: BootstrapConfig) -> SnowflakeSide:
    # backfill needs no AWS credentials: Snowflake reads the bucket through the integration.
    obj = ctx.obj or {}
    return SnowflakeSide(config, obj.get("snowflake_connection") or connect_from_env())


@bootstrap.command("backfill", epilog=CREDENTIALS_HELP)
@_config_option
@click.option(
    "--dry-run",
    is_flag=True,
    help="List the files a backfill would load, batch by batch, and load nothing.",
)
@click.option(
    "--older-than-days",
    type=click.IntRange(min=REFRESH_WINDOW.days),
    default=REFRESH_WINDOW.days,
    show_default=True,
    help="Load only files last modified more than this many days ago; newer ones are the "
    "pipe's (its refresh reaches back 7 days).",
)
@click.pass_context
@_friendly_errors
def backfill_command(
    ctx: click.Context, config_path: str, dry_run: bool, older_than_days: int
) -> None:
    """Load the log files older than the pipe's refresh window, which the pipe never loads.

    ALTER PIPE ... REFRESH (run by apply) queues only files staged within the last 7 days.
    backfill LISTs the stage and loads the older files with the pipe's own COPY, naming them in
    batches of at most 1000 (COPY's limit), reporting each batch. It cannot load a file twice:
    files whose names are already in the raw table are left out, files newer than the cut-off
    are left to the pipe, files modified within the reach of an adopted quickstart deployment
    (from 7 days before its first load to its last) are left out, and it refuses while the
    pipe has files pending. Exits 1 when a file failed to load or COPY left one out (each is
    listed), so a script notices. Run `s3logs bootstrap apply` first.
    """
    config = _load(config_path)
    sf = _snowflake_side(ctx, config)
    now = (ctx.obj or {}).get("now")
    result = run_backfill(
        sf,
        click.echo,
        dry_run=dry_run,
        now=now,
        older_than=timedelta(days=older_than_days),
    )
    if result.files_failed or result.files_skipped_by_copy:
        ctx.exit(1)
