"""Loader behaviours that survived `make mutation`: each test fails on a plausible regression
that the rest of the suite let through (docs/testing.md lists them).

They go through the public entry points (`load_logs`, `console_load`, `s3logs load`,
`LoadSummary`), so that they hold however the loader is reorganised inside.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pytest
import s3_server
from click.testing import CliRunner
from s3_server import s3_client

from bootstrap.cli import main
from bootstrap.loader import (
    LoadError,
    LoadSummary,
    committed_since,
    console_load,
    failed_objects_message,
    load_logs,
)

s3_endpoint = s3_server.s3_endpoint
fake_aws = s3_server.fake_aws

NAME = "2026-03-02-10-15-00-0A1B2C3D4E5F6A7B"
LINE = (
    "79a5 acme-web [02/Mar/2026:10:15:00 +0000] 192.0.2.1 - REQ1 REST.GET.OBJECT k "
    '"GET /acme-web/k HTTP/1.1" 200 - 5 5 1 1 "-" "curl/8.0" -'
)


def _rows(database: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(sql).fetchall()


def _folder(tmp_path: Path, text: str = LINE + "\n", name: str = NAME) -> Path:
    folder = tmp_path / "logs"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text)
    return folder


# --- the summary and the console ---------------------------------------------------------------


def test_summary_line_gives_every_count_and_the_rate() -> None:
    summary = LoadSummary(
        objects=3,
        lines=1200,
        bytes=45678,
        seconds=2.0,
        reloaded=1,
        skipped_loaded=4,
        skipped_changed=5,
        skipped_not_log=6,
        failed=7,
    )
    assert summary.describe() == (
        "loaded 3 objects (1 reloaded), 1,200 lines, 45,678 bytes in 2.0 s (600 lines/s); "
        "skipped 4 already loaded, 5 changed, 6 not log objects, 7 unreadable"
    )
    assert summary.skipped == 22


def test_summary_line_names_blank_lines_only_when_there_are_some() -> None:
    assert (
        LoadSummary(lines=5, seconds=0.5, blank_lines=2)
        .describe()
        .endswith(
            "(10 lines/s); skipped 0 already loaded, 0 changed, 0 not log objects, 0 unreadable"
            "; 2 blank lines"
        )
    )
    assert "blank" not in LoadSummary(lines=5, seconds=0.5).describe()


@pytest.mark.parametrize("seconds", [0.0, 0.4])
def test_summary_rate_of_an_instant_load_is_zero_and_of_a_short_one_is_real(seconds) -> None:
    text = LoadSummary(lines=4, seconds=seconds).describe()
    assert ("(0 lines/s)" if seconds == 0 else "(10 lines/s)") in text


@pytest.mark.parametrize("full", [True, False])
def test_summary_line_names_the_list_requests_and_the_kind_of_listing(full) -> None:
    text = LoadSummary(list_requests=3, full_listing=full).describe()
    kind = "full" if full else "incremental"
    assert text == (
        "loaded 0 objects (0 reloaded), 0 lines, 0 bytes in 0.0 s (0 lines/s); skipped 0 already "
        f"loaded, 0 changed, 0 not log objects, 0 unreadable; 3 LIST requests ({kind} listing)"
    )
    assert "LIST" not in LoadSummary(full_listing=full).describe()  # a folder: no requests


@pytest.mark.parametrize(
    ("keep_going", "status"),
    [(False, "exit status 3"), (True, "exit status 0 (--keep-going)")],
)
def test_failed_objects_message_says_where_they_are_and_the_exit_status(keep_going, status) -> None:
    assert failed_objects_message(LoadSummary(failed=2), keep_going) == (
        "2 objects could not be read and are recorded in main.s3_access_logs_failed_objects; "
        f"the next run tries them again ({status})"
    )


def test_committed_since_counts_what_loads_begun_since_then_committed(tmp_path) -> None:
    database = tmp_path / "x.duckdb"
    before = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    load_logs(str(_folder(tmp_path, LINE + "\n" + LINE + "\n")), str(database))
    after = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    assert committed_since(str(database), before) == (1, 2)
    assert committed_since(str(database), after + dt.timedelta(seconds=1)) == (0, 0)


def test_committed_since_of_no_database_is_nothing_and_creates_no_file(tmp_path) -> None:
    missing = tmp_path / "none.duckdb"
    assert committed_since(str(missing), dt.datetime(2026, 1, 1)) == (0, 0)
    assert not missing.exists()
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()  # a file without the history table
    assert committed_since(str(empty), dt.datetime(2026, 1, 1)) == (0, 0)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _console_run(monkeypatch, tmp_path: Path, stream: io.StringIO, **options) -> LoadSummary:
    monkeypatch.setattr("sys.stderr", stream)
    return console_load(str(tmp_path / "logs"), str(tmp_path / "x.duckdb"), **options)


def test_console_notes_are_plain_and_warnings_are_labelled(monkeypatch, tmp_path) -> None:
    folder = _folder(tmp_path)
    (folder / "README.md").write_text("not a log\n")
    _console_run(monkeypatch, tmp_path, io.StringIO())
    (folder / NAME).write_text(LINE + "\n" + LINE + "\n")
    out = io.StringIO()
    _console_run(monkeypatch, tmp_path, out)
    lines = out.getvalue().splitlines()
    assert "skipped README.md: not an S3 access log object name" in lines
    assert any(
        line.startswith(f"warning: skipped {NAME}: changed since it was loaded") for line in lines
    ), lines
    # not a terminal: no status line, nor the carriage return that would clear one (click.echo
    # drops the escape sequence itself on a stream that is not a terminal)
    assert "\r" not in out.getvalue()


def test_console_loads_into_the_database_it_is_given(monkeypatch, tmp_path) -> None:
    _folder(tmp_path)
    monkeypatch.setenv("S3LOGS_DUCKDB", str(tmp_path / "default.duckdb"))
    monkeypatch.chdir(tmp_path)
    summary = _console_run(monkeypatch, tmp_path, io.StringIO())
    assert summary.lines == 1
    assert _rows(tmp_path / "x.duckdb", "select count(*) from main.s3_access_logs_raw") == [(1,)]
    assert not (tmp_path / "default.duckdb").exists()


def test_console_status_line_on_a_terminal_is_cleared_before_a_log_line(
    monkeypatch, tmp_path
) -> None:
    _folder(tmp_path)
    out = _Terminal()
    _console_run(monkeypatch, tmp_path, out)
    # files DuckDB reads itself count when their batch commits: 0 objects until then
    assert out.getvalue().startswith(
        "\r\x1b[K0 objects, 0 lines, 0.0 MB, 0 skipped (0 lines/s)"
        "\r\x1b[Kcommitted 1 objects, 1 lines (loaded_at "
    )
    assert out.getvalue().endswith(")\n")  # cleared once: the log line is the last thing
    assert out.getvalue().count("\x1b[K") == 2


def _fake_clock(monkeypatch, step: float) -> None:
    """time.monotonic advancing `step` seconds at each call: status lines at a known pace."""
    now = [1000.0]

    def monotonic() -> float:
        now[0] += step
        return now[0]

    monkeypatch.setattr("bootstrap.loader.time.monotonic", monotonic)


def _three_objects(tmp_path: Path) -> None:
    folder = _folder(tmp_path, text="x" * 49_999 + "\n")  # 50,000 bytes: 0.05 MB shows as 0.1
    for minute in ("16", "17"):
        (folder / NAME.replace("10-15-", f"10-{minute}-")).write_text(LINE + "\n")


def test_console_status_line_redraws_at_most_five_times_a_second(monkeypatch, tmp_path) -> None:
    _three_objects(tmp_path)
    _fake_clock(monkeypatch, step=0.001)  # the three objects within a few milliseconds
    out = _Terminal()
    _console_run(monkeypatch, tmp_path, out, native=False)
    assert len(re.findall(r"\x1b\[K\d+ objects, ", out.getvalue())) == 1


def test_console_status_line_of_a_load_that_took_no_time_shows_no_rate(
    monkeypatch, tmp_path
) -> None:
    _folder(tmp_path)
    monkeypatch.setattr("bootstrap.loader.time.monotonic", lambda: 1000.0)  # a clock that stops
    out = _Terminal()
    _console_run(monkeypatch, tmp_path, out, native=False)
    assert "\r\x1b[K1 objects, 1 lines, 0.0 MB, 0 skipped (0 lines/s)" in out.getvalue()


def test_console_status_line_follows_a_slow_load(monkeypatch, tmp_path) -> None:
    _three_objects(tmp_path)
    _fake_clock(monkeypatch, step=0.25)  # objects a good fraction of a second apart
    out = _Terminal()
    _console_run(monkeypatch, tmp_path, out, native=False)
    shown = re.findall(
        r"\r\x1b\[K(\d) objects, (\d) lines, ([0-9.]+) MB, 0 skipped \(([0-9,]+) lines/s",
        out.getvalue(),
    )
    assert [(objects, lines, mb) for objects, lines, mb, _ in shown] == [
        ("1", "1", "0.1"),
        ("2", "2", "0.1"),
        ("3", "3", "0.1"),
    ]
    assert all(rate != "0" for *_, rate in shown), shown


def test_console_status_line_last_on_screen_is_cleared_at_the_end(monkeypatch, tmp_path) -> None:
    _folder(tmp_path, text="", name=NAME + ".gz")
    (tmp_path / "logs" / (NAME + ".gz")).write_bytes(b"\x1f\x8b\x08\x00broken")
    out = _Terminal()
    summary = _console_run(monkeypatch, tmp_path, out, native=False)
    assert summary.failed == 1
    text = out.getvalue()
    assert re.search(r"\r\x1b\[K0 objects, 0 lines, 0\.0 MB, 1 skipped \([0-9,]+ lines/s\)", text)
    assert text.endswith("\r\x1b[K"), repr(text)  # the shell prompt starts on a clean line


def test_console_load_leaves_the_loader_logger_as_it_found_it(monkeypatch, tmp_path) -> None:
    folder = _folder(tmp_path)
    (folder / "README.md").write_text("not a log\n")
    logger = logging.getLogger("bootstrap.loader")
    handlers, propagate = list(logger.handlers), logger.propagate
    out = io.StringIO()
    _console_run(monkeypatch, tmp_path, out)
    assert (logger.handlers, logger.propagate) == (handlers, propagate)
    _console_run(monkeypatch, tmp_path, out)  # the second run prints its note once too
    assert out.getvalue().count("skipped README.md") == 2


def test_console_load_propagates_nothing_while_it_prints(monkeypatch, tmp_path, caplog) -> None:
    folder = _folder(tmp_path)
    (folder / "README.md").write_text("not a log\n")
    with caplog.at_level(logging.INFO, logger="bootstrap.loader"):
        _console_run(monkeypatch, tmp_path, io.StringIO())
    # printed once by the console, not a second time by the root logger's handlers
    assert not [r for r in caplog.records if r.name == "bootstrap.loader"]


def test_load_command_prints_the_summary_and_the_reload_hint(tmp_path) -> None:
    folder = _folder(tmp_path)
    database = str(tmp_path / "x.duckdb")
    CliRunner().invoke(main, ["load", str(folder), "--database", database])
    (folder / NAME).write_text(LINE + "\n" + LINE + "\n")
    result = CliRunner().invoke(main, ["load", str(folder), "--database", database])
    assert result.exit_code == 0
    assert "loaded 0 objects (0 reloaded), 0 lines" in result.stderr
    assert (
        "1 changed objects were not reloaded; run again with --reload-changed to replace their rows"
        in result.stderr
    )


# --- the default database ----------------------------------------------------------------------


def test_load_without_a_database_uses_the_variable_then_the_default(monkeypatch, tmp_path) -> None:
    folder = _folder(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("S3LOGS_DUCKDB", str(tmp_path / "from-env.duckdb"))
    assert load_logs(str(folder)).lines == 1
    assert _rows(tmp_path / "from-env.duckdb", "select count(*) from main.s3_access_logs_raw")
    monkeypatch.delenv("S3LOGS_DUCKDB")
    assert load_logs(str(folder)).lines == 1
    assert (tmp_path / "data" / "s3logs.duckdb").exists()


# --- folders -----------------------------------------------------------------------------------


@pytest.fixture
def local_zone(monkeypatch) -> Iterator[None]:
    """The process runs in a zone five and a half hours east of UTC (no daylight saving), so a
    time taken in local time instead of UTC shows."""
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_file_times_are_utc_whatever_the_local_zone(local_zone, tmp_path) -> None:
    folder = _folder(tmp_path)
    os.utime(folder / NAME, (1_772_446_500, 1_772_446_500))  # 2026-03-02 10:15:00 UTC
    database = tmp_path / "x.duckdb"
    load_logs(str(folder), str(database))
    assert _rows(database, "select file_last_modified from main.s3_access_logs_raw") == [
        (dt.datetime(2026, 3, 2, 10, 15),)
    ]


def test_an_unreadable_entry_is_named_and_the_files_after_it_still_load(tmp_path, caplog) -> None:
    folder = _folder(tmp_path)
    broken = folder / "0-broken"  # sorts before the log object
    broken.symlink_to(folder / "gone")
    database = tmp_path / "x.duckdb"
    with caplog.at_level(logging.ERROR, logger="bootstrap.loader"):
        summary = load_logs(str(folder), str(database))
    assert [r.getMessage() for r in caplog.records] == [
        f"skipped {broken}: No such file or directory"
    ]
    assert (summary.objects, summary.lines) == (1, 1)


def test_a_folder_of_more_than_one_listing_page_loads_every_object(tmp_path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    count = 1_001  # one more than the listing page of a folder (S3's page size)
    for i in range(count):
        name = f"2026-03-02-10-{i // 60:02d}-{i % 60:02d}-0A1B2C3D4E5F6A7B"
        (folder / name).write_text(LINE + "\n")
    summary = load_logs(str(folder), str(tmp_path / "x.duckdb"))
    assert (summary.objects, summary.lines) == (count, count)


def test_a_missing_folder_or_a_file_says_what_to_give(tmp_path) -> None:
    missing = tmp_path / "nothing"
    with pytest.raises(LoadError) as raised:
        load_logs(str(missing), str(tmp_path / "x.duckdb"))
    assert str(raised.value) == (
        f"folder {missing} does not exist; give a folder of log objects, an s3:// URL, or "
        "run `s3logs demo-data` first to create data/demo-logs"
    )
    file = _folder(tmp_path) / NAME
    with pytest.raises(LoadError) as raised:
        load_logs(str(file), str(tmp_path / "x.duckdb"))
    assert str(raised.value) == f"{file} is a file; give the folder that holds the log objects"


# --- S3 ----------------------------------------------------------------------------------------


@pytest.fixture
def bucket(s3_endpoint: str, fake_aws: None) -> str:
    name = f"logs-{uuid.uuid4().hex[:12]}"
    s3_client(s3_endpoint).create_bucket(Bucket=name)
    return name


def test_s3_url_without_a_bucket_says_what_to_give(tmp_path) -> None:
    with pytest.raises(LoadError, match=r"s3://: no bucket name; use s3://bucket"):
        load_logs("s3://", str(tmp_path / "x.duckdb"))


def test_s3_names_are_relative_to_the_last_slash_of_a_deep_prefix(
    s3_endpoint, bucket, tmp_path
) -> None:
    s3 = s3_client(s3_endpoint)
    s3.put_object(Bucket=bucket, Key=f"a/b/{NAME}", Body=LINE + "\n")
    s3.put_object(Bucket=bucket, Key="a/b/2026-03-old/", Body=b"")  # a console's folder marker
    db = tmp_path / "x.duckdb"
    summary = load_logs(f"s3://{bucket}/a/b/2026-03", str(db), endpoint_url=s3_endpoint)
    assert (summary.objects, summary.skipped_not_log) == (1, 0)  # the marker is not an object
    modified = s3.head_object(Bucket=bucket, Key=f"a/b/{NAME}")["LastModified"]
    assert _rows(db, "select file_name, file_last_modified from main.s3_access_logs_raw") == [
        (NAME, modified.astimezone(dt.timezone.utc).replace(tzinfo=None))
    ]


def test_s3_prefix_with_nothing_under_it_loads_nothing(s3_endpoint, bucket, tmp_path) -> None:
    summary = load_logs(
        f"s3://{bucket}/empty/", str(tmp_path / "x.duckdb"), endpoint_url=s3_endpoint
    )
    assert (summary.objects, summary.failed, summary.skipped) == (0, 0, 0)


SECOND = NAME.replace("10-15-00", "10-16-00")  # listed, and so read, after NAME


@pytest.mark.parametrize(
    "change",
    [
        lambda s3, bucket, key: s3.delete_object(Bucket=bucket, Key=key),
        lambda s3, bucket, key: s3.put_object(Bucket=bucket, Key=key, Body=LINE + "\nnew\n"),
    ],
    ids=["deleted", "rewritten"],
)
def test_s3_object_changed_between_listing_and_reading_is_retried_next_run(
    s3_endpoint, bucket, tmp_path, caplog, change
) -> None:
    s3 = s3_client(s3_endpoint)
    s3.put_object(Bucket=bucket, Key=NAME, Body=LINE + "\n")
    s3.put_object(Bucket=bucket, Key=SECOND, Body=LINE + "\n")
    db = tmp_path / "x.duckdb"
    url = f"s3://{bucket}"

    def progress(summary: LoadSummary) -> None:  # after each object: change the second one
        if summary.objects == 1 and not summary.failed:
            change(s3, bucket, SECOND)

    with caplog.at_level(logging.ERROR, logger="bootstrap.loader"):
        # one reader: objects are read as they come, not ahead (read-ahead would fetch the
        # second object before the first is added; tests/python/test_s3_reader.py covers that)
        summary = load_logs(url, str(db), endpoint_url=s3_endpoint, progress=progress, readers=1)
    assert (summary.objects, summary.failed) == (1, 1)
    assert f"skipped {SECOND}: changed or deleted since it was listed" in caplog.text
    assert "it will be retried on the next run" in caplog.text
    again = load_logs(url, str(db), endpoint_url=s3_endpoint)
    listed = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
    expected = int(SECOND in listed)
    assert (again.objects, again.changed) == (expected, [])
    if expected:  # the rewritten object's new bytes, under its new ETag
        assert _rows(db, "select count(*) from main.s3_access_logs_raw") == [(3,)]


class _StubS3(BaseHTTPRequestHandler):
    """Answers HEAD bucket with `head` and every GET with an S3 XML error `code`."""

    head = 200
    status = 403
    code = "AccessDenied"

    def do_HEAD(self) -> None:
        self.send_response(self.head)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        body = (
            f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{self.code}</Code>"
            f"<Message>stub</Message><RequestId>1</RequestId></Error>"
        ).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def stub_s3(fake_aws) -> Iterator[type[_StubS3]]:
    handler = type("Handler", (_StubS3,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    handler.endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("head", "status", "code", "message"),
    [
        (
            403,
            403,
            "",
            "access to s3://b at {url} denied (403): the credentials need "
            "s3:ListBucket and s3:GetObject on the log bucket",
        ),
        (200, 403, "AccessDenied", "denied (AccessDenied)"),
        (200, 403, "InvalidAccessKeyId", "denied (InvalidAccessKeyId)"),
        (200, 403, "SignatureDoesNotMatch", "denied (SignatureDoesNotMatch)"),
        (200, 404, "NoSuchBucket", "bucket b not found (s3://b at {url})"),
        (200, 400, "InvalidArgument", "S3 request to s3://b at {url} failed: "),
    ],
)
def test_s3_refusals_say_what_is_wrong(stub_s3, tmp_path, head, status, code, message) -> None:
    stub_s3.head, stub_s3.status, stub_s3.code = head, status, code
    with pytest.raises(LoadError) as error:
        load_logs("s3://b/", str(tmp_path / "x.duckdb"), endpoint_url=stub_s3.endpoint)
    assert message.format(url=stub_s3.endpoint) in str(error.value)
    if code and "denied" in message:
        assert "s3:ListBucket and s3:GetObject" in str(error.value)
    if head != 200:  # the bucket check comes first: refused before the database is touched
        assert not (tmp_path / "x.duckdb").exists()


def test_s3_message_names_no_endpoint_when_none_was_given(stub_s3, monkeypatch, tmp_path) -> None:
    # botocore's own setting (https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html)
    monkeypatch.setenv("AWS_ENDPOINT_URL", stub_s3.endpoint)
    with pytest.raises(LoadError) as error:
        load_logs("s3://b/", str(tmp_path / "x.duckdb"))
    assert str(error.value).startswith("access to s3://b denied (AccessDenied)"), error.value


def test_s3_unusable_endpoint_url_says_what_to_give(fake_aws, tmp_path) -> None:
    with pytest.raises(LoadError) as error:
        load_logs("s3://b/", str(tmp_path / "x.duckdb"), endpoint_url="not a url")
    assert str(error.value).startswith("--endpoint-url 'not a url' is not usable (")
    assert str(error.value).endswith("); give a URL such as http://localhost:9000")


def test_s3_without_credentials_names_every_way_to_provide_them(
    s3_endpoint, fake_aws, monkeypatch, tmp_path
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(LoadError) as error:
        load_logs("s3://any-bucket/", str(tmp_path / "x.duckdb"), endpoint_url=s3_endpoint)
    for words in (
        "AWS_PROFILE (after `aws configure` or `aws sso login`)",
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN)",
        "an instance/container role",
    ):
        assert words in str(error.value)
