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
# How an s3:// source is read (see bootstrap/s3_reader.py): threads reading objects ahead of
# the writer; how far before the newest key seen a later listing starts; how often a listing
# covers the whole prefix.
DEFAULT_READERS = 32
DEFAULT_MARGIN_HOURS = 1.0
DEFAULT_FULL_LISTING_HOURS = 6.0


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


def listing_options() -> Callable:
    """--s3-readers, --listing-margin-hours and --full-listing-hours: how `s3logs load` and
    `s3logs run` read an s3:// source (bootstrap/s3_reader.py)."""
    options = [
        click.option(
            "--s3-readers",
            "readers",
            type=click.IntRange(min=1, max=256),
            default=DEFAULT_READERS,
            show_default=True,
            help="Threads that fetch S3 objects ahead of the writer (1: one at a time).",
        ),
        click.option(
            "--listing-margin-hours",
            "listing_margin_hours",
            type=click.FloatRange(min=0),
            default=DEFAULT_MARGIN_HOURS,
            show_default=True,
            help="A later load lists each log source's keys from this long before the newest "
            "key an earlier load saw (whole days in the date-partitioned layout).",
        ),
        click.option(
            "--full-listing-hours",
            "full_listing_hours",
            type=click.FloatRange(min=0),
            default=DEFAULT_FULL_LISTING_HOURS,
            show_default=True,
            help="List the whole prefix when the last full listing is this old (0: every "
            "load), to catch objects that arrived later than the margin and new sources.",
        ),
    ]

    def decorate(command: Callable) -> Callable:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate
