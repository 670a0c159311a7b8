"""Loader behaviours on the database side that survived `make mutation` (issue 18): opening the
DuckDB file, its raw table and memory limit, the failed-objects table, which listed objects are
loaded or skipped (and what the warnings say), and what `load_logs` hands to the S3 listing
state. Each test fails on a plausible regression that the rest of the suite let through.

They go through the public entry points (`load_logs`, `s3logs load`), so that they hold however
the loader is reorganised inside; two lower a module constant (the memory limit, the listing
page size) to make at small scale what happens at large. The S3 tests that count connections or
requests run a moto server of their own that holds chosen requests, so that what was in flight
together is known rather than timed.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import s3_server
from click.testing import CliRunner
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from s3_server import s3_client
from test_loader_mutants import LINE, NAME, _fake_clock, _folder, _rows, bucket, local_zone
from werkzeug.serving import make_server

from bootstrap import loader, s3_reader
from bootstrap.cli import main
from bootstrap.loader import LoadError, load_logs

s3_endpoint = s3_server.s3_endpoint
fake_aws = s3_server.fake_aws
# fixtures: pytest finds them as attributes of this module
bucket, local_zone = bucket, local_zone

RAW = "main.s3_access_logs_raw"
SECOND = NAME.replace("10-15-00", "10-16-00")
THIRD = NAME.replace("10-15-00", "10-17-00")


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def _messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "bootstrap.loader" and r.levelno == level
    ]


# --- the DuckDB file -------------------------------------------------------------------------


def test_a_raw_table_of_other_columns_is_reported_column_by_column(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("S3LOGS_DUCKDB", str(tmp_path / "default.duckdb"))
    database = tmp_path / "other.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute(f"create table {RAW} (line varchar, seen timestamp)")
    with pytest.raises(LoadError) as raised:
        load_logs(str(_folder(tmp_path)), str(database))
    assert str(raised.value) == (
        f"{database} already has a table {RAW} with other columns (line, seen); the loader "
        "needs (raw, file_name, file_row_number, file_last_modified, loaded_at). Load into "
        "another --database, or rename that table."
    )


def test_the_database_folder_is_created_however_deep(tmp_path) -> None:
    database = tmp_path / "new" / "deeper" / "x.duckdb"
    assert load_logs(str(_folder(tmp_path)), str(database)).lines == 1
    assert _rows(database, f"select raw from {RAW}") == [(LINE,)]


def test_a_database_folder_that_cannot_be_made_says_why_and_what_to_give(tmp_path) -> None:
    (tmp_path / "notes.txt").write_text("a file, not a folder\n")
    database = tmp_path / "notes.txt" / "sub" / "x.duckdb"
    result = CliRunner().invoke(main, ["load", str(_folder(tmp_path)), "--database", str(database)])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: cannot create the folder for the DuckDB file {database}: Not a directory; "
        "give --database a path in a writable folder\n"
    )


def test_a_file_that_is_not_a_duckdb_database_is_named_with_duckdbs_reason(tmp_path) -> None:
    database = tmp_path / "notes.duckdb"
    database.write_text("not a database\n" * 100)
    with pytest.raises(LoadError) as raised:
        load_logs(str(_folder(tmp_path)), str(database))
    message = str(raised.value)
    assert message.startswith(f"cannot open the DuckDB file {database}: IO Error: "), message
    assert "not a valid DuckDB database file" in message


def test_before_open_is_given_the_database_the_load_opens(tmp_path, monkeypatch) -> None:
    folder = _folder(tmp_path)
    default = tmp_path / "default.duckdb"
    monkeypatch.setenv("S3LOGS_DUCKDB", str(default))
    given = tmp_path / "given.duckdb"
    opened: list[str] = []
    load_logs(str(folder), str(given), before_open=opened.append)
    load_logs(str(folder), before_open=opened.append)
    assert opened == [str(given), str(default)]


def test_a_memory_limit_duckdb_refuses_leaves_the_limit_and_says_why(
    tmp_path, monkeypatch, caplog
) -> None:
    """A DuckDB instance shared with a connection that holds more than the limit in memory
    cannot lower it: the load goes on and says so at debug level. (The limit is lowered to 1 KB
    here so that a small temporary table, with nowhere to spill, is more than it.)"""
    monkeypatch.setattr(loader, "LOAD_MEMORY_LIMIT", "1KB")
    database = str(tmp_path / "shared.duckdb")
    setting = "select current_setting('memory_limit')"
    with duckdb.connect(database) as held:
        held.execute("set temp_directory = ''")
        held.execute("create temp table kept as select repeat('x', 40) || range from range(200000)")
        before = held.execute(setting).fetchall()
        with caplog.at_level(logging.DEBUG, logger="bootstrap.loader"):
            assert load_logs(str(_folder(tmp_path)), database).lines == 1
        assert held.execute(setting).fetchall() == before
    [message] = [m for m in _messages(caplog, logging.DEBUG) if "memory limit" in m]
    assert message.startswith(
        "DuckDB memory limit left as it was: Out of Memory Error: Failed to change memory limit"
    ), message


def test_a_batch_duckdb_refuses_leaves_nothing_and_a_shared_instance_its_settings(
    tmp_path,
) -> None:
    """A raw table made by something else, with the loader's columns and a constraint its rows
    break: the load fails with DuckDB's error, and the instance it shares with `s3logs run`
    gets its insertion order back (the failed transaction is rolled back before the reset)."""
    database = str(tmp_path / "shared.duckdb")
    setting = "select current_setting('preserve_insertion_order')"
    with duckdb.connect(database) as held:
        held.execute(
            f"create table {RAW} (raw varchar check (length(raw) < 10), file_name varchar, "
            "file_row_number bigint, file_last_modified timestamp, loaded_at timestamp)"
        )
        with pytest.raises(duckdb.ConstraintException, match="CHECK constraint failed"):
            load_logs(str(_folder(tmp_path)), database)
        assert held.execute(setting).fetchall() == [(True,)]
        assert held.execute(f"select count(*) from {loader.HISTORY_TABLE}").fetchall() == [(0,)]


# --- the failed-objects table ----------------------------------------------------------------


def test_failure_times_are_utc_whatever_the_local_zone(local_zone, tmp_path) -> None:
    folder = _folder(tmp_path, text="", name=NAME + ".gz")
    (folder / (NAME + ".gz")).write_bytes(b"\x1f\x8b\x08\x00broken")
    database = tmp_path / "x.duckdb"
    before = _utc_now()
    assert load_logs(str(folder), str(database)).failed == 1
    after = _utc_now()
    [(first, last)] = _rows(
        database, f"select first_failed_at, last_failed_at from {loader.FAILED_TABLE}"
    )
    assert before <= first == last <= after


# --- which listed objects load ---------------------------------------------------------------


def test_every_object_that_is_not_a_log_is_counted(tmp_path) -> None:
    folder = _folder(tmp_path)
    for name in ("README.md", "_SUCCESS", "incidents.json"):
        (folder / name).write_text("not a log\n")
    summary = load_logs(str(folder), str(tmp_path / "x.duckdb"))
    assert (summary.objects, summary.skipped_not_log, summary.skipped) == (1, 3, 3)


def test_copies_with_other_content_in_one_listing_are_each_named_and_counted(
    tmp_path, caplog
) -> None:
    folder = tmp_path / "logs"
    for copy, text in (("a", LINE), ("b", LINE + "\n" + LINE), ("c", "other")):
        (folder / copy).mkdir(parents=True)
        (folder / copy / NAME).write_text(text + "\n")
    with caplog.at_level(logging.WARNING, logger="bootstrap.loader"):
        summary = load_logs(str(folder), str(tmp_path / "x.duckdb"))
    assert (summary.objects, summary.lines) == (1, 1)  # a/ is listed first
    assert (summary.skipped_changed, summary.changed) == (2, [NAME, NAME])
    assert _messages(caplog, logging.WARNING) == [
        f"skipped {folder / copy / NAME}: an object of the same AWS name with other content was "
        f"loaded from this source already (as {NAME}); check where the two copies come from"
        for copy in ("b", "c")
    ]


def _fingerprint(path: Path) -> str:
    """A local file's fingerprint as the load history stores it (size and mtime)."""
    stat = path.stat()
    return f"size:{stat.st_size}:mtime_ns:{stat.st_mtime_ns}"


