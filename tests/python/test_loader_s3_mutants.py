"""S3 source behaviours that survived `make mutation` (`_S3Source` in bootstrap/loader.py and
the lines of `load_logs` only an s3:// source reaches): each test fails on a plausible
regression that the rest of the suite let through (docs/testing.md lists them).

Listings over time come from a moto server (tests/python/s3_server.py); refusals, transient
failures, broken connections and odd answers from a small stub S3 on loopback (`stub_bucket`),
which also records the requests it gets. botocore's waits between retries are recorded instead
of slept (`no_backoff`), so that no test waits for a retry. The tests go through `load_logs`,
so that they hold however the S3 source is organised inside.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import logging
import threading
import time
import tracemalloc
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import botocore.endpoint
import duckdb
import pytest
import s3_server
import test_loader_mutants
from s3_server import s3_client
from test_loader_mutants import LINE, NAME, _rows

from bootstrap.loader import LoadError, load_logs

# pytest finds fixtures by module attribute
s3_endpoint = s3_server.s3_endpoint
fake_aws = s3_server.fake_aws
bucket = test_loader_mutants.bucket  # a new bucket on the moto server
local_zone = test_loader_mutants.local_zone

HISTORY = "select file_name, fingerprint from main.s3_access_logs_load_history order by all"


def _name(hour: int, minute: int = 0, unique: str = "0A1B2C3D4E5F6A7B") -> str:
    """A simple-layout object name of 2 March 2026 at hour:minute."""
    return f"2026-03-02-{hour:02d}-{minute:02d}-00-{unique}"


# --- a stub S3 -----------------------------------------------------------------------------


class _Bucket(test_loader_mutants._StubS3):
    """Bucket `b` of a stub S3: it lists `objects` (key -> body, one page of at most `page`
    keys per request) and serves them, honouring If-Match as S3 does.

    `failures` maps "HEAD", "LIST" or "GET" to the statuses the next requests of that kind get
    (each used once), as an empty-bodied answer; `get(handler, key)` may answer a GET of an
    object itself (True: answered). Every request is recorded in `requests` as (kind, key).
    """

    objects: dict[str, bytes]
    etags: dict[str, str]  # key -> ETag as S3 sends it (quoted); default the body's MD5
    failures: dict[str, list[int]]
    requests: list[tuple[str, str]]
    page = 1000
    get: Callable[[_Bucket, str], bool] | None = None

    def _kind_and_key(self) -> tuple[str, str, dict[str, list[str]]]:
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        key = urllib.parse.unquote(url.path.lstrip("/").partition("/")[2])
        if self.command == "HEAD":
            return "HEAD", key, query
        return ("LIST" if "list-type" in query else "GET"), key, query

    def _failed(self, kind: str) -> bool:
        statuses = self.failures.get(kind)
        if not statuses:
            return False
        self._answer(statuses.pop(0))
        return True

    def _answer(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def etag(self, key: str) -> str:
        return self.etags.get(key) or f'"{hashlib.md5(self.objects[key]).hexdigest()}"'

    def do_HEAD(self) -> None:
        self.requests.append(("HEAD", ""))
        if not self._failed("HEAD"):
            self._answer(200)

    def do_GET(self) -> None:
        kind, key, query = self._kind_and_key()
        self.requests.append((kind, key))
        if self._failed(kind):
            return
        if kind == "LIST":
            self._list(query)
        elif self.get is None or not self.get(key):
            if key not in self.objects:
                self._answer(404)
            elif self.headers.get("If-Match") != self.etag(key):
                self._answer(412)
            else:
                self._answer(200, self.objects[key], ETag=self.etag(key))

    def _list(self, query: dict[str, list[str]]) -> None:
        prefix = query.get("prefix", [""])[0]
        after = max(query.get("start-after", [""])[0], query.get("continuation-token", [""])[0])
        keys = sorted(k for k in self.objects if k.startswith(prefix) and k > after)
        size = min(self.page, int(query.get("max-keys", ["1000"])[0]))
        shown, truncated = keys[:size], len(keys) > size
        contents = "".join(
            f"<Contents><Key>{key}</Key><LastModified>2026-03-02T12:00:00.000Z</LastModified>"
            f"<ETag>{html.escape(self.etag(key))}</ETag>"
            f"<Size>{len(self.objects[key])}</Size><StorageClass>STANDARD</StorageClass>"
            "</Contents>"
            for key in shown
        )
        more = f"<NextContinuationToken>{shown[-1]}</NextContinuationToken>" if truncated else ""
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"<Name>b</Name><Prefix>{prefix}</Prefix><KeyCount>{len(shown)}</KeyCount>"
            f"<MaxKeys>{size}</MaxKeys><IsTruncated>{str(truncated).lower()}</IsTruncated>"
            f"{more}{contents}</ListBucketResult>"
        ).encode()
        self._answer(200, body, Content_Type="application/xml")


@pytest.fixture
def stub_bucket(fake_aws) -> Iterator[type[_Bucket]]:
    handler = type(
        "Handler",
        (_Bucket,),
        {"objects": {}, "etags": {}, "failures": {}, "requests": []},
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    handler.endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def no_backoff(monkeypatch) -> list[float]:
    """The waits botocore would sleep between attempts of a request, recorded, not slept
    (botocore/endpoint.py sleeps them in `Endpoint._needs_retry`)."""
    waits: list[float] = []

    class Clock:
        sleep = staticmethod(waits.append)

        def __getattr__(self, name: str):
            return getattr(time, name)

    monkeypatch.setattr(botocore.endpoint, "time", Clock())
    return waits


def _load(stub: type[_Bucket], folder: Path, **options):
    database = folder / "x.duckdb"
    return load_logs("s3://b/", str(database), endpoint_url=stub.endpoint, **options)


def _loaded(database: Path) -> list[str]:
    """The names of the objects in the load history."""
    return [name for name, _ in _rows(database, HISTORY)]


def _put(endpoint: str, bucket: str, *keys: str) -> None:
    """Objects of one log line each, on the moto server."""
    s3 = s3_client(endpoint)
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=LINE + "\n")


# --- requests that fail ----------------------------------------------------------------------


def test_transient_s3_errors_are_retried_and_the_load_completes(
    stub_bucket, no_backoff, tmp_path
) -> None:
    stub_bucket.objects = {NAME: (LINE + "\n").encode()}
    # the first GET is a direct one (s3_reader.DirectGet); the client's three come after it
    stub_bucket.failures = {"HEAD": [503, 500], "LIST": [503, 502], "GET": [503, 503, 504]}
    summary = _load(stub_bucket, tmp_path)
    assert (summary.objects, summary.lines, summary.failed) == (1, 1, 0)
    assert [kind for kind, _ in stub_bucket.requests] == ["HEAD"] * 3 + ["LIST"] * 3 + ["GET"] * 4
    assert len(no_backoff) == 6  # a wait before each retry of the client


@pytest.mark.parametrize("retry_mode", [None, "legacy"])
def test_an_s3_error_that_persists_fails_the_load_after_three_attempts(
    stub_bucket, no_backoff, tmp_path, monkeypatch, retry_mode
) -> None:
    # AWS's standard retry mode, also where the AWS config asks for another (legacy: 5 attempts)
    if retry_mode:
        monkeypatch.setenv("AWS_RETRY_MODE", retry_mode)
    stub_bucket.failures = {"HEAD": [503] * 10}
    with pytest.raises(LoadError) as error:
        _load(stub_bucket, tmp_path)
    assert str(error.value) == (
        f"S3 request to s3://b at {stub_bucket.endpoint} failed: An error occurred (503) when "
        "calling the HeadBucket operation (reached max retries: 2): Service Unavailable"
    )
    assert stub_bucket.requests == [("HEAD", "")] * 3
    assert len(no_backoff) == 2
    assert not (tmp_path / "x.duckdb").exists()


def test_an_s3_load_into_a_database_it_cannot_use_says_why(stub_bucket, tmp_path) -> None:
    # the database is checked after the bucket, before any listing or reading starts
    database = tmp_path / "x.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute("create table main.s3_access_logs_raw (line varchar)")
    with pytest.raises(LoadError) as error:
        _load(stub_bucket, tmp_path)
    assert str(error.value).startswith(
        f"{database} already has a table main.s3_access_logs_raw with other columns (line);"
    )
    assert stub_bucket.requests == [("HEAD", "")]


# --- reading objects -------------------------------------------------------------------------

SECOND = _name(10, 16)  # listed, and so read, after NAME


@pytest.mark.parametrize("status", [404, 412])
def test_an_object_gone_or_changed_without_an_error_body_is_left_for_the_next_run(
    stub_bucket, tmp_path, caplog, status
) -> None:
    # S3-compatible stores (and proxies) may answer a GET with a bare status: 404 for a key
    # deleted since the listing, 412 when If-Match no longer holds
    stub_bucket.objects = {NAME: (LINE + "\n").encode(), SECOND: (LINE + "\n").encode()}
    stub_bucket.get = lambda handler, key: key == NAME and (handler._answer(status) or True)
    with caplog.at_level(logging.ERROR, logger="bootstrap.loader"):
        summary = _load(stub_bucket, tmp_path)
    reason = f"changed or deleted since it was listed ({status})"
    assert (summary.objects, summary.failed, summary.failures) == (1, 1, [(NAME, reason)])
    assert f"skipped {NAME}: {reason} (it will be retried on the next run)" in caplog.text
    assert _loaded(tmp_path / "x.duckdb") == [SECOND]


def _refuse(handler: _Bucket, key: str) -> bool:
    body = (
        b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>AccessDenied</Code>"
        b"<Message>stub</Message><RequestId>1</RequestId></Error>"
    )
    handler._answer(403, body, Content_Type="application/xml")
    return True


def _hang_up(handler: _Bucket, key: str) -> bool:
    handler.close_connection = True  # no answer at all
    return True


def _cut_short(handler: _Bucket, key: str) -> bool:
    handler.send_response(200)
    handler.send_header("Content-Length", "1000")
    handler.send_header("ETag", handler.etag(key))
    handler.end_headers()
    handler.wfile.write(handler.objects[key][:10])
    handler.close_connection = True
    return True


@pytest.mark.parametrize(
    ("get", "message"),
    [
        (
            _refuse,
            "access to s3://b at {url} denied (AccessDenied): the credentials need "
            "s3:ListBucket and s3:GetObject on the log bucket",
        ),
        (
            _hang_up,
            "S3 request to s3://b at {url} failed: Connection was closed before we "
            'received a valid response from endpoint URL: "{url}/b/{name}".',
        ),
        (
            _cut_short,
            "S3 request to s3://b at {url} failed: 10 read, but total bytes expected is 1000.",
        ),
    ],
    ids=["refused", "connection-closed", "body-cut-short"],
)
def test_an_object_that_cannot_be_fetched_fails_the_load_saying_why(
    stub_bucket, no_backoff, tmp_path, get, message
) -> None:
    stub_bucket.objects = {NAME: (LINE + "\n").encode()}
    stub_bucket.get = get
    with pytest.raises(LoadError) as error:
        _load(stub_bucket, tmp_path)
    assert str(error.value) == message.format(url=stub_bucket.endpoint, name=NAME)
    assert _rows(tmp_path / "x.duckdb", "select count(*) from main.s3_access_logs_raw") == [(0,)]


def test_the_fingerprint_is_the_etag_without_its_quotes_whatever_it_holds(
    stub_bucket, tmp_path
) -> None:
    # an ETag is opaque (RFC 9110): S3 gives a hex digest, other S3-compatible stores need not
    stub_bucket.objects = {NAME: (LINE + "\n").encode()}
    stub_bucket.etags = {NAME: '"X-version-7-X"'}
    assert _load(stub_bucket, tmp_path).objects == 1  # read with If-Match: "X-version-7-X"
    assert _rows(tmp_path / "x.duckdb", HISTORY) == [(NAME, "etag:X-version-7-X")]


# --- connections ---------------------------------------------------------------------------


def test_every_reader_keeps_its_own_connection(stub_bucket, tmp_path, caplog) -> None:
    # Eleven readers fetch eleven objects at once: the client keeps a connection for each.
    # Over its pool's size (botocore's default is 10), urllib3 would close each connection
    # after one request, open a new one for the next, and log a warning each time.
    readers = 11
    names = [_name(10, minute) for minute in range(readers)]
    stub_bucket.objects = {name: (LINE + "\n").encode() for name in names}
    together = threading.Barrier(readers, timeout=10)

    def fetch_together(handler: _Bucket, key: str) -> bool:
        together.wait()  # every reader's request is open at this point
        return False  # then answered as usual

    stub_bucket.get = fetch_together
    with caplog.at_level(logging.WARNING):
        summary = _load(stub_bucket, tmp_path, readers=readers)
    assert (summary.objects, summary.failed) == (readers, 0)
    assert not together.broken
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_an_object_is_read_in_chunks_not_held_whole(stub_bucket, tmp_path) -> None:
    # One reader: the writer reads each object itself, as it does any object over 16 MB with
    # more readers. What a load allocates (tracemalloc) from the object's GET on stays under
    # the object's size: a 1 MB chunk, its text and a 1 MB batch of rows at a time.
    stub_bucket.objects = {NAME: (LINE + "\n").encode()}
    _load(stub_bucket, tmp_path / "first", readers=1)  # imports and caches, not measured
    size = 8 * 1024 * 1024
    stub_bucket.objects = {NAME: (("x" * 1023 + "\n") * (size // 1024)).encode()}
    before: list[int] = []

    def measure(handler: _Bucket, key: str) -> bool:
        tracemalloc.reset_peak()
        before.append(tracemalloc.get_traced_memory()[0])
        return False  # then answered as usual

    stub_bucket.get = measure
    tracemalloc.start()
    try:
        summary = _load(stub_bucket, tmp_path, readers=1, batch_bytes=1024 * 1024)
        grown = tracemalloc.get_traced_memory()[1] - before[0]
    finally:
        tracemalloc.stop()
    assert (summary.objects, summary.lines) == (1, size // 1024)
    assert grown < size, f"{grown:,} bytes allocated reading an object of {size:,}"


@pytest.mark.parametrize("readers", [10, 32])
def test_the_writer_listing_while_every_reader_fetches_keeps_its_connection(
    stub_bucket, tmp_path, caplog, readers
) -> None:
    """The listing runs beside the readers and needs a pooled connection of its own: with one
    per reader only, urllib3 warned 'Connection pool is full, discarding connection' and
    reopened connections (fixed: readers + 1)."""
    stub_bucket.objects = {_name(10, minute): (LINE + "\n").encode() for minute in range(40)}
    stub_bucket.page = 1  # a listing request for each object
    lock, fetching = threading.Lock(), [0]
    listed = threading.Event()
    list_page = _Bucket._list

    def list_while_fetching(handler: _Bucket, query: dict[str, list[str]]) -> None:
        with lock:  # the listing request that comes while every reader waits for its object
            if fetching[0] == readers:
                listed.set()
        list_page(handler, query)

    def fetch(handler: _Bucket, key: str) -> bool:
        with lock:
            fetching[0] += 1
        listed.wait(timeout=10)
        with lock:
            fetching[0] -= 1
        return False

    stub_bucket._list = list_while_fetching
    stub_bucket.get = fetch
    with caplog.at_level(logging.WARNING):
        summary = _load(stub_bucket, tmp_path, readers=readers)
    assert (summary.objects, listed.is_set()) == (40, True)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


# --- listings (moto) -------------------------------------------------------------------------


def test_a_later_load_lists_each_stream_from_its_margin_only(s3_endpoint, bucket, tmp_path) -> None:
    # two sources, each delivering hourly: objects of distinct AWS names (their unique parts)
    api, web = "access/api/", "access/web/"
    _put(s3_endpoint, bucket, *(api + _name(h, unique="API") for h in (10, 11, 12, 13)))
    _put(s3_endpoint, bucket, *(web + _name(h, unique="WEB") for h in (10, 11, 12, 13)))
    outside = "other/" + _name(9, unique="OUTSIDE0PREFIX")  # in the bucket, not under the URL
    _put(s3_endpoint, bucket, outside)
    db = tmp_path / "x.duckdb"
    url = f"s3://{bucket}/access/"
    first = load_logs(url, str(db), endpoint_url=s3_endpoint)
    assert (first.objects, first.list_requests, first.full_listing) == (8, 1, True)
    assert first.describe().endswith("; 1 LIST requests (full listing)")
    # a new object in each stream, and one delivered late, 2 hours before the newest key seen
    # (outside the 1-hour margin: only the next full listing loads it)
    late = _name(11, 30, unique="LATE")
    _put(s3_endpoint, bucket, api + _name(13, 30, "API"), web + _name(13, 30, "WEB"), web + late)
    later = load_logs(url, str(db), endpoint_url=s3_endpoint)
    # each stream listed from 12:00 (the newest key, 13:00, less the margin): 12:00 and 13:00
    # already loaded, 13:30 new
    assert (later.objects, later.skipped_loaded, later.list_requests) == (2, 4, 2)
    assert later.full_listing is False
    assert later.describe().endswith("; 2 LIST requests (incremental listing)")
    assert late not in _loaded(db)
    assert _name(9, unique="OUTSIDE0PREFIX") not in _loaded(db)


def test_a_prefix_ending_inside_a_stream_lists_only_its_own_keys_later(
    s3_endpoint, bucket, tmp_path
) -> None:
    stream = "access/web/"
    _put(s3_endpoint, bucket, stream + _name(10), stream + _name(11))
    next_day = stream + "2026-03-03-00-00-00-0A1B2C3D4E5F6A7B"  # not under the URL's prefix
    _put(s3_endpoint, bucket, next_day)
    db = tmp_path / "x.duckdb"
    url = f"s3://{bucket}/{stream}2026-03-02"  # the prefix ends inside the stream's key names
    assert load_logs(url, str(db), endpoint_url=s3_endpoint).objects == 2
    _put(s3_endpoint, bucket, stream + _name(11, 30))
    later = load_logs(url, str(db), endpoint_url=s3_endpoint)
    assert (later.objects, later.skipped_loaded, later.full_listing) == (1, 2, False)
    assert _loaded(db) == [_name(10), _name(11), _name(11, 30)]


def test_the_listing_state_keeps_utc_times_whatever_the_local_zone(
    local_zone, s3_endpoint, bucket, tmp_path
) -> None:
    _put(s3_endpoint, bucket, "access/web/" + _name(10))
    db = tmp_path / "x.duckdb"
    before = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    load_logs(f"s3://{bucket}/access/", str(db), endpoint_url=s3_endpoint)
    after = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    [(source, stream, full_listed_at, updated_at)] = _rows(
        db,
        "select source, stream, full_listed_at, updated_at from main.s3_access_logs_listing_state",
    )
    assert (source, stream) == (f"s3://{bucket}/access/", "access/web/")
    assert before <= full_listed_at == updated_at <= after
