"""`s3logs load`: the embedded stand-in for Snowpipe.

It appends the lines of S3 server access log objects, from a local folder or an S3 bucket, to
the raw landing table of a DuckDB file, with the columns Snowpipe fills on Snowflake (see the raw
landing contract in DESIGN.md). A load-history table makes every object load exactly once:

- objects are named from their own keys (`object_name`), never from the folder or prefix
  given, and recognised by their AWS name (`object_id`), so loading another root adds nothing;
- an object whose id and fingerprint (S3 ETag, or size + mtime for local files) are in the
  history is skipped, so re-running is a no-op;
- an object whose id is in the history with another fingerprint has changed since it was
  loaded: it is skipped with a warning unless `reload_changed`, which replaces its rows;
- rows and history entries of a batch of objects commit in one transaction, so a crash never
  leaves part of an object behind, and the next run loads the whole batch again.

Memory stays flat however large the source: listings are read page by page, objects are read in
chunks, rows go to DuckDB through an Arrow table whenever a batch fills up, and DuckDB's own
memory is capped while loading (LOAD_MEMORY_LIMIT). S3 objects are fetched ahead on threads and
later loads list only what can be new: see bootstrap/s3_reader.py.

Plain UTF-8 local files skip the Python line splitting: DuckDB reads and splits them itself
(`read_text`) in one statement per batch, in about half the time. Gzipped files, files that are
not valid UTF-8, files larger than a batch and S3 objects take the Python path; both paths give
the same rows.
"""

from __future__ import annotations

import codecs
import contextlib
import dataclasses
import datetime as dt
import functools
import logging
import os
import re
import sys
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import click
import duckdb
import pyarrow as pa

from bootstrap import interrupts, s3_reader
from bootstrap.options import DATABASE_ENV, DEFAULT_DATABASE, listing_options, source_options

log = logging.getLogger(__name__)

RAW_TABLE = "main.s3_access_logs_raw"
HISTORY_TABLE = "main.s3_access_logs_load_history"
FAILED_TABLE = "main.s3_access_logs_failed_objects"
# `s3logs load` and `s3logs run` exit with this when objects could not be read (the others
# were loaded), unless --keep-going.
EXIT_FAILED_OBJECTS = 3

# Rows are pushed to DuckDB and committed once this much log text is buffered: large enough for
# DuckDB to write whole row groups, small enough to keep memory flat.
DEFAULT_BATCH_BYTES = 64 * 1024 * 1024
# Files DuckDB reads itself hold no memory here, so they count a sixteenth of their size (up to
# 1 GB of them per transaction). Each insert leaves a part-filled row group per thread; of two
# transactions, such remainders and the next one's rows can fit in fewer row groups, and the
# first checkpoint of a later session (dbt's) then rewrites them all (1M lines in 64 MB
# batches: 0.9 s after a 2.7 s load). Fewer transactions leave fewer remainders, and let DuckDB
# write whole row groups rather than pass each remainder through the WAL (5.8 s -> 3.2 s).
_NATIVE_BATCH_SHARE = 16
_READ_CHUNK = 1024 * 1024
# DuckDB's memory limit while loading. By default (80% of RAM) its buffer pool kept what a load
# wrote and what its closing checkpoint rewrote: 4.0 GB of RSS after 5M lines, growing with the
# backlog. Capped, it writes and evicts, and a backfill stays under 1 GB (see docs/bench.md).
LOAD_MEMORY_LIMIT = "512MB"
_LISTING_PAGE = 1000
# Direct GETs in a row that fail where the client's then succeed before the client reads
# every object (a refusal, 3xx or 4xx, hands over at once): see s3_reader.DirectGet.
_DIRECT_MISSES = 3
# DuckDB expands these in file names as glob patterns; such paths are read by Python instead.
_GLOB_CHARS = frozenset("*?[{")

# The name every S3 log object ends in, in both key layouts: `prefixYYYY-mm-DD-HH-MM-SS-Unique`
# and `prefix/account/region/bucket/YYYY/MM/DD/YYYY-mm-DD-HH-MM-SS-Unique`.
_LOG_NAME = re.compile(r"(\d{4})-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-[0-9A-Za-z]+(?:\.gz)?")
# The date-partitioned layout's folders, as AWS documents them for PartitionedPrefix
# (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PartitionedPrefix.html):
# `[DestinationPrefix][SourceAccountId]/[SourceRegion]/[SourceBucket]/[YYYY]/[MM]/[DD]/` and
# the object's own name. What precedes the account id is the prefix the user chose (which
# need not end in a slash: the account id is the last 12 digits before the region folder).
_PARTITIONED = re.compile(
    r"(\d{12}/[a-z]{2}(?:-[a-z]+)+-\d+/[a-z0-9][a-z0-9.-]*/\d{4}/\d\d/\d\d/[^/]+)$"
)

# zstd makes the raw column a third of the default's size and loads about twice as fast: log
# lines repeat most of their bytes, which the default (dictionary/FSST) analysis handles poorly.
_CREATE_TABLES = f"""
create table if not exists {RAW_TABLE} (
    raw varchar using compression zstd,
    file_name varchar,
    file_row_number bigint,
    file_last_modified timestamp,
    loaded_at timestamp
);
create table if not exists {HISTORY_TABLE} (
    file_name varchar,
    fingerprint varchar,
    rows bigint,
    bytes bigint,
    file_last_modified timestamp,
    loaded_at timestamp,
    status varchar,
    object_id varchar
);
create table if not exists {FAILED_TABLE} (
    object_id varchar,
    file_name varchar,
    reason varchar,
    first_failed_at timestamp,
    last_failed_at timestamp,
    tries bigint
);
"""


class LoadError(Exception):
    """A failure the user can act on; the message says what to do."""


class DatabaseInUseError(LoadError):
    """The DuckDB file is locked by another process (DuckDB's error is the cause)."""


class _ObjectError(Exception):
    """One object cannot be read (corrupt gzip, deleted since listing); the others can."""


