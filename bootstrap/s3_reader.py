"""The loader's S3 machinery for real buckets: concurrent reads and incremental listings.

Over a network each request costs tens of milliseconds, and a bucket that has logged for a year
holds hundreds of thousands of objects. Two things keep a load (and every `s3logs run` cycle)
proportional to what is new rather than to the history:

- **Reads ahead, in order** (`read_ahead`): a bounded pool of threads fetches the bodies of the
  objects the loader will load next, while the single writer consumes them strictly in listing
  order. Batches, their transactions, exactly-once and crash safety are the writer's, as
  before; only the waiting for the network overlaps. What is fetched but not yet consumed is
  bounded by bytes and by count, so memory stays flat.
- **Listing only what can be new** (`ListingState`): both AWS key layouts are time-ordered
  within each source's key prefix (a *stream*), so a later load lists each stream with
  ListObjectsV2's StartAfter set a margin before the newest key it has seen, and a full listing
  every so often catches any straggler outside that margin and any new stream.

S3 clients are shared between the threads: boto3 documents its low-level clients as thread safe
(https://boto3.amazonaws.com/v1/documentation/api/latest/guide/clients.html, "Multithreading or
multiprocessing with clients").
"""

from __future__ import annotations

import base64
import concurrent.futures
import dataclasses
import datetime as dt
import functools
import hashlib
import re
import urllib.parse
import zlib
from collections import deque
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, TypeVar

from bootstrap.options import (  # noqa: F401 - the defaults, re-exported
    DEFAULT_FULL_LISTING_HOURS,
    DEFAULT_MARGIN_HOURS,
    DEFAULT_READERS,
)

if TYPE_CHECKING:
    import duckdb

    from bootstrap.loader import LogObject

# Bytes of object bodies fetched and not yet consumed (compressed, as stored), at most. An
# object larger than READ_INLINE_OVER is not fetched ahead: the writer streams it in chunks.
READ_AHEAD_BYTES = 64 * 1024 * 1024
READ_INLINE_OVER = 16 * 1024 * 1024


STATE_TABLE = "main.s3_access_logs_listing_state"
_CREATE_STATE = f"""
create table if not exists {STATE_TABLE} (
    source varchar,
    stream varchar,
    last_key varchar,
    full_listed_at timestamp,
    updated_at timestamp
)
"""

# The time-ordered tail of a log key: `YYYY-mm-DD-HH-MM-SS-Unique` (simple layout), after
# `YYYY/MM/DD/` in the date-partitioned one. The stream is everything before it.
_TAIL = re.compile(
    r"(?P<partition>(?:^|/)\d{4}/\d\d/\d\d/)?"
    r"(?P<time>\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d)-[0-9A-Za-z]+(?:\.gz)?$"
)

T = TypeVar("T")


# --- reading ahead -------------------------------------------------------------------------


def _fetch(obj: LogObject) -> tuple[list[bytes], Exception | None]:
    """All of an object's chunks, and the error that stopped the read (if one did)."""
    chunks: list[bytes] = []
    try:
        for chunk in obj.read():
            chunks.append(chunk)
    except Exception as exc:  # handed to the writer, which raises it where the read would
        return chunks, exc
    return chunks, None


def _replay(chunks: list[bytes], error: Exception | None) -> Iterator[bytes]:
    yield from chunks
    if error is not None:
        raise error