def test_changed_objects_are_each_named_with_both_fingerprints_and_the_rest_still_load(
    tmp_path, caplog
) -> None:
    folder = _folder(tmp_path)
    (folder / SECOND).write_text(LINE + "\n")
    database = tmp_path / "x.duckdb"
    load_logs(str(folder), str(database))
    loaded = dict(_rows(database, f"select file_name, fingerprint from {loader.HISTORY_TABLE}"))
    for name in (NAME, SECOND):  # both rewritten; a third object is new, listed after them
        (folder / name).write_text(LINE + "\n" + LINE + "\n")
        os.utime(folder / name, ns=(1_772_446_500_123_456_789,) * 2)
    (folder / THIRD).write_text(LINE + "\n")
    with caplog.at_level(logging.WARNING, logger="bootstrap.loader"):
        summary = load_logs(str(folder), str(database))
    assert (summary.objects, summary.skipped_changed, summary.changed) == (1, 2, [NAME, SECOND])
    assert _rows(database, f"select file_name from {RAW} order by 1") == [
        (NAME,),
        (SECOND,),
        (THIRD,),
    ]
    assert _messages(caplog, logging.WARNING) == [
        f"skipped {name}: changed since it was loaded ({loaded[name]}, now "
        f"{_fingerprint(folder / name)}); run the load with --reload-changed to replace its rows"
        for name in (NAME, SECOND)
    ]


def test_a_reload_names_the_object_it_reloads(tmp_path, caplog) -> None:
    folder = _folder(tmp_path)
    database = tmp_path / "x.duckdb"
    load_logs(str(folder), str(database))
    (folder / NAME).write_text(LINE + "\n" + LINE + "\n")
    with caplog.at_level(logging.WARNING, logger="bootstrap.loader"):
        summary = load_logs(str(folder), str(database), reload_changed=True)
    assert (summary.reloaded, summary.lines) == (1, 2)
    assert _messages(caplog, logging.WARNING) == [f"reloading {NAME}: changed since it was loaded"]


# --- S3 --------------------------------------------------------------------------------------


def test_s3_copies_with_other_content_are_named_by_their_key(
    s3_endpoint, bucket, tmp_path, caplog
) -> None:
    s3 = s3_client(s3_endpoint)
    s3.put_object(Bucket=bucket, Key=f"a/{NAME}", Body=LINE + "\n")
    s3.put_object(Bucket=bucket, Key=f"b/{NAME}", Body="other\n")
    with caplog.at_level(logging.WARNING, logger="bootstrap.loader"):
        summary = load_logs(f"s3://{bucket}", str(tmp_path / "x.duckdb"), endpoint_url=s3_endpoint)
    assert (summary.objects, summary.skipped_changed) == (1, 1)
    assert _messages(caplog, logging.WARNING) == [
        f"skipped b/{NAME}: an object of the same AWS name with other content was loaded from "
        f"this source already (as {NAME}); check where the two copies come from"
    ]


def _at(time: str) -> str:
    """The name of a log object delivered at `time` (HH-MM-SS) on NAME's day."""
    return NAME.replace("10-15-00", time)