@dataclass
class LoadSummary:
    """What a load did. `lines` counts rows appended; blank lines are never rows."""

    objects: int = 0
    lines: int = 0
    bytes: int = 0
    seconds: float = 0.0
    reloaded: int = 0
    blank_lines: int = 0
    skipped_loaded: int = 0
    skipped_changed: int = 0
    skipped_not_log: int = 0
    failed: int = 0
    changed: list[str] = field(default_factory=list)
    # (file_name, reason) of each object that could not be read: see _record_failures
    failures: list[tuple[str, str]] = field(default_factory=list)
    list_requests: int = 0  # S3 ListObjectsV2 requests (pages) this load made
    full_listing: bool = True  # False: S3 streams listed from where earlier loads got to

    @property
    def skipped(self) -> int:
        return self.skipped_loaded + self.skipped_changed + self.skipped_not_log + self.failed

    def describe(self) -> str:
        rate = self.lines / self.seconds if self.seconds > 0 else 0.0
        text = (
            f"loaded {self.objects} objects ({self.reloaded} reloaded), {self.lines:,} lines, "
            f"{self.bytes:,} bytes in {self.seconds:.1f} s ({rate:,.0f} lines/s); skipped "
            f"{self.skipped_loaded} already loaded, {self.skipped_changed} changed, "
            f"{self.skipped_not_log} not log objects, {self.failed} unreadable"
        )
        if self.blank_lines:
            text += f"; {self.blank_lines} blank lines"
        if self.list_requests:
            kind = "full" if self.full_listing else "incremental"
            text += f"; {self.list_requests} LIST requests ({kind} listing)"
        return text


@dataclass(frozen=True)
class LogObject:
    """One object of the source, as listed. `file_name` is what the raw table stores."""

    file_name: str
    fingerprint: str
    size: int
    last_modified: dt.datetime  # naive UTC
    read: Callable[[], Iterator[bytes]]
    path: Path | None = None  # local files only: DuckDB may read them itself
    key: str = ""  # S3 objects only: the key in its bucket


def is_log_object(file_name: str) -> bool:
    """Whether a key is an S3 access log object: see the key-layout rule in `load --help`."""
    name = file_name.rsplit("/", 1)[-1]
    match = _LOG_NAME.search(name)
    if match is None or match.end() != len(name):
        return False
    try:
        dt.datetime(*map(int, match.groups()))
    except ValueError:
        return False
    return True


def object_name(key: str) -> str:
    """The name the raw table stores for a log object: the same whatever folder, S3 prefix or
    stage URL it is reached through.

    `key` is the object's full S3 key or local path. Date-partitioned objects keep their
    partition folders from the source account id on (`account/region/bucket/YYYY/MM/DD/name`),
    others keep their own name (the part after the last `/`). That is what Snowflake's
    METADATA$FILENAME gives for a stage on the log delivery prefix.
    """
    match = _PARTITIONED.search(key)
    return match.group(1) if match else key.rsplit("/", 1)[-1]


def object_id(file_name: str) -> str:
    """How an object is recognised as loaded: its own name, which AWS makes unique
    (`YYYY-mm-DD-HH-MM-SS-UniqueString`), read from any stored `file_name`, including the
    folder- or prefix-relative names of loads made before `object_name`."""
    return file_name.rsplit("/", 1)[-1]


def default_database() -> str:
    return os.environ.get(DATABASE_ENV) or DEFAULT_DATABASE


# --- reading objects -------------------------------------------------------------------------


def _decompressed(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The chunks as they are, or gunzipped when the data starts with the gzip magic number.

    Decided by content, not by the `.gz` suffix, because some delivery paths compress without
    renaming. Concatenated gzip members (what `cat a.gz b.gz` gives) are all read.
    """
    chunks = iter(chunks)
    first = next(chunks, b"")
    if not first.startswith(b"\x1f\x8b"):
        if first:
            yield first
        yield from chunks
        return
    inflater = zlib.decompressobj(wbits=31)
    member_open = False  # bytes of a gzip member were fed and its end not seen yet
    try:
        for chunk in _chain(first, chunks):
            while chunk:
                member_open = True
                yield inflater.decompress(chunk)
                if inflater.eof:
                    member_open = False
                    chunk = inflater.unused_data
                    inflater = zlib.decompressobj(wbits=31)
                else:
                    chunk = b""
    except zlib.error as exc:
        raise _ObjectError(f"corrupt gzip data ({exc})") from exc
    if member_open:
        raise _ObjectError("gzip data ends early (truncated object)")


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def _blocks(data: Iterable[bytes]) -> Iterator[tuple[list[str], list[int] | range, int]]:
    """Split an object's bytes into blocks of (lines, their 1-based line numbers, blank count).

    Lines lose their `\\n` and one trailing `\\r`. Blank lines are skipped, as Snowflake's
    SKIP_BLANK_LINES does, but the others keep their real line numbers. Splitting at the last
    newline of each chunk keeps multi-byte characters whole; bytes that are not UTF-8 become
    U+FFFD so that one bad byte never costs the line.
    """
    carry = b""
    line_no = 1
    for chunk in data:
        if carry:
            chunk = carry + chunk
        cut = chunk.rfind(b"\n") + 1
        if cut == 0:
            carry = chunk
            continue
        carry = chunk[cut:]
        text = chunk[:cut].decode("utf-8", "replace")
        lines = text.split("\n")
        lines.pop()  # the empty string after the final newline
        yield _numbered(lines, line_no, "\r" in text)
        line_no += len(lines)
    if carry:  # a last line without a newline
        yield _numbered([carry.decode("utf-8", "replace")], line_no, b"\r" in carry)


def _numbered(
    lines: list[str], first: int, has_cr: bool
) -> tuple[list[str], list[int] | range, int]:
    if has_cr:
        lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    if "" not in lines:
        return lines, range(first, first + len(lines)), 0
    numbers = [first + i for i, line in enumerate(lines) if line]
    kept = [line for line in lines if line]
    return kept, numbers, len(lines) - len(kept)


def _plain_text_lines(chunks: Iterable[bytes]) -> int | None:
    """How many lines (blank ones included) plain UTF-8 data has; None if gzipped or not UTF-8.

    This decides which local files DuckDB may read itself: `read_text` fails a whole statement
    over one byte that is not UTF-8, where `_blocks` turns it into U+FFFD and keeps the line.
    The count gives the blank lines of the summary, since DuckDB only reports the rows it kept.
    """
    lines = 0
    last = b""
    decoder = None
    for chunk in chunks:
        if not last and chunk.startswith(b"\x1f\x8b"):  # the first chunk: see `_decompressed`
            return None
        lines += chunk.count(b"\n")
        last = chunk
        # ASCII, most log text, is UTF-8 without decoding. Once a chunk is not ASCII, all the
        # rest is decoded, so that a character split across two chunks is checked whole.
        if decoder is None and chunk.isascii():
            continue
        decoder = decoder or codecs.getincrementaldecoder("utf-8")()
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError:
            return None
    if decoder is not None:
        try:
            decoder.decode(b"", final=True)  # the data ends inside a character
        except UnicodeDecodeError:
            return None
    if last and not last.endswith(b"\n"):  # a last line without a newline
        lines += 1
    return lines


# --- sources ---------------------------------------------------------------------------------


def _utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.timezone.utc).replace(tzinfo=None) if value.tzinfo else value


def _local_pages(folder: Path) -> Iterator[list[LogObject]]:
    """Every file under the folder, in path order, named by `object_name` of its path."""
    page: list[LogObject] = []
    for directory, subdirs, files in os.walk(folder):
        subdirs.sort()
        for name in sorted(files):
            path = Path(directory, name)
            try:
                stat = path.stat()
            except OSError as exc:  # a broken symlink, a file deleted since the listing
                log.error("skipped %s: %s", path, exc.strerror or exc)
                continue
            page.append(
                LogObject(
                    file_name=object_name(path.absolute().as_posix()),
                    fingerprint=f"size:{stat.st_size}:mtime_ns:{stat.st_mtime_ns}",
                    size=stat.st_size,
                    last_modified=_utc(dt.datetime.fromtimestamp(stat.st_mtime, dt.timezone.utc)),
                    read=lambda path=path: _read_file(path),
                    path=path,
                )
            )
            if len(page) >= _LISTING_PAGE:
                yield page
                page = []
    if page:
        yield page


def _read_file(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as f:
        yield from _read_chunks(f)


def _read_chunks(f: IO[bytes]) -> Iterator[bytes]:
    while chunk := f.read(_READ_CHUNK):
        yield chunk


class _S3Source:
    """An `s3://bucket/prefix` source through boto3 and the standard AWS credential chain.

    `file_name` is `object_name` of the key: the same whatever prefix the URL gives.
    """

    def __init__(self, url: str, endpoint_url: str | None, connections: int = 10) -> None:
        import boto3
        import botocore.session
        from botocore.config import Config

        bucket, _, prefix = url[len("s3://") :].partition("/")
        if not bucket:
            raise LoadError(f"{url}: no bucket name; use s3://bucket or s3://bucket/prefix/")
        self.bucket, self.prefix = bucket, prefix
        self.where = f"s3://{bucket}" + (f" at {endpoint_url}" if endpoint_url else "")
        # A fresh session, not boto3's module-level one, so that the credential chain is read
        # now and not reused from an earlier call in the same process.
        core = botocore.session.get_session()
        core.get_component("response_parser_factory").set_parser_defaults(
            timestamp_parser=s3_reader.parse_timestamp  # listings' LastModified, fast
        )
        session = boto3.session.Session(botocore_session=core)
        try:
            self.s3 = session.client(
                "s3",
                endpoint_url=endpoint_url,
                # a connection per thread reading ahead (botocore keeps 10 by default)
                config=Config(retries={"mode": "standard"}, max_pool_connections=connections),
            )
        except ValueError as exc:  # botocore's "Invalid endpoint"
            raise LoadError(
                f"--endpoint-url {endpoint_url!r} is not usable ({exc}); give a URL such as "
                "http://localhost:9000"
            ) from None
        head = self._call(lambda: self.s3.head_bucket(Bucket=bucket))
        self.list_requests = 0
        # Small objects are fetched by direct GETs where they send what the client would
        # (s3_reader.DirectGet); None: the client reads every object.
        try:
            self.direct = s3_reader.DirectGet.for_bucket(self.s3, session, bucket, head)
        except Exception:
            log.debug("no direct GETs for %s", self.where, exc_info=True)
            self.direct = None
        self._direct_misses = 0  # direct GETs in a row that failed where the client did not

    def _call(self, request: Callable[[], object]) -> object:
        """Run one S3 request, turning failures into a LoadError that says what to do."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return request()
        except (BotoCoreError, ClientError) as exc:
            raise self._translate(exc) from exc

    def _translate(self, exc: Exception) -> LoadError:
        from botocore.exceptions import ClientError, NoCredentialsError, PartialCredentialsError

        if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
            return LoadError(
                f"no usable AWS credentials for {self.where} ({exc}). Provide them the usual way: "
                "AWS_PROFILE (after `aws configure` or `aws sso login`), or AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN), or an instance/container role."
            )
        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchBucket"):
                return LoadError(f"bucket {self.bucket} not found ({self.where})")
            if code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
                return LoadError(
                    f"access to {self.where} denied ({code}): the credentials need "
                    "s3:ListBucket and s3:GetObject on the log bucket"
                )
        return LoadError(f"S3 request to {self.where} failed: {exc}")

    def pages(self, starts: dict[str, str] | None = None) -> Iterator[list[LogObject]]:
        """The objects under the prefix, a listing page at a time; with `starts` (a stream's key
        prefix -> the key to start after), only each of those streams from there."""
        if starts is None:
            listings = [(self.prefix, None)]
        else:  # a stream is under the prefix, or the prefix ends inside a stream's name
            listings = [
                (stream if stream.startswith(self.prefix) else self.prefix, start)
                for stream, start in sorted(starts.items())
                if stream.startswith(self.prefix) or self.prefix.startswith(stream)
            ]
        paginator = self.s3.get_paginator("list_objects_v2")
        for prefix, start in listings:
            listing = iter(
                paginator.paginate(
                    Bucket=self.bucket,
                    Prefix=prefix,
                    **({"StartAfter": start} if start else {}),
                    PaginationConfig={"PageSize": _LISTING_PAGE},
                )
            )
            while True:
                page = self._call(lambda listing=listing: next(listing, None))
                if page is None:
                    break
                self.list_requests += 1
                yield [
                    LogObject(
                        file_name=object_name(item["Key"]),
                        fingerprint="etag:" + item["ETag"].strip('"'),
                        size=item["Size"],
                        last_modified=_utc(item["LastModified"]),
                        read=functools.partial(self._read, item["Key"], item["ETag"], item["Size"]),
                        key=item["Key"],
                    )
                    for item in page.get("Contents", [])
                    if not item["Key"].endswith("/")  # folder placeholders made by consoles
                ]

    def _read(self, key: str, etag: str, size: int | None = None) -> Iterator[bytes]:
        from botocore.exceptions import BotoCoreError, ClientError

        direct, missed = self.direct, None
        if direct is not None and size is not None and size <= s3_reader.DIRECT_GET_MAX:
            body, missed = direct.get(key, etag, size)
            if body is not None:
                self._direct_misses = 0
                if body:
                    yield body
                return
        try:
            # IfMatch: the bytes must be the version whose ETag goes into the history.
            body = self.s3.get_object(Bucket=self.bucket, Key=key, IfMatch=etag)["Body"]
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("NoSuchKey", "404", "PreconditionFailed", "412"):
                raise _ObjectError(f"changed or deleted since it was listed ({code})") from exc
            raise self._translate(exc) from exc
        except BotoCoreError as exc:
            raise self._translate(exc) from exc
        if missed is not None and self.direct is direct:
            # The client read what a direct GET could not. After a refusal (3xx, 4xx), a
            # 503 (S3's "slow down": the client backs off, direct GETs would not), or a third
            # time in a row, the client reads every object from now on.
            self._direct_misses += 1
            if 300 <= missed < 500 or missed == 503 or self._direct_misses >= _DIRECT_MISSES:
                self.direct = None
                what = {0: "no answer", 200: "HTTP 200 but not the whole object as listed"}
                log.info(
                    "%s: a direct GET failed (%s) where the S3 client's succeeded: the client "
                    "reads every object from now on",
                    self.where,
                    what.get(missed, f"HTTP {missed}"),
                )
        with body:
            try:
                yield from body.iter_chunks(_READ_CHUNK)
            except BotoCoreError as exc:
                raise self._translate(exc) from exc


def _local_source(path: str) -> Iterator[list[LogObject]]:
    folder = Path(path)
    if not folder.exists():
        raise LoadError(
            f"folder {path} does not exist; give a folder of log objects, an s3:// URL, or "
            "run `s3logs demo-data` first to create data/demo-logs"
        )
    if not folder.is_dir():
        raise LoadError(f"{path} is a file; give the folder that holds the log objects")
    return _local_pages(folder)


# --- the database side -----------------------------------------------------------------------


_RAW_COLUMNS = ["raw", "file_name", "file_row_number", "file_last_modified", "loaded_at"]


def _check_raw_table(con: duckdb.DuckDBPyConnection, database: str) -> None:
    """`create table if not exists` keeps a table of the same name made by something else."""
    columns = [row[0] for row in con.execute(f"describe {RAW_TABLE}").fetchall()]
    if columns != _RAW_COLUMNS:
        raise LoadError(
            f"{database} already has a table {RAW_TABLE} with other columns ({', '.join(columns)});"
            f" the loader needs ({', '.join(_RAW_COLUMNS)}). Load into another --database, or"
            " rename that table."
        )


def open_database(database: str) -> duckdb.DuckDBPyConnection:
    """Open (or create) the DuckDB file, or raise LoadError with what to do."""
    try:
        if database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LoadError(
            f"cannot create the folder for the DuckDB file {database}: {exc.strerror or exc}; "
            "give --database a path in a writable folder"
        ) from None
    try:
        con = duckdb.connect(database)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise DatabaseInUseError(
                f"the DuckDB file {database} is in use by another process (a dbt run, a DuckDB "
                f"shell, a notebook?): let it finish or close it, then run the load again. "
                f"DuckDB says: {exc}"
            ) from exc
        raise LoadError(f"cannot open the DuckDB file {database}: {exc}") from exc
    return con


def _limit_memory(con: duckdb.DuckDBPyConnection) -> None:
    """Set LOAD_MEMORY_LIMIT, and leave it: the checkpoint when the load closes the file
    rewrites row groups, and without the limit it alone took RSS to 3.9 GB after 5M lines.
    The setting is global: a caller sharing the DuckDB instance resets it after the load
    (`s3logs run` does, before dbt builds)."""
    try:
        con.execute(f"set memory_limit = '{LOAD_MEMORY_LIMIT}'")
    except duckdb.Error as exc:  # a shared instance that cannot free that much: load anyway
        log.debug("DuckDB memory limit left as it was: %s", exc)


def _connect(database: str) -> duckdb.DuckDBPyConnection:
    con = open_database(database)
    # Rows carry their own order (file_name, file_row_number): letting DuckDB append in any
    # order is what lets it append on all threads. (A global setting: load_logs resets it,
    # for the other connections of a DuckDB instance it shares, as `s3logs run` does.)
    con.execute("set preserve_insertion_order = false")
    return con


# The rows of the plain local files of a batch, in one statement: what `_blocks` gives (lines
# split at \n, one trailing \r stripped, blank lines skipped but counted in the numbering, the
# empty string after the final newline no line). DuckDB reads the files of one `read_text` call
# on one thread, so the batch's files are dealt into groups, one `read_text` each, whose union
# DuckDB runs on all its threads (with insertion order not kept: rows carry their own order).
# Name and time come from the listing, looked up by path; error() fails the load, rather than
# lose a file's lines, if DuckDB did not give a path back as it was passed.
_NATIVE_GROUP = """
select
    if(
        list_position($paths{g}, t.filename) is null,
        error('DuckDB did not read ' || t.filename || ' by the name it was given'),
        $names{g}[list_position($paths{g}, t.filename)]
    ) as file_name,
    $modified{g}[list_position($paths{g}, t.filename)] as file_last_modified,
    string_split(t.content, chr(10)) as lines
from read_text($paths{g}) as t
"""
_NATIVE_INSERT = f"""
insert into {RAW_TABLE}
with files as (
    {{groups}}
),
numbered as (
    select
        file_name,
        file_last_modified,
        unnest(lines) as line,
        generate_subscripts(lines, 1) as file_row_number
    from files
),
stripped as (
    select
        if(suffix(line, chr(13)), line[:-2], line) as raw,
        file_name,
        file_row_number,
        file_last_modified
    from numbered
)
select raw, file_name, file_row_number, file_last_modified, $loaded_at
from stripped
where raw <> ''
"""
_NATIVE_GROUPS = 4


# Rows per file for the history: the statement above cannot report them. The batch's loaded_at
# keeps the scan to its own row groups, and a reloaded object's old rows are deleted already.
_NATIVE_COUNTS = f"""
select file_name, count(*) from {RAW_TABLE}
where loaded_at = $loaded_at and file_name in (select file_name from _s3logs_files)
group by file_name
"""


class _Batch:
    """Rows and history entries of the objects loaded in one transaction."""

    def __init__(
        self, con: duckdb.DuckDBPyConnection, summary: LoadSummary, limit: int, native: bool
    ) -> None:
        self.con, self.summary, self.limit, self.native_enabled = con, summary, limit, native
        self.loaded_at: dt.datetime | None = None
        self._reset()

    def _reset(self) -> None:
        # The next object's index: not len(self.objects), which gets the DuckDB-read files late.
        self.added = 0
        self.objects: list[tuple[int, str, dt.datetime, str, int, int, str]] = []
        # (object, index, absolute path, line count, reload) of the files DuckDB reads itself
        self.native: list[tuple[LogObject, int, str, int, bool]] = []
        self.to_delete: list[str] = []  # changed objects whose old rows go at the next flush
        self.raw: list[str] = []
        self.obj: list[int] = []
        self.rows: list[int] = []
        self.pending_bytes = 0
        self.total_bytes = 0

    def _next_loaded_at(self) -> dt.datetime:
        """Now (UTC), but always later than every loaded_at already in the table: a clock that
        steps back (NTP, a resumed VM) must not stamp a reload earlier than the rows it
        replaces, which the parse model's incremental run relies on."""
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        [(latest,)] = self.con.execute(f"select max(loaded_at) from {RAW_TABLE}").fetchall()
        if latest is not None and now <= latest:
            return latest + dt.timedelta(microseconds=1)
        return now

    @property
    def full(self) -> bool:
        return self.total_bytes >= self.limit

    def add(self, obj: LogObject, reload: bool) -> None:
        """Read one object into the batch; an unreadable one is logged and left for next time."""
        if self.loaded_at is None:
            self.con.execute("begin transaction")
            # One value per batch, so that dbt's lookback window sees a batch whole.
            self.loaded_at = self._next_loaded_at()
        index = self.added
        self.added += 1
        if reload:
            self.to_delete.append(obj.file_name)
        path = self._native_path(obj)
        lines = _plain_text_lines(obj.read()) if path is not None else None
        if lines is not None:
            self.native.append((obj, index, path, lines, reload))
            self.total_bytes += obj.size // _NATIVE_BATCH_SHARE
            return
        mark = len(self.raw)
        flushed = False
        count = blanks = 0
        try:
            for lines, numbers, blank in _blocks(_decompressed(obj.read())):
                self.raw.extend(lines)
                self.obj.extend([index] * len(lines))
                self.rows.extend(numbers)
                count += len(lines)
                blanks += blank
                size = sum(map(len, lines))
                self.pending_bytes += size
                self.total_bytes += size
                if self.pending_bytes >= self.limit:  # memory: rows go to the table early
                    self._flush(with_object=(obj, index))
                    flushed, mark = True, 0
        except _ObjectError as exc:
            if flushed:  # take back the rows of this object the flush appended
                self.con.execute(
                    f"delete from {RAW_TABLE} where file_name = ? and loaded_at = ?",
                    [obj.file_name, self.loaded_at],
                )
            del self.raw[mark:], self.obj[mark:], self.rows[mark:]
            if reload:
                self.to_delete.pop()
            log.error("skipped %s: %s (it will be retried on the next run)", obj.file_name, exc)
            self.summary.failed += 1
            self.summary.failures.append((obj.file_name, str(exc)))
            return
        self._loaded(obj, index, count, blanks, reload)

    def _native_path(self, obj: LogObject) -> str | None:
        """The path DuckDB would read the object from, if it may read it itself."""
        # DuckDB holds a whole file in memory: a file larger than a batch streams through Python.
        if not self.native_enabled or obj.path is None or obj.size > self.limit:
            return None
        # Absolute, so that DuckDB resolves it as Python does (it would expand a leading ~).
        path = str(obj.path.absolute())
        return None if _GLOB_CHARS.intersection(path) else path

    def _loaded(self, obj: LogObject, index: int, count: int, blanks: int, reload: bool) -> None:
        status = "reloaded" if reload else "loaded"
        self.objects.append(
            (index, obj.file_name, obj.last_modified, obj.fingerprint, count, obj.size, status)
        )
        self.summary.objects += 1
        self.summary.reloaded += reload
        self.summary.lines += count
        self.summary.blank_lines += blanks
        self.summary.bytes += obj.size

    def _flush(self, with_object: tuple[LogObject, int] | None = None) -> None:
        """Append the buffered rows (inside the open transaction)."""
        objects = [(i, name, modified) for i, name, modified, *_ in self.objects]
        if with_object is not None:  # the object being read is not in self.objects yet
            obj, index = with_object
            objects.append((index, obj.file_name, obj.last_modified))
        # The old rows of changed objects, by their earlier loaded_at (every row of this batch
        # has a later one). The object being read keeps its old rows until it has been read
        # whole: should its end be unreadable, its new rows are taken back and the old stay.
        reading = with_object[0].file_name if with_object is not None else None
        stale = [name for name in self.to_delete if name != reading]
        if stale:
            self.con.execute(
                f"delete from {RAW_TABLE} where file_name in (select unnest(?::varchar[])) "
                "and loaded_at < ?",
                [stale, self.loaded_at],
            )
        self.to_delete = [name for name in self.to_delete if name == reading]
        self._insert_native()
        if self.raw:
            lines = pa.table(
                {
                    "raw": pa.array(self.raw, pa.string()),
                    "obj": pa.array(self.obj, pa.int32()),
                    "file_row_number": pa.array(self.rows, pa.int64()),
                }
            )
            names = pa.table(
                {
                    "obj": pa.array([o[0] for o in objects], pa.int32()),
                    "file_name": pa.array([o[1] for o in objects], pa.string()),
                    "file_last_modified": pa.array([o[2] for o in objects], pa.timestamp("us")),
                }
            )
            self.con.register("_s3logs_lines", lines)
            self.con.register("_s3logs_objects", names)
            self.con.execute(
                f"insert into {RAW_TABLE} select l.raw, o.file_name, l.file_row_number, "
                "o.file_last_modified, ? from _s3logs_lines l join _s3logs_objects o using (obj)",
                [self.loaded_at],
            )
            self.con.unregister("_s3logs_lines")
            self.con.unregister("_s3logs_objects")
        self.raw, self.obj, self.rows = [], [], []
        self.pending_bytes = 0

    def _insert_native(self) -> None:
        """Have DuckDB read and append the batch's plain local files (inside the transaction)."""
        if not self.native:
            return
        objs, _, paths, _, _ = zip(*self.native, strict=True)
        files = pa.table(
            {
                "path": pa.array(paths, pa.string()),
                "file_name": pa.array([o.file_name for o in objs], pa.string()),
                # From the listing, as the Python path stores it: not DuckDB's own rounding.
                "file_last_modified": pa.array([o.last_modified for o in objs], pa.timestamp("us")),
            }
        )
        self.con.register("_s3logs_files", files)
        groups = min(_NATIVE_GROUPS, len(objs))
        params: dict[str, object] = {"loaded_at": self.loaded_at}
        for g in range(groups):
            params[f"paths{g}"] = list(paths[g::groups])
            params[f"names{g}"] = [o.file_name for o in objs[g::groups]]
            params[f"modified{g}"] = [o.last_modified for o in objs[g::groups]]
        union = "\n    union all\n".join(_NATIVE_GROUP.format(g=g) for g in range(groups))
        self.con.execute(_NATIVE_INSERT.format(groups=union), params)
        kept = dict(self.con.execute(_NATIVE_COUNTS, {"loaded_at": self.loaded_at}).fetchall())
        self.con.unregister("_s3logs_files")
        for obj, index, _, lines, reload in self.native:
            count = kept.get(obj.file_name, 0)
            self._loaded(obj, index, count, lines - count, reload)
        self.native = []

    def commit(self) -> None:
        if self.loaded_at is None:
            return
        self._flush()
        if self.objects:
            # Through Arrow: DuckDB's executemany costs about a millisecond per row.
            _, names, modified, fingerprints, rows, sizes, statuses = zip(
                *self.objects, strict=True
            )
            history = pa.table(
                {
                    "file_name": pa.array(names, pa.string()),
                    "fingerprint": pa.array(fingerprints, pa.string()),
                    "rows": pa.array(rows, pa.int64()),
                    "bytes": pa.array(sizes, pa.int64()),
                    "file_last_modified": pa.array(modified, pa.timestamp("us")),
                    "status": pa.array(statuses, pa.string()),
                }
            )
            self.con.register("_s3logs_history", history)
            self.con.execute(
                f"insert into {HISTORY_TABLE} select file_name, fingerprint, rows, bytes, "
                f"file_last_modified, ?, status, {_OBJECT_ID_SQL} from _s3logs_history",
                [self.loaded_at],
            )
            self.con.unregister("_s3logs_history")
        self.con.execute("commit")
        if self.objects:
            log.info(
                "committed %d objects, %d lines (loaded_at %s)",
                len(self.objects),
                sum(o[4] for o in self.objects),
                self.loaded_at.isoformat(sep=" "),
            )
        self.loaded_at = None
        self._reset()


# object_id() in SQL: the part of file_name after its last `/`.
_OBJECT_ID_SQL = "regexp_extract(file_name, '[^/]*$')"


def _upgrade_history(con: duckdb.DuckDBPyConnection) -> None:
    """Give a load history written before object ids its `object_id` column.

    Those loads stored names relative to the folder or prefix they were given; the object id is
    the end of any such name, so their objects are recognised and never loaded a second time
    (their rows keep the names they were loaded under, and a reload keeps that name too).
    """
    columns = [row[0] for row in con.execute(f"describe {HISTORY_TABLE}").fetchall()]
    if "object_id" in columns:
        return
    con.execute("begin transaction")
    con.execute(f"alter table {HISTORY_TABLE} add column object_id varchar")
    con.execute(f"update {HISTORY_TABLE} set object_id = {_OBJECT_ID_SQL}")
    con.execute("commit")


def _known_fingerprints(
    con: duckdb.DuckDBPyConnection, ids: list[str]
) -> dict[str, tuple[str, str]]:
    """object id -> (the file_name it was stored under, the fingerprint it was last loaded
    with), for the objects of these ids that were loaded."""
    rows = con.execute(
        f"""
        select object_id, file_name, fingerprint from {HISTORY_TABLE}
        where object_id in (select unnest(?::varchar[]))
        qualify row_number() over (partition by object_id order by loaded_at desc) = 1
        """,
        [ids],
    ).fetchall()
    return {oid: (name, fingerprint) for oid, name, fingerprint in rows}


def _record_failures(con: duckdb.DuckDBPyConnection, failures: list[tuple[str, str]]) -> None:
    """Keep the failed-objects table current: one row per object that could not be read
    (what, why, first and last failure, how many loads tried it), removed once it loads.
    A schedule learns of them from the exit status and from the dbt test on this table."""
    [(known,)] = con.execute(f"select count(*) from {FAILED_TABLE}").fetchall()
    if not failures and not known:
        return
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    latest = {object_id(name): (name, reason) for name, reason in failures}
    con.execute("begin transaction")
    if latest:
        failed = pa.table(
            {
                "object_id": pa.array(list(latest), pa.string()),
                "file_name": pa.array([n for n, _ in latest.values()], pa.string()),
                "reason": pa.array([r for _, r in latest.values()], pa.string()),
            }
        )
        con.register("_s3logs_failed", failed)
        con.execute(
            f"""
            update {FAILED_TABLE} set
                file_name = f.file_name, reason = f.reason, last_failed_at = $now,
                tries = tries + 1
            from _s3logs_failed as f where {FAILED_TABLE}.object_id = f.object_id
            """,
            {"now": now},
        )
        con.execute(
            f"""
            insert into {FAILED_TABLE}
            select object_id, file_name, reason, $now, $now, 1 from _s3logs_failed
            where object_id not in (select object_id from {FAILED_TABLE})
            """,
            {"now": now},
        )
        con.unregister("_s3logs_failed")
    # loaded since (this run, or another run through another root)
    con.execute(
        f"delete from {FAILED_TABLE} where object_id in (select object_id from {HISTORY_TABLE})"
    )
    con.execute("commit")


def _to_load(
    pages: Iterable[list[LogObject]],
    con: duckdb.DuckDBPyConnection,
    summary: LoadSummary,
    reload_changed: bool,
    state: s3_reader.ListingState | None,
) -> Iterator[tuple[LogObject, str | None]]:
    """The listed objects to load, in listing order, each with the fingerprint it was loaded
    with before (None: never loaded); the others are counted in the summary as skipped.

    Objects are recognised by their AWS name (`object_id`), whatever folder or prefix reached
    them: one loaded before is skipped, and the same object reached twice in one listing (two
    folders, two prefixes) is loaded once. This run's objects are remembered for the whole run,
    not per batch, because the S3 path reads ahead of the batch that commits them.
    """
    this_run: dict[str, tuple[str, str]] = {}  # object id -> (file_name, fingerprint)
    for page in pages:
        logs = [obj for obj in page if is_log_object(obj.file_name)]
        for obj in page:
            if not is_log_object(obj.file_name):
                log.info("skipped %s: not an S3 access log object name", obj.file_name)
                summary.skipped_not_log += 1
        ids = [object_id(obj.file_name) for obj in logs]
        known = _known_fingerprints(con, ids) if logs else {}
        for obj, oid in zip(logs, ids, strict=True):
            if state is not None:
                state.seen(obj.key)
            if oid in this_run:
                name, fingerprint = this_run[oid]
                if fingerprint == obj.fingerprint:
                    summary.skipped_loaded += 1
                else:
                    log.warning(
                        "skipped %s: an object of the same AWS name with other content was "
                        "loaded from this source already (as %s); check where the two "
                        "copies come from",
                        obj.path or obj.key or obj.file_name,
                        name,
                    )
                    summary.skipped_changed += 1
                    summary.changed.append(obj.file_name)
                continue
            stored, previous = known.get(oid, (obj.file_name, None))
            if previous == obj.fingerprint:
                summary.skipped_loaded += 1
                continue
            if previous is not None and not reload_changed:
                log.warning(
                    "skipped %s: changed since it was loaded (%s, now %s); run the load "
                    "with --reload-changed to replace its rows",
                    obj.file_name,
                    previous,
                    obj.fingerprint,
                )
                summary.skipped_changed += 1
                summary.changed.append(obj.file_name)
                continue
            if previous is not None:
                log.warning("reloading %s: changed since it was loaded", obj.file_name)
                # under the name its rows have (an older load's name is kept)
                obj = dataclasses.replace(obj, file_name=stored)
            this_run[oid] = (obj.file_name, obj.fingerprint)
            yield obj, previous


def load_logs(
    source: str,
    database: str | None = None,
    *,
    endpoint_url: str | None = None,
    reload_changed: bool = False,
    progress: Callable[[LoadSummary], None] | None = None,
    batch_bytes: int = DEFAULT_BATCH_BYTES,
    native: bool = True,
    readers: int = s3_reader.DEFAULT_READERS,
    listing_margin_hours: float = s3_reader.DEFAULT_MARGIN_HOURS,
    full_listing_hours: float = s3_reader.DEFAULT_FULL_LISTING_HOURS,
    before_open: Callable[[str], None] | None = None,
) -> LoadSummary:
    """Load every log object of `source` (a folder or `s3://bucket/prefix`) not loaded yet.

    Raises LoadError, with a message that says what to do, for the failures a user can fix.
    `progress` is called with the running summary after each object; the files DuckDB reads
    itself count when their batch commits. `native=False` reads every object through Python,
    which gives the same rows more slowly: the tests compare the two.

    S3 only: `readers` threads fetch objects ahead of the writer (1: one at a time, as it
    comes); a load lists each source's keys from `listing_margin_hours` before the newest one
    an earlier load saw, and the whole prefix when none did or its last full listing is
    `full_listing_hours` old (see bootstrap/s3_reader.py).

    `before_open` is called with the database path once the source is found usable, before
    the file is opened (and created if missing): a source that is not usable creates nothing.
    """
    started = time.monotonic()
    summary = LoadSummary()
    s3 = None
    if source.startswith("s3://"):
        # a pooled connection for each reader and one for the listing, which runs beside them
        s3 = _S3Source(source, endpoint_url, connections=max(readers + 1, 10))
    else:
        local_pages = _local_source(source)
    if before_open is not None:
        before_open(database or default_database())
    con = _connect(database or default_database())
    _limit_memory(con)
    try:
        con.execute(_CREATE_TABLES)
        _check_raw_table(con, database or default_database())
        _upgrade_history(con)
        batch = _Batch(con, summary, batch_bytes, native)
        state = None
        if s3 is None:
            wanted = _to_load(local_pages, con, summary, reload_changed, None)
        else:
            now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
            state = s3_reader.ListingState(con, f"s3://{s3.bucket}/{s3.prefix}")
            plan = state.plan(
                now, margin_hours=listing_margin_hours, full_listing_hours=full_listing_hours
            )
            summary.full_listing = plan.full
            pages = s3.pages(plan.starts)
            wanted = s3_reader.read_ahead(
                _to_load(pages, con, summary, reload_changed, state), readers=readers
            )
        for obj, previous in wanted:
            failed = summary.failed
            batch.add(obj, reload=previous is not None)
            if state is not None and summary.failed > failed:
                state.unreadable(obj.key)
            if batch.full:
                batch.commit()
            if progress is not None:
                summary.seconds = time.monotonic() - started
                progress(summary)
        batch.commit()
        _record_failures(con, summary.failures)
        if s3 is not None:
            summary.list_requests = s3.list_requests
            state.save(plan, now)
    except BaseException:
        # Closing would roll back too; saying so keeps the no-partial-object rule visible.
        with contextlib.suppress(duckdb.Error):  # no transaction open: nothing to undo
            con.execute("rollback")
        raise
    finally:
        if s3 is not None and "wanted" in locals():
            wanted.close()  # stops the threads reading ahead
        with contextlib.suppress(duckdb.Error):
            con.execute("reset preserve_insertion_order")
        con.close()
    summary.seconds = time.monotonic() - started
    return summary


# --- the command -----------------------------------------------------------------------------


class _Console(logging.Handler):
    """Log lines on stderr and, on a terminal, a status line that redraws in place."""

    def __init__(self, stream: IO[str]) -> None:
        super().__init__()
        self.stream = stream
        self.live = stream.isatty()
        self.shown = False
        self.last = 0.0

    def emit(self, record: logging.LogRecord) -> None:
        self._clear()
        level = "" if record.levelno == logging.INFO else f"{record.levelname.lower()}: "
        click.echo(level + record.getMessage(), file=self.stream)

    def progress(self, summary: LoadSummary) -> None:
        now = time.monotonic()
        if not self.live or now - self.last < 0.2:
            return
        self.last = now
        rate = summary.lines / summary.seconds if summary.seconds > 0 else 0.0
        click.echo(
            f"\r\x1b[K{summary.objects} objects, {summary.lines:,} lines, "
            f"{summary.bytes / 1e6:,.1f} MB, {summary.skipped} skipped ({rate:,.0f} lines/s)",
            file=self.stream,
            nl=False,
        )
        self.shown = True

    def _clear(self) -> None:
        if self.shown:
            click.echo("\r\x1b[K", file=self.stream, nl=False)
            self.shown = False


def console_load(source: str, database: str | None = None, **options) -> LoadSummary:
    """`load_logs` with its log lines and progress on stderr (a status line on a terminal)."""
    console = _Console(sys.stderr)
    log.addHandler(console)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        return load_logs(source, database, progress=console.progress, **options)
    finally:
        console._clear()
        log.removeHandler(console)
        log.propagate = True


@click.command("load")
@source_options(
    "DuckDB file to load into (created if missing); the dbt profile reads the same variable."
)
@listing_options()
def load(
    source: str,
    database: str,
    endpoint_url: str | None,
    reload_changed: bool,
    keep_going: bool,
    **s3: float,
) -> None:
    """Append S3 server access log lines from SOURCE to the raw table of a DuckDB file.

    SOURCE is a local folder (default: data/demo-logs) or s3://bucket/prefix. S3 credentials
    come from the standard AWS chain (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, an
    instance role), never from flags. Rows land in main.s3_access_logs_raw (raw, file_name,
    file_row_number, file_last_modified, loaded_at), as Snowpipe fills them on Snowflake.

    \b
    Which objects are logs: an object is loaded when its name (the part
    after the last /) ends in YYYY-mm-DD-HH-MM-SS-UniqueString, optionally
    followed by .gz; both AWS key layouts end that way:
      prefixYYYY-mm-DD-HH-MM-SS-UniqueString
      prefix/account/region/bucket/YYYY/MM/DD/YYYY-mm-DD-HH-MM-SS-UniqueString
    Anything else (README, _SUCCESS, incidents.json) is skipped with a note.
    Gzipped objects are recognised by content and decompressed.

    \b
    Object names: an object is named from its own key, never from the
    folder or prefix given (date-partitioned: from the account id on;
    simple: the part after the last /), so loading a sub-folder or another
    prefix of what was loaded adds nothing.

    \b
    Exactly once: main.s3_access_logs_load_history records each object's
    name and fingerprint (ETag on S3, size+mtime locally), so running the
    load again adds nothing. An object whose fingerprint changed is skipped
    with a warning unless --reload-changed, which replaces its rows. Each
    batch of objects commits rows and history together: an interrupted
    load leaves no partial object, and the next run loads the batch again.

    \b
    Objects that cannot be read (corrupt or truncated gzip, deleted since
    listed) are skipped, recorded in main.s3_access_logs_failed_objects
    (reason, first and last failure, tries; removed once they load) and
    tried again on the next run; the dbt test assert_no_failed_log_objects
    warns about them at the next build.

    \b
    Exit status: 0 when every log object was loaded or skipped as loaded;
    1 for an error that stopped the load (the message says what to do);
    2 for a wrong option; 3 when some objects could not be read (the others
    were loaded; --keep-going exits 0 instead); 130 when interrupted
    (Ctrl-C), 143 when terminated (SIGTERM).
    """
    interrupts.install()
    started = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    try:
        summary = console_load(
            source, database, endpoint_url=endpoint_url, reload_changed=reload_changed, **s3
        )
    except LoadError as exc:
        raise click.ClickException(str(exc)) from exc
    except BaseException as exc:
        if not interrupts.interrupted(exc):
            raise
        objects, lines = committed_since(database, started)
        interrupts.stop(
            f"{objects} objects ({lines:,} lines) were committed by this load and the batch in "
            "progress was rolled back; run the same command again to load the rest"
        )
    click.echo(summary.describe(), err=True)
    if summary.skipped_changed:
        click.echo(
            f"{summary.skipped_changed} changed objects were not reloaded; "
            "run again with --reload-changed to replace their rows",
            err=True,
        )
    if summary.failed:
        click.echo(failed_objects_message(summary, keep_going), err=True)
        if not keep_going:
            sys.exit(EXIT_FAILED_OBJECTS)


def committed_since(database: str, started: dt.datetime) -> tuple[int, int]:
    """Objects and lines the loads begun since `started` (UTC) committed, from the history
    (a batch's loaded_at is never earlier than its start). (0, 0) if the file cannot be read."""
    try:
        with duckdb.connect(database, read_only=True) as con:
            [(objects, lines)] = con.execute(
                f"select count(*), coalesce(sum(rows), 0) from {HISTORY_TABLE} "
                "where loaded_at >= ?",
                [started],
            ).fetchall()
    except duckdb.Error:  # no file, no table yet, or held by another process
        return 0, 0
    return int(objects), int(lines)


def failed_objects_message(summary: LoadSummary, keep_going: bool) -> str:
    """What `load` and `run` say when objects could not be read."""
    status = "exit status 0 (--keep-going)" if keep_going else f"exit status {EXIT_FAILED_OBJECTS}"
    return (
        f"{summary.failed} objects could not be read and are recorded in {FAILED_TABLE}; "
        f"the next run tries them again ({status})"
    )