def read_ahead(
    items: Iterable[tuple[LogObject, T]],
    *,
    readers: int = DEFAULT_READERS,
    max_bytes: int = READ_AHEAD_BYTES,
    max_objects: int | None = None,
    inline_over: int = READ_INLINE_OVER,
) -> Iterator[tuple[LogObject, T]]:
    """The same items, in the same order, each object's body fetched ahead on a thread pool.

    An object comes back with a `read` that replays the fetched chunks and then raises the
    error the fetch met, if any: the writer sees exactly what reading it itself would have
    given, at the same point. An error from `items` itself (a failed listing request) is raised
    after the items before it, as a sequential loop would meet it. At most `max_objects`
    (default: 8 per reader) and `max_bytes` of fetched bodies wait for the writer.
    """
    if readers <= 1:
        yield from items
        return
    limit = max_objects or readers * 8
    source = iter(items)
    pending: deque[tuple[tuple[LogObject, T], concurrent.futures.Future | None, int]] = deque()
    held: tuple[LogObject, T] | None = None
    in_flight = 0
    error: Exception | None = None
    exhausted = False
    pool = concurrent.futures.ThreadPoolExecutor(readers, thread_name_prefix="s3logs-read")
    try:
        while True:
            while not exhausted and len(pending) < limit:
                if held is None:
                    try:
                        held = next(source)
                    except StopIteration:
                        exhausted = True
                        break
                    except Exception as exc:  # raised once the items before it are consumed
                        error, exhausted = exc, True
                        break
                obj = held[0]
                if obj.size > inline_over:  # streamed by the writer when its turn comes
                    future, cost = None, 0
                elif pending and in_flight + obj.size > max_bytes:
                    break
                else:
                    future, cost = pool.submit(_fetch, obj), obj.size
                pending.append((held, future, cost))
                in_flight += cost
                held = None
            if not pending:
                if error is not None:
                    raise error
                return
            item, future, cost = pending.popleft()
            if future is not None:
                chunks, failure = future.result()
                obj = dataclasses.replace(item[0], read=functools.partial(_replay, chunks, failure))
                item = (obj, *item[1:])  # type: ignore[assignment]
            in_flight -= cost
            yield item
    finally:
        for _, future, _ in pending:
            if future is not None:
                future.cancel()
        pool.shutdown(wait=False, cancel_futures=True)


# --- incremental listing -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Tail:
    """Where a log key's time-ordered part starts, and the time its name carries."""

    stream: str  # the key up to the time-ordered part: one source's deliveries
    partitioned: bool
    time: dt.datetime


def tail_of(key: str) -> Tail | None:
    """The stream and name time of a log object's key; None for a key of no known layout."""
    match = _TAIL.search(key)
    if match is None:
        return None
    try:
        time = dt.datetime.strptime(match["time"], "%Y-%m-%d-%H-%M-%S")
    except ValueError:
        return None
    start = match.start("partition") if match["partition"] else match.start("time")
    if match["partition"] and match["partition"].startswith("/"):
        start += 1  # the stream keeps its slash
    return Tail(key[:start], bool(match["partition"]), time)


def start_after(key: str, margin: dt.timedelta) -> str | None:
    """The StartAfter of a listing of `key`'s stream that includes every key of that stream
    whose name time is at most `margin` before `key`'s.

    Simple layout: keys from that time on. Date-partitioned layout: the whole day partitions
    from that time's day on, because with EventTime partitioning (AWS's default for it) every
    object of an event day is named at 00:00:00 of that day and keeps arriving after it ends.
    """
    tail = tail_of(key)
    if tail is None:
        return None
    since = tail.time - margin
    if tail.partitioned:
        return tail.stream + since.strftime("%Y/%m/%d/")
    return tail.stream + since.strftime("%Y-%m-%d-%H-%M-%S")


@dataclasses.dataclass
class ListingPlan:
    """What a load lists: everything (`starts` None) or each known stream from its start."""

    starts: dict[str, str] | None
    full_listed_at: dt.datetime | None  # of the last full listing (None: never, or this one)

    @property
    def full(self) -> bool:
        return self.starts is None


