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

import concurrent.futures
import dataclasses
import datetime as dt
import functools
import re
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
