"""Loader batch behaviours that survived `make mutation` (the `_Batch` class of
bootstrap/loader.py): each test fails on a plausible regression that the rest of the suite let
through (docs/testing.md lists them).

A batch is the objects whose rows and history rows commit in one transaction. Plain local
files are read by DuckDB itself (`native=True`, the default), the others by Python; most tests
run both ways and check that the rows and the history are the same. They go through
`load_logs`, so that they hold however the batch is organised inside.
"""

from __future__ import annotations

import datetime as dt
import gzip
import logging
import types
from pathlib import Path

import pyarrow as pa
import pytest
import test_loader_mutants
from test_loader import rows, write

from bootstrap import loader
from bootstrap.loader import LoadSummary, load_logs

local_zone = test_loader_mutants.local_zone  # pytest finds fixtures by module attribute

RAW = "select raw, file_name, file_row_number, file_last_modified from main.s3_access_logs_raw"
LINES = "select raw, file_name, file_row_number from main.s3_access_logs_raw"
HISTORY = "select file_name, rows, status from main.s3_access_logs_load_history"
TRUNCATED = "gzip data ends early (truncated object)"


def _name(minute: int, second: int = 0) -> str:
    """A log object name; names sort (and so are listed) in time order."""
    return f"2026-03-02-10-{minute:02d}-{second:02d}-0A1B2C3D4E5F6A7B"


def _truncated_gzip(text: str) -> bytes:
    """Gzip data of `text` without its 8-byte trailer: all the lines come out, then the error."""
    return gzip.compress(text.encode())[:-8]


def _batches(database: Path) -> list[list[str]]:
    """The objects of each batch (one loaded_at each), in loaded_at order: from the rows and
    from the history, which must agree."""
    by_rows = rows(
        database,
        "select loaded_at, list(distinct file_name order by file_name) "
        "from main.s3_access_logs_raw group by loaded_at",
    )
    by_history = rows(
        database,
        "select loaded_at, list(file_name order by file_name) "
        "from main.s3_access_logs_load_history group by loaded_at",
    )
    assert by_rows == by_history
    return [names for _, names in by_rows]


# --- batches that fill up ----------------------------------------------------------------------


@pytest.mark.parametrize("native", [True, False])
def test_batches_fill_up_at_the_objects_each_path_counts(tmp_path, native) -> None:
    """Twenty 40-byte files (39 characters and a newline) with 40-byte batches. DuckDB reads a
    file of exactly the batch size itself (only larger ones go through Python), and such a file
    counts a sixteenth of its size rounded down (2 bytes): the twentieth fills the batch. Python
    counts the 39 characters of each line: every second file fills a batch."""
    folder = tmp_path / "logs"
    lines = [f"line {i:02d} ".ljust(39, "x") for i in range(20)]
    for i, line in enumerate(lines):
        write(folder, _name(i), line + "\n")
    database = tmp_path / "x.duckdb"
    summary = load_logs(str(folder), str(database), batch_bytes=40, native=native)
    assert (summary.objects, summary.lines, summary.bytes) == (20, 20, 800)
    names = [_name(i) for i in range(20)]
    if native:
        assert _batches(database) == [names]
    else:
        assert _batches(database) == [names[i : i + 2] for i in range(0, 20, 2)]
    modified = rows(database, "select file_last_modified from main.s3_access_logs_raw")
    assert rows(database, RAW) == sorted(
        (line, _name(i), 1, modified[i][0]) for i, line in enumerate(lines)
    )


def test_a_full_batch_commits_with_the_object_that_filled_it(tmp_path) -> None:
    """Python counts each line's characters: 9 + 1 fill a 10-byte batch, not 9 alone."""
    folder = tmp_path / "logs"
    for minute, text in enumerate(["a" * 9, "b", "c"]):
        write(folder, _name(minute), text + "\n")
    database = tmp_path / "x.duckdb"
    load_logs(str(folder), str(database), batch_bytes=10, native=False)
    assert _batches(database) == [[_name(0), _name(1)], [_name(2)]]


def test_each_commit_logs_its_objects_lines_and_loaded_at(tmp_path, caplog) -> None:
    folder = tmp_path / "logs"
    for minute, text in enumerate(["a\nbb\n", "ccc\n", "d\n"]):
        write(folder, _name(minute), text)
    database = tmp_path / "x.duckdb"
    with caplog.at_level(logging.INFO, logger="bootstrap.loader"):
        load_logs(str(folder), str(database), batch_bytes=4, native=False)
    stamps = rows(
        database,
        "select loaded_at, count(distinct file_name), count(*) "
        "from main.s3_access_logs_raw group by 1",
    )
    assert [r.getMessage() for r in caplog.records if r.name == "bootstrap.loader"] == [
        f"committed {objects} objects, {lines} lines (loaded_at {stamp.isoformat(sep=' ')})"
        for stamp, objects, lines in stamps
    ]
    assert [(objects, lines) for _, objects, lines in stamps] == [(2, 3), (1, 1)]


# --- loaded_at ---------------------------------------------------------------------------------


def test_loaded_at_is_utc_whatever_the_local_zone(local_zone, tmp_path) -> None:
    write(tmp_path / "logs", _name(0), "a\n")
    database = tmp_path / "x.duckdb"
    before = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    load_logs(str(tmp_path / "logs"), str(database))
    after = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    [(stamp,)] = rows(database, "select distinct loaded_at from main.s3_access_logs_raw")
    assert before <= stamp <= after


