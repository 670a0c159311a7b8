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
    """SOURCE, --database, --endpoint-url and --reload-changed: what `s3logs load` and
    `s3logs run` share."""
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
    ]

    def decorate(command: Callable) -> Callable:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate
