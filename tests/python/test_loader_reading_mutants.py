"""How the loader reads the bytes of log objects (gzip, UTF-8, read chunks, object names):
behaviours that survived `make mutation`. Each test fails on a plausible regression that the
rest of the suite let through.

They go through `load_logs`, so that they hold however the loader is reorganised inside.
"""

from __future__ import annotations

import gzip
import tracemalloc
import zlib
from pathlib import Path

from test_loader import rows, write
from test_loader_mutants import LINE, NAME, SECOND

from bootstrap.loader import LoadSummary, load_logs

MIB = 1024 * 1024  # the loader's read chunk


def _load(tmp_path: Path, data: bytes, name: str = NAME) -> tuple[LoadSummary, Path]:
    folder = tmp_path / "logs"
    write(folder, name, data)
    database = tmp_path / "x.duckdb"
    return load_logs(str(folder), str(database)), database


def test_a_file_ending_inside_a_character_loads_with_a_replacement_character(tmp_path) -> None:
    # Valid UTF-8 up to its last two bytes, the start of a three-byte character: DuckDB's
    # read_text would fail the whole load on it, so the file must take the Python path.
    summary, database = _load(tmp_path, b"a\nb \xe2\x82")
    assert (summary.objects, summary.lines, summary.failed) == (1, 2, 0)
    assert rows(database, "select file_row_number, raw from main.s3_access_logs_raw") == [
        (1, "a"),
        (2, "b \ufffd"),
    ]


def test_a_character_cut_by_a_newline_across_read_chunks_still_loads(tmp_path) -> None:
    # The first chunk ends with the first two bytes of "€"; the next chunk, all ASCII, starts
    # with a newline, so the character is broken (not UTF-8), although the third chunk starts
    # with the byte that would have completed it. DuckDB would refuse the file: every line
    # must still load, the broken bytes as U+FFFD.
    first = b"x" * (MIB - 3) + b" \xe2\x82"
    second = b"\n" + b"y" * (MIB - 2) + b"\n"
    assert len(first) == len(second) == MIB and second.isascii()
    summary, database = _load(tmp_path, first + second + b"\xac tail\n")
    assert (summary.objects, summary.lines, summary.failed) == (1, 3, 0)
    assert rows(
        database,
        "select file_row_number, length(raw), right(raw, 6) from main.s3_access_logs_raw",
    ) == [(1, MIB - 1, "xxxx \ufffd"), (2, MIB - 2, "yyyyyy"), (3, 6, "\ufffd tail")]


def test_data_after_a_gzip_member_that_is_not_gzip_makes_the_object_unreadable(
    tmp_path,
) -> None:
    # A zlib stream is not a gzip member: the object is corrupt, not two members, and none of
    # its lines load (the reason names the zlib error, for the failed-objects table).
    data = gzip.compress((LINE + "\n").encode()) + zlib.compress(b"smuggled\n")
    summary, database = _load(tmp_path, data, NAME + ".gz")
    assert (summary.objects, summary.lines, summary.failed) == (0, 0, 1)
    assert summary.failures == [
        (
            NAME + ".gz",
            "corrupt gzip data (Error -3 while decompressing data: incorrect header check)",
        )
    ]
    assert rows(database, "select reason from main.s3_access_logs_failed_objects") == [
        ("corrupt gzip data (Error -3 while decompressing data: incorrect header check)",)
    ]
    assert rows(database, "select count(*) from main.s3_access_logs_raw") == [(0,)]


def test_a_partitioned_key_whose_bucket_looks_like_a_log_name_is_a_log_object(tmp_path) -> None:
    # A source bucket may be named like a log object (bucket names allow digits and dashes):
    # only the key's last part is the object's own name.
    partitioned = f"123456789012/us-east-1/2026-03-02-10-15-00-web/2026/03/02/{NAME}"
    summary, database = _load(tmp_path, (LINE + "\n").encode(), partitioned)
    assert (summary.objects, summary.lines, summary.skipped_not_log) == (1, 1, 0)
    assert rows(database, "select file_name, raw from main.s3_access_logs_raw") == [
        (partitioned, LINE)
    ]


def test_a_large_local_file_is_never_held_whole_in_python_memory(tmp_path) -> None:
    # Memory stays flat however large an object is (the module docstring): a plain file is
    # checked a read chunk at a time and handed to DuckDB, whose own memory tracemalloc does
    # not see. The first load of a process imports modules (about 25 MB of Python objects),
    # hence a small load before the one measured.
    folder = tmp_path / "logs"
    database = tmp_path / "x.duckdb"
    write(folder, NAME, LINE + "\n")
    assert load_logs(str(folder), str(database)).objects == 1
    line = (LINE + "\n").encode()
    count = 16 * MIB // len(line)
    write(folder, SECOND, line * count)
    tracemalloc.start()
    try:
        summary = load_logs(str(folder), str(database))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (summary.objects, summary.lines, summary.skipped_loaded) == (1, count, 1)
    assert peak < 5 * MIB, f"{peak:,} bytes of Python memory for a {len(line) * count:,}-byte file"