class ListingState:
    """Per source (bucket and prefix): for each stream, the greatest key listed and settled
    (loaded, known, or skipped as changed), and when the source was last listed whole.

    Kept in the DuckDB file beside the load history and written only after a load has
    committed everything it listed: a load that stops early leaves the state as it was, and the
    next one lists from the same place again (what it already loaded, the history skips).
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, source: str) -> None:
        self.con, self.source = con, source
        self.con.execute(_CREATE_STATE)
        self.greatest: dict[str, str] = {}  # stream -> greatest log key listed this load
        self.failed: dict[str, str] = {}  # stream -> least key that could not be read

    def plan(
        self, now: dt.datetime, *, margin_hours: float, full_listing_hours: float
    ) -> ListingPlan:
        rows = self.con.execute(
            f"select stream, last_key, full_listed_at from {STATE_TABLE} where source = ?",
            [self.source],
        ).fetchall()
        if not rows:
            return ListingPlan(None, None)
        full_listed_at = min(row[2] for row in rows)
        if now - full_listed_at >= dt.timedelta(hours=full_listing_hours):
            return ListingPlan(None, full_listed_at)
        margin = dt.timedelta(hours=margin_hours)
        starts = {}
        for stream, last_key, _ in rows:
            start = start_after(last_key, margin)
            if start is not None:
                starts[stream] = start
        return ListingPlan(starts, full_listed_at)

    def seen(self, key: str) -> None:
        """A log key came in the listing (its object is then loaded, known, or failed)."""
        tail = tail_of(key)
        if tail is not None and key > self.greatest.get(tail.stream, ""):
            self.greatest[tail.stream] = key

    def unreadable(self, key: str) -> None:
        """An object could not be read: later listings must reach back to it."""
        tail = tail_of(key)
        if tail is not None and (tail.stream not in self.failed or key < self.failed[tail.stream]):
            self.failed[tail.stream] = key

    def save(self, plan: ListingPlan, now: dt.datetime) -> None:
        """Record what this load listed (call once everything it listed has committed)."""
        rows = {
            row[0]: row[1]
            for row in self.con.execute(
                f"select stream, last_key from {STATE_TABLE} where source = ?", [self.source]
            ).fetchall()
        }
        if plan.full:
            rows = {}  # streams gone from the bucket go from the state too
            full_listed_at = now
        else:
            full_listed_at = plan.full_listed_at
        for stream, key in self.greatest.items():
            rows[stream] = max(key, rows.get(stream, ""))
        for stream, key in self.failed.items():
            rows[stream] = min(key, rows.get(stream, key))
        self.con.execute("begin transaction")
        try:
            self.con.execute(f"delete from {STATE_TABLE} where source = ?", [self.source])
            if rows:
                self.con.executemany(
                    f"insert into {STATE_TABLE} values (?, ?, ?, ?, ?)",
                    [(self.source, s, k, full_listed_at, now) for s, k in sorted(rows.items())],
                )
            self.con.execute("commit")
        except BaseException:
            self.con.execute("rollback")
            raise


# --- parsing listings ----------------------------------------------------------------------


def parse_timestamp(value):
    """A timestamp of an S3 response, as botocore's own parser gives it (an aware datetime).

    botocore parses every timestamp with dateutil, which took a fifth of a load's CPU in a
    listing's LastModified values alone. S3 writes them as ISO 8601 in UTC
    (`2026-03-01T00:00:00.000Z`), which the standard library parses some 20 times faster;
    anything else goes to botocore's parser.
    """
    from botocore.utils import parse_timestamp as botocore_parse

    if isinstance(value, str) and value.endswith("Z"):
        try:  # "+00:00": Python 3.10's fromisoformat does not take "Z"
            return dt.datetime.fromisoformat(value[:-1] + "+00:00")
        except ValueError:
            pass
    return botocore_parse(value)


# --- the direct GET of a small object ------------------------------------------------------

# Of the CPU a load spends per small object, most went to botocore's per-request machinery
# around GetObject (events, parameter validation, endpoint rules, response parsing): about
# 1.7 ms of the GIL per GET, which caps a load at some 600 objects/s whatever the readers.
# A direct GET signs the same request with botocore's own SigV4 signer and sends it through
# the client's own HTTP session (its pool, proxies, TLS settings and timeouts): about 0.7 ms.
# Anything but a 200 with intact content is read again through the client, whose retries
# and error messages apply as before (a 404 or 412 too: the client confirms that the object
# changed, so that a direct GET that went wrong can never make an object look changed).
DIRECT_GET_MAX = 1024 * 1024  # larger objects are read in chunks through the client
# Response checksums botocore validates without the AWS CRT; the others (crc32c, crc64nvme,
# xxhash...) it validates only with the `awscrt` package installed, and then so does the client
# here, reading again whatever carries one of them:
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html
_CHECKSUMS = {
    "crc32": lambda body: zlib.crc32(body).to_bytes(4, "big"),
    "sha1": lambda body: hashlib.sha1(body).digest(),
    "sha256": lambda body: hashlib.sha256(body).digest(),
    "sha512": lambda body: hashlib.sha512(body).digest(),
}
_CHECKSUM_HEADER = "x-amz-checksum-"


_PLACEHOLDER = "s3logs-placeholder-key"
_SIGV4_S3 = re.compile(
    r"AWS4-HMAC-SHA256 Credential=[^/]+/\d{8}/(?P<region>[a-z0-9-]+)/s3/aws4_request,"
)


def _text(value: str | bytes | None) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else (value or "")


class _NoBody:
    """The body of a response that was never received."""

    def stream(self, *_, **__) -> Iterator[bytes]:
        return iter([b""])


class DirectGet:
    """GETs of one bucket's objects, signed and sent without the client's request pipeline.

    Made from the request the client itself builds for GetObject (captured before it is sent,
    see `for_bucket`): the same URL (its endpoint rules: virtual-hosted or path style, the
    bucket's region once the client knows it), the same SigV4 signing region, the same signed
    headers (If-Match, x-amz-checksum-mode). A test compares the two requests, signature
    included.
    """

    def __init__(
        self, client, credentials, region: str, base_url: str, headers: dict[str, str]
    ) -> None:
        self.credentials, self.region, self.base_url = credentials, region, base_url
        self.headers = headers  # sent as the client sends them (User-Agent, checksum mode)
        self.http = client._endpoint.http_session

    @classmethod
    def for_bucket(cls, client, session, bucket: str, head: dict) -> DirectGet | None:
        """A DirectGet for `bucket`, or None where the client must do every GET itself."""
        from botocore.awsrequest import AWSResponse, HeadersDict
        from botocore.exceptions import ClientError

        credentials = session.get_credentials()
        if credentials is None or not hasattr(getattr(client, "_endpoint", None), "http_session"):
            return None
        # The client's GetObject of a placeholder key, answered by a `before-send` handler
        # (a response returned there is used instead of sending the request): nothing leaves.
        sent = []

        def capture(request, **_):
            sent.append(request)
            return AWSResponse(request.url, 412, HeadersDict(), _NoBody())

        event = "before-send.s3.GetObject"
        client.meta.events.register_first(event, capture, unique_id="s3logs-direct-get")
        try:
            client.get_object(Bucket=bucket, Key=_PLACEHOLDER, IfMatch='"0"')
        except ClientError:
            pass
        finally:
            client.meta.events.unregister(event, unique_id="s3logs-direct-get")
        if len(sent) != 1:
            return None
        url = urllib.parse.urlsplit(sent[0].url)
        signed = _SIGV4_S3.match(_text(sent[0].headers.get("Authorization")))
        bucket_region = head.get("BucketRegion") or (
            head.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("x-amz-bucket-region")
        )
        if (
            signed is None  # SigV2, S3 Express sessions, S3 on Outposts...: the client's way
            or (bucket_region and bucket_region != signed["region"])
            or url.query
            or not url.path.endswith("/" + _PLACEHOLDER)
        ):
            return None
        base = f"{url.scheme}://{url.netloc}{url.path[: -len(_PLACEHOLDER)]}"
        headers = {
            name: _text(sent[0].headers[name])
            for name in ("User-Agent", "x-amz-checksum-mode")
            if name in sent[0].headers
        }
        return cls(client, credentials, signed["region"], base, headers)

    def request(self, key: str, etag: str):
        """The signed request for the object `key` if its ETag is still `etag`."""
        from botocore.auth import S3SigV4Auth
        from botocore.awsrequest import AWSRequest

        request = AWSRequest(
            "GET",
            self.base_url + urllib.parse.quote(key, safe="/~"),
            headers={"If-Match": etag, **self.headers},
        )
        S3SigV4Auth(self.credentials.get_frozen_credentials(), "s3", self.region).add_auth(request)
        return request

    def get(self, key: str, etag: str, size: int) -> tuple[bytes | None, int]:
        """The object's body (`size` bytes, ETag `etag`) and 200; or None and the status
        (0: no answer) when the client should read it instead."""
        try:
            response = self.http.send(self.request(key, etag).prepare())
            status = response.status_code
            body = response.content
        except Exception:
            return None, 0
        if (
            status != 200
            or len(body) != size  # cut short, or not the version listed
            or response.headers.get("ETag", etag) != etag
            or not _checksums_match(response.headers, body)
        ):
            return None, status
        return body, status


def _checksums_match(headers, body: bytes) -> bool:
    """Whether every checksum of the body that the client would check is right."""
    from botocore.compat import HAS_CRT

    for header, value in headers.items():
        name = header.lower()
        if not name.startswith(_CHECKSUM_HEADER) or name.endswith(("-type", "-mode")):
            continue
        if "-" in value:  # a checksum of part checksums ("...-N") is not the body's
            continue
        digest = _CHECKSUMS.get(name[len(_CHECKSUM_HEADER) :])
        if digest is None:
            if HAS_CRT:  # botocore can check it: the client reads it
                return False
        elif base64.b64encode(digest(body)).decode() != value:
            return False
    return True