def test_batches_get_distinct_loaded_ats_when_the_clock_has_not_moved(
    tmp_path, monkeypatch
) -> None:
    """A coarse clock gives the same time to batches committed in quick succession; each batch
    still gets its own loaded_at, a microsecond after the last (the parse model's incremental
    run and `committed_since` tell batches apart by it). The loader's clock is replaced (through
    its `dt` module name) by one that never moves."""
    frozen = dt.datetime(2026, 3, 2, 12, 0, 0)

    class StoppedClock(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return frozen.replace(tzinfo=tz)

    monkeypatch.setattr(
        loader,
        "dt",
        types.SimpleNamespace(datetime=StoppedClock, timezone=dt.timezone, timedelta=dt.timedelta),
    )
    folder = tmp_path / "logs"
    for minute in range(3):
        write(folder, _name(minute), f"line {minute}\n")
    database = tmp_path / "x.duckdb"
    load_logs(str(folder), str(database), batch_bytes=1, native=False)
    stamps = rows(database, "select file_name, loaded_at from main.s3_access_logs_load_history")
    assert stamps == [(_name(i), frozen + dt.timedelta(microseconds=i)) for i in range(3)]
    assert rows(database, "select file_name, loaded_at from main.s3_access_logs_raw") == stamps


# --- reloads -----------------------------------------------------------------------------------


@pytest.mark.parametrize("native", [True, False])
def test_reloading_changed_objects_counts_and_replaces_each_of_them(tmp_path, native) -> None:
    folder = tmp_path / "logs"
    for minute in range(3):
        write(folder, _name(minute), f"old {minute}a\n\nold {minute}b\n")
    database = tmp_path / "x.duckdb"
    load_logs(str(folder), str(database), native=native)
    write(folder, _name(0), "new 0\n")
    write(folder, _name(2), "new 2a\r\nnew 2b\nnew 2c\n")
    write(folder, _name(3), "brand new\n")
    [(first,)] = rows(database, "select distinct loaded_at from main.s3_access_logs_raw")
    summary = load_logs(str(folder), str(database), reload_changed=True, native=native)
    counts = (summary.objects, summary.reloaded, summary.lines, summary.skipped_loaded)
    assert counts == (3, 2, 5, 1)
    assert rows(database, LINES) == [
        ("brand new", _name(3), 1),
        ("new 0", _name(0), 1),
        ("new 2a", _name(2), 1),
        ("new 2b", _name(2), 2),
        ("new 2c", _name(2), 3),
        ("old 1a", _name(1), 1),
        ("old 1b", _name(1), 3),
    ]
    assert rows(database, HISTORY) == [
        (_name(0), 1, "reloaded"),
        (_name(0), 2, "loaded"),
        (_name(1), 2, "loaded"),
        (_name(2), 2, "loaded"),
        (_name(2), 3, "reloaded"),
        (_name(3), 1, "loaded"),
    ]
    # the unchanged object keeps its rows as they were; every row written now has one stamp
    stamps = rows(
        database,
        "select file_name, loaded_at, count(*) from main.s3_access_logs_raw group by all",
    )
    second = max(stamp for _, stamp, _ in stamps)
    assert second > first
    assert stamps == [
        (_name(0), second, 1),
        (_name(1), first, 2),
        (_name(2), second, 3),
        (_name(3), second, 1),
    ]


# --- objects that cannot be read ---------------------------------------------------------------


@pytest.mark.parametrize("native", [True, False])
def test_unreadable_objects_are_each_counted_named_and_logged(tmp_path, native, caplog) -> None:
    folder = tmp_path / "logs"
    write(folder, _name(0), "a1\n\na3\n")
    write(folder, _name(1), _truncated_gzip("lost 1\nlost 2\n"))
    write(folder, _name(2), b"\x1f\x8b\x08\x00 not deflate data")
    write(folder, _name(3), gzip.compress(b"d1\r\nd2\n"))
    database = tmp_path / "x.duckdb"
    with caplog.at_level(logging.ERROR, logger="bootstrap.loader"):
        summary = load_logs(str(folder), str(database), native=native)
    assert (summary.objects, summary.failed, summary.lines, summary.blank_lines) == (2, 2, 4, 1)
    assert [name for name, _ in summary.failures] == [_name(1), _name(2)]
    truncated, corrupt = (reason for _, reason in summary.failures)
    assert truncated == TRUNCATED and corrupt.startswith("corrupt gzip data (")  # zlib's words
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [
        f"skipped {_name(1)}: {TRUNCATED} (it will be retried on the next run)",
        f"skipped {_name(2)}: {corrupt} (it will be retried on the next run)",
    ]
    assert rows(database, LINES) == [
        ("a1", _name(0), 1),
        ("a3", _name(0), 3),
        ("d1", _name(3), 1),
        ("d2", _name(3), 2),
    ]
    assert rows(database, HISTORY) == [(_name(0), 2, "loaded"), (_name(3), 2, "loaded")]


@pytest.mark.parametrize("native", [True, False])
def test_an_object_larger_than_a_batch_that_fails_after_a_flush_is_skipped(
    tmp_path, native
) -> None:
    """Rows of an object larger than a batch go to the table before its end is read (memory
    stays that of one batch); when the end turns out unreadable, those rows are taken back
    inside the open transaction and the object is skipped and recorded like any unreadable
    one: the load goes on. The object is three gzip members, each its own block of lines: 60
    characters, 60 more (the batch of 100 is full: flushed), a truncated third."""
    folder = tmp_path / "logs"
    write(folder, _name(0), "e" * 100 + "\n")  # an earlier batch of its own (Python: > batch)
    write(
        folder,
        _name(1),
        gzip.compress(("f" * 60 + "\n").encode())
        + gzip.compress(("g" * 60 + "\n").encode())
        + _truncated_gzip("h" * 60 + "\n"),
    )
    write(folder, _name(2), "after\n")
    database = tmp_path / "x.duckdb"
    summary = load_logs(str(folder), str(database), batch_bytes=100, native=native)
    assert (summary.objects, summary.failures) == (2, [(_name(1), TRUNCATED)])
    assert rows(database, "select raw, file_name from main.s3_access_logs_raw") == [
        ("after", _name(2)),
        ("e" * 100, _name(0)),
    ]
    assert rows(database, "select file_name from main.s3_access_logs_load_history") == [
        (_name(0),),
        (_name(2),),
    ]
    assert rows(database, "select file_name from main.s3_access_logs_failed_objects") == [
        (_name(1),)
    ]


@pytest.mark.parametrize("text_bytes", [99, 100])
def test_an_unreadable_object_is_skipped_whether_or_not_it_fills_a_batch(
    tmp_path, text_bytes
) -> None:
    """A truncated object whose lines hold 99 characters fits a 100-byte batch and is dropped
    before any flush; with 100 it fills the batch on its own and its lines were flushed before
    the truncation showed. Both are skipped alike and the next object loads."""
    folder = tmp_path / "logs"
    write(folder, _name(0), _truncated_gzip("a" * (text_bytes - 1) + "\nb\n"))
    write(folder, _name(1), "after\n")
    database = tmp_path / "x.duckdb"
    summary = load_logs(str(folder), str(database), batch_bytes=100)
    assert (summary.objects, summary.failures) == (1, [(_name(0), TRUNCATED)])
    assert rows(database, "select raw, file_name from main.s3_access_logs_raw") == [
        ("after", _name(1))
    ]


def test_an_unreadable_object_that_fills_a_batch_is_skipped_like_any_other(tmp_path) -> None:
    """Not larger than a batch itself, but the object whose lines fill it (60 + 60 > 100): the
    flush that frees memory took its first lines with the earlier object's. The earlier object
    stays, this one is skipped, and the next load does not trip on it again."""
    folder = tmp_path / "logs"
    write(folder, _name(0), gzip.compress(("a" * 60 + "\n").encode()))
    write(folder, _name(1), _truncated_gzip("b" * 60 + "\n"))
    write(folder, _name(2), "after\n")
    database = tmp_path / "x.duckdb"
    summary = load_logs(str(folder), str(database), batch_bytes=100)
    assert (summary.objects, summary.failures) == (2, [(_name(1), TRUNCATED)])
    assert rows(database, "select raw, file_name from main.s3_access_logs_raw") == [
        ("a" * 60, _name(0)),
        ("after", _name(2)),
    ]
    again = load_logs(str(folder), str(database), batch_bytes=100)
    assert (again.objects, again.failed, again.skipped_loaded) == (0, 1, 2)


@pytest.mark.parametrize("native", [True, False])
def test_a_changed_object_whose_new_content_fails_after_a_flush_keeps_its_old_rows(
    tmp_path, native
) -> None:
    """A reload deletes an object's old rows only once its new content has been read whole:
    new content larger than a batch that turns out truncated leaves the old rows in place (and
    the history as it was), and the object is recorded as unreadable."""
    folder = tmp_path / "logs"
    write(folder, _name(0), "old one\nold two\n")
    write(folder, _name(1), "other\n")
    database = tmp_path / "x.duckdb"
    load_logs(str(folder), str(database), native=native)
    write(
        folder,
        _name(0),
        gzip.compress(("n" * 60 + "\n").encode())
        + gzip.compress(("m" * 60 + "\n").encode())
        + _truncated_gzip("t" * 60 + "\n"),
    )
    summary = load_logs(
        str(folder), str(database), batch_bytes=100, native=native, reload_changed=True
    )
    assert (summary.objects, summary.reloaded, summary.failures) == (0, 0, [(_name(0), TRUNCATED)])
    assert rows(database, LINES) == [
        ("old one", _name(0), 1),
        ("old two", _name(0), 2),
        ("other", _name(1), 1),
    ]
    assert rows(database, HISTORY) == [
        (_name(0), 2, "loaded"),
        (_name(1), 1, "loaded"),
    ]


# --- memory ------------------------------------------------------------------------------------


@pytest.mark.parametrize("native", [True, False])
def test_a_committed_batch_leaves_no_arrow_memory_behind(tmp_path, native) -> None:
    """The Arrow tables a batch hands to DuckDB (its lines, its objects, its files, its history)
    are released once it commits, so that memory stays that of one batch: with a table kept,
    the next batch's would be built beside it. Arrow's own allocation count, read at each
    progress call (after the batch, if any, that the object filled was committed)."""
    folder = tmp_path / "logs"
    for minute in range(40):
        write(folder, _name(minute), f"{minute:02d}".ljust(999, "x") + "\n")
    baseline = pa.total_allocated_bytes()
    held: list[int] = []

    def progress(summary: LoadSummary) -> None:
        held.append(pa.total_allocated_bytes() - baseline)

    summary = load_logs(
        str(folder), str(tmp_path / "x.duckdb"), batch_bytes=1000, native=native, progress=progress
    )
    assert summary.objects == 40 and held == [0] * 40
