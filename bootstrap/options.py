"""What `s3logs load` and `s3logs run` share on the command line, apart from the loader itself.

Kept out of bootstrap/loader.py so that `s3logs run` can start its loader process before it
imports DuckDB and Arrow (a quarter of a second it would otherwise wait).
"""

from __future__ import annotations

from collections.abc import Callable

import click

DEFAULT_DATABASE = "data/s3logs.duckdb"
DATABASE_ENV = "S3LOGS_DUCKDB"
DEFAULT_SOURCE = "data/demo-logs"


def source_options(database_help: str) -> Callable:
    """SOURCE, --database, --endpoint-url, --reload-changed and --keep-going: what
    `s3logs load` and `s3logs run` share."""
    options = [
        click.argument("source", default=DEFAULT_SOURCE),
        click.option(
            "--database",
            type=click.Path(dir_okay=False),
            default=DEFAULT_DATABASE,
            envvar=DATABASE_ENV,
            show_default=True,
            show_envvar=True,
            help=database_help,
        ),
        click.option(
            "--endpoint-url",
            help="S3-compatible endpoint for s3:// sources (MinIO, LocalStack, moto...).",
        ),
        click.option(
            "--reload-changed",
            is_flag=True,
            help="Replace the rows of objects that changed since they were loaded, instead of "
            "skipping.",
        ),
        click.option(
            "--keep-going",
            is_flag=True,
            help="Exit 0 even when some objects could not be read (corrupt or truncated gzip, "
            "deleted since listed). They are still recorded in "
            "main.s3_access_logs_failed_objects, tried again on the next run and reported by "
            "dbt build; without this flag the exit status is 3.",
        ),
    ]

    def decorate(command: Callable) -> Callable:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate
