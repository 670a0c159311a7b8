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
ERROR_COLUMNS = ("error", "file", "line_number", "raw")
GZIP_MAGIC = b"\x1f\x8b"


class _Prefixed(io.RawIOBase):
    """A binary stream whose first bytes were already read (to look at them) from `rest`."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self.head, self.rest = head, rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:
        if self.head:
            n = min(len(buffer), len(self.head))
            buffer[:n], self.head = self.head[:n], self.head[n:]
            return n
        read = getattr(self.rest, "read1", self.rest.read)
        data = read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def text_stream(raw: IO[bytes]) -> IO[str]:
    """Lines of text from a binary stream (a file or stdin), gunzipped when its content is gzip
    (by its first two bytes, whatever its name; several gzip members in a row are read on)."""
    head = raw.read(2)  # blocks until two bytes or the end of the input
    data = io.BufferedReader(_Prefixed(head, raw))
    if head == GZIP_MAGIC:
        data = gzip.GzipFile(fileobj=data)
    return io.TextIOWrapper(data, encoding="utf-8", errors="replace", newline="\n")


def parse_lines(lines: Iterable[str], file: str = "-") -> Iterator[tuple[int, str, dict | None]]:
    """(line number, line, output object) for each line of `file`, numbered from 1.

    The rule of the loader and of Snowflake's file format (SKIP_BLANK_LINES): a line ends at
    `\n`, one `\r` before it is dropped, and a blank line (nothing left) is no record: its
    object is None, its number still counts. A line of spaces is a record, rejected as an
    empty line. Rejected lines give {"error", "file", "line_number", "raw"}.
    """
    for number, line in enumerate(lines, start=1):
        raw = line[:-1] if line.endswith("\n") else line
        if raw.endswith("\r"):
            raw = raw[:-1]
        if not raw:
            yield number, raw, None
            continue
        result = parse_line(raw)
        if isinstance(result, Rejection):
            yield (
                number,
                raw,
                {"error": result.reason, "file": file, "line_number": number, "raw": raw},
            )
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
    "rejected lines fill the error, file, line_number and raw columns.",
)
def parse(files: tuple[str, ...], fmt: str) -> None:
    """Parse S3 server access log lines from FILES (or stdin) to stdout.

    Each input line gives one output record, in input order: the contract columns plus the
    derived ones, timestamps in ISO 8601 UTC with `Z`, nulls for `-`. A line that cannot be
    parsed gives {"error": reason, "file": FILE, "line_number": N, "raw": line} instead (FILE
    as given, `-` for stdin). Lines are split as the loader and the warehouse split them: at
    `\n` only, one `\r` before it dropped; blank lines give no record (as `s3logs load` and
    Snowflake skip them) but count in the line numbers, which start at 1 in each file; a line
    of spaces is rejected as an empty line. Gzip is recognised by content, in files and on
    stdin; `-` means stdin. A summary (parsed / rejected / blank) goes to stderr. Exit status
    is 0 when every input was read, whatever was rejected; 1 when a file cannot be read.
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


def _close(raw: IO[bytes] | None, source: str) -> None:
    """Close a file opened for `source` (stdin stays open)."""
    if raw is not None and source != "-":
        raw.close()


def _parse_all(sources: Iterable[str], fmt: str) -> None:
    out = sys.stdout
    writer = None
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow((*COLUMNS, *ERROR_COLUMNS))
    parsed = rejected = 0
    blank = 0
    for source in sources:
        raw = None
        try:
            raw = sys.stdin.buffer if source == "-" else open(source, "rb")  # noqa: SIM115
            stream = text_stream(raw)
        except OSError as exc:
            _close(raw, source)
            raise click.ClickException(f"cannot read {source}: {exc.strerror or exc}") from None
        except (EOFError, gzip.BadGzipFile) as exc:
            _close(raw, source)
            raise click.ClickException(f"cannot read {source}: {exc}") from None
        try:
            for _number, _raw, obj in parse_lines(stream, source):
                if obj is None:
                    blank += 1
                    continue
                if "error" in obj:
                    rejected += 1
                else:
                    parsed += 1
                if writer is None:
                    out.write(json.dumps({k: _json_value(v) for k, v in obj.items()}) + "\n")
                elif "error" in obj:
                    writer.writerow(("",) * len(COLUMNS) + tuple(obj.values()))
                else:
                    writer.writerow(
                        [_csv_value(v) for v in obj.values()] + [""] * len(ERROR_COLUMNS)
                    )
        except BrokenPipeError:
            raise
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise click.ClickException(f"cannot read {source}: {exc}") from None
        finally:
            _close(raw, source)
    summary = f"s3logs parse: {parsed} parsed, {rejected} rejected"
    if blank:
        summary += f", {blank} blank lines skipped"
    click.echo(summary, err=True)
