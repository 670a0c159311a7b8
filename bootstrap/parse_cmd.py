"""`s3logs parse`: log lines in, one JSON object (or CSV row) per line out, in input order."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import os
import sys
from collections.abc import Iterable, Iterator
from typing import IO

import click

from bootstrap.parser import CONTRACT_COLUMNS, DERIVED_COLUMNS, Rejection, derive, parse_line

COLUMNS = (*CONTRACT_COLUMNS, *DERIVED_COLUMNS)
ERROR_COLUMNS = ("error", "line_number", "raw")


def open_text(path: str) -> IO[str]:
    """Open a log file for reading as text, decompressing `.gz` (by magic bytes, not name)."""
    raw = open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
    if raw.peek(2)[:2] == b"\x1f\x8b":
        return io.TextIOWrapper(
            gzip.GzipFile(fileobj=raw), encoding="utf-8", errors="replace", newline="\n"
        )
    return io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="\n")


def parse_lines(lines: Iterable[str]) -> Iterator[tuple[int, str, dict]]:
    """(line number, raw line, output object) for each line; rejected lines give the error shape."""
    for number, line in enumerate(lines, start=1):
        raw = line.rstrip("\r\n")
        result = parse_line(raw)
        if isinstance(result, Rejection):
            yield number, raw, {"error": result.reason, "line_number": number, "raw": raw}
        else:
            yield number, raw, dict(zip(COLUMNS, result + derive(result), strict=True))


def _json_value(value: object) -> object:
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def _csv_value(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _json_value(value)


@click.command("parse")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "csv"]),
    default="json",
    show_default=True,
    help="json: one object per line (JSON Lines). csv: a header, then one row per line; "
    "rejected lines fill the error, line_number and raw columns.",
)
def parse(files: tuple[str, ...], fmt: str) -> None:
    """Parse S3 server access log lines from FILES (or stdin) to stdout.

    Each input line gives exactly one output record, in input order: the contract columns plus
    the derived ones, timestamps in ISO 8601 UTC with `Z`, nulls for `-`. A line that cannot be
    parsed gives {"error": reason, "line_number": N, "raw": line} instead. `.gz` files are read
    transparently; `-` means stdin. A summary (parsed / rejected) goes to stderr. Exit status is
    0 when every input was read, whatever was rejected; 1 when a file cannot be read.
    Line numbers count from 1 in each file.
    """
    sources = files or ("-",)
    for source in sources:  # fail before writing anything rather than halfway through
        if source != "-" and not os.access(source, os.R_OK):
            reason = "no such file" if not os.path.exists(source) else "permission denied"
            raise click.ClickException(f"cannot read {source}: {reason}")
    try:
        _parse_all(sources, fmt)
    except BrokenPipeError:
        # The reader (`head`, a pager) went away: stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _parse_all(sources: Iterable[str], fmt: str) -> None:
    out = sys.stdout
    writer = None
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow((*COLUMNS, *ERROR_COLUMNS))
    parsed = rejected = 0
    for source in sources:
        try:
            stream = (
                io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace", newline="\n")
                if source == "-"
                else open_text(source)
            )
        except OSError as exc:
            raise click.ClickException(f"cannot read {source}: {exc.strerror or exc}") from None
        try:
            for _number, _raw, obj in parse_lines(stream):
                if "error" in obj:
                    rejected += 1
                else:
                    parsed += 1
                if writer is None:
                    out.write(json.dumps({k: _json_value(v) for k, v in obj.items()}) + "\n")
                elif "error" in obj:
                    writer.writerow(("",) * len(COLUMNS) + tuple(obj.values()))
                else:
                    writer.writerow([_csv_value(v) for v in obj.values()] + ["", "", ""])
        except BrokenPipeError:
            raise
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise click.ClickException(f"cannot read {source}: {exc}") from None
        finally:
            if source != "-":
                stream.close()
    click.echo(f"s3logs parse: {parsed} parsed, {rejected} rejected", err=True)