def test_s3_listing_state_is_kept_per_source_in_utc_and_later_loads_list_from_it(
    local_zone, s3_endpoint, bucket, tmp_path
) -> None:
    s3 = s3_client(s3_endpoint)
    for name in (_at("08-00-00"), NAME):
        s3.put_object(Bucket=bucket, Key=f"logs/{name}", Body=LINE + "\n")
    database = tmp_path / "x.duckdb"
    url = f"s3://{bucket}/logs/"
    before = _utc_now()
    first = load_logs(url, str(database), endpoint_url=s3_endpoint)
    after = _utc_now()
    assert (first.objects, first.full_listing, first.list_requests) == (2, True, 1)
    assert first.describe().endswith("; 1 LIST requests (full listing)")
    [(source, stream, last_key, full_listed_at)] = _rows(
        database,
        f"select source, stream, last_key, full_listed_at from {s3_reader.STATE_TABLE}",
    )
    assert (source, stream, last_key) == (url, "logs/", f"logs/{NAME}")
    assert before <= full_listed_at <= after
    # a new object, and one delivered late, named more than the margin (1 h) before the newest
    for name in (SECOND, _at("08-30-00")):
        s3.put_object(Bucket=bucket, Key=f"logs/{name}", Body=LINE + "\n")
    second = load_logs(url, str(database), endpoint_url=s3_endpoint)
    assert (second.objects, second.skipped_loaded, second.full_listing) == (1, 1, False)
    assert second.describe().endswith("; 1 LIST requests (incremental listing)")
    third = load_logs(url, str(database), endpoint_url=s3_endpoint, full_listing_hours=0)
    assert (third.objects, third.skipped_loaded, third.full_listing) == (1, 3, True)
    assert _rows(database, f"select file_name from {RAW} order by 1") == [
        (_at(time),) for time in ("08-00-00", "08-30-00", "10-15-00", "10-16-00")
    ]


def test_s3_load_into_a_raw_table_of_other_columns_says_so(s3_endpoint, bucket, tmp_path) -> None:
    s3_client(s3_endpoint).put_object(Bucket=bucket, Key=NAME, Body=LINE + "\n")
    database = tmp_path / "other.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute(f"create table {RAW} (line varchar)")
    with pytest.raises(LoadError, match=r"already has a table main\.s3_access_logs_raw with other"):
        load_logs(f"s3://{bucket}", str(database), endpoint_url=s3_endpoint)


class _Moto:
    """A moto S3 server of its own that calls `before(environ)` on each request before moto
    answers it (a test holds requests there), and a bucket of `objects` one-line log objects,
    a second apart, each named from _at."""

    def __init__(self, before, objects: int) -> None:
        app = DomainDispatcherApplication(create_backend_app)

        def wsgi(environ, start_response):
            before(environ)
            return app(environ, start_response)

        self.server = make_server(
            "127.0.0.1", 0, wsgi, threaded=True, request_handler=MotoRequestHandler
        )
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.objects = objects

    def __enter__(self) -> str:
        """Start the server and fill the bucket; the bucket's URL."""
        self.thread.start()
        s3 = s3_client(self.endpoint)
        name = f"logs-{uuid.uuid4().hex[:12]}"
        s3.create_bucket(Bucket=name)
        for i in range(self.objects):
            s3.put_object(Bucket=name, Key=_at(f"10-15-{i:02d}"), Body=LINE)
        return f"s3://{name}"

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.thread.join()


def _object_get(environ) -> bool:
    return environ["REQUEST_METHOD"] == "GET" and "/20" in environ["PATH_INFO"]


def _held_together(parties: int, chosen):
    """A `before` that holds the first `parties` requests `chosen` picks until all of them are
    in flight at once, so that a test knows how many connections the client had open together
    (20 s at most: a client that never sends them all fails the test)."""
    barrier = threading.Barrier(parties, timeout=20)
    slots = iter(range(parties))  # next() is atomic under the GIL: one slot per request

    def before(environ) -> None:
        if chosen(environ) and next(slots, None) is not None:
            barrier.wait()

    return before


def _pool_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "Connection pool is full" in r.getMessage()]


@pytest.fixture
def quiet_pool(caplog) -> Iterator[pytest.LogCaptureFixture]:
    """urllib3's warnings, which a user sees on stderr (the CLI configures no logging)."""
    with caplog.at_level(logging.WARNING, logger="urllib3"):
        yield caplog


def test_s3_readers_each_have_a_connection_kept(fake_aws, tmp_path, quiet_pool) -> None:
    """More readers than botocore's default 10 connections: none is thrown away (urllib3's
    'Connection pool is full, discarding connection' warning, and a new connection next time)."""
    readers = 12
    moto = _Moto(_held_together(readers, _object_get), objects=readers)
    with moto as url:
        summary = load_logs(
            url, str(tmp_path / "x.duckdb"), endpoint_url=moto.endpoint, readers=readers
        )
    assert summary.objects == readers
    assert _pool_warnings(quiet_pool) == []


def test_s3_readers_and_the_listing_together_have_their_connections_kept(
    fake_aws, tmp_path, quiet_pool, monkeypatch
) -> None:
    """A second page of the listing is requested while every reader holds a connection: the
    pool has one for it too (it had one per reader only: urllib3 discarded a connection)."""
    readers = 10
    monkeypatch.setattr(loader, "_LISTING_PAGE", readers)  # a second page, listed while read

    def chosen(environ) -> bool:  # the readers' requests and the second page's listing
        return _object_get(environ) or "continuation-token" in environ["QUERY_STRING"]

    moto = _Moto(_held_together(readers + 1, chosen), objects=readers + 1)
    with moto as url:
        summary = load_logs(
            url, str(tmp_path / "x.duckdb"), endpoint_url=moto.endpoint, readers=readers
        )
    assert summary.objects == readers + 1
    assert _pool_warnings(quiet_pool) == []


def test_s3_reading_ahead_stops_when_the_load_fails(fake_aws, tmp_path) -> None:
    """The objects fetched ahead of a load that failed are not fetched any more: the threads
    reading ahead stop with it (not only once the failure is forgotten and the reader garbage
    collected), so a stopped load does not go on downloading."""
    objects, readers = 10, 2
    gets: list[str] = []
    gate = threading.Event()
    first = f"/{_at('10-15-00')}"

    def before(environ) -> None:  # the first object comes, the others wait for the gate
        if _object_get(environ):
            gets.append(environ["PATH_INFO"])
            if not environ["PATH_INFO"].endswith(first):
                gate.wait(timeout=20)

    def progress(summary) -> None:
        raise RuntimeError("stopped after the first object")

    moto = _Moto(before, objects=objects)
    with moto as url:
        # the failure is still held (as the command holds it while it reports and exits)
        with pytest.raises(RuntimeError, match="stopped after the first object") as failure:
            load_logs(
                url,
                str(tmp_path / "x.duckdb"),
                endpoint_url=moto.endpoint,
                readers=readers,
                progress=progress,
            )
        gate.set()
        for thread in threading.enumerate():
            if thread.name.startswith("s3logs-read"):
                thread.join(timeout=10)
    # the first object and at most one in flight on each reader when the load failed (the
    # others were queued: 8 per reader are fetched ahead)
    assert len(gets) <= 1 + readers, gets
    del failure
    assert _rows(tmp_path / "x.duckdb", f"select count(*) from {RAW}") == [(0,)]


def test_the_summary_gives_the_time_the_load_took(tmp_path, monkeypatch) -> None:
    _fake_clock(monkeypatch, step=1.0)  # each reading of the clock a second after the last
    summary = load_logs(str(_folder(tmp_path)), str(tmp_path / "x.duckdb"))
    assert 0 < summary.seconds < 60, summary.seconds
    assert f" in {summary.seconds:.1f} s (" in summary.describe()
