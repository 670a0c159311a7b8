"""The local loader: raw landing contract, exactly-once history, crash safety, S3 through moto."""

from __future__ import annotations

import datetime as dt
import gzip
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import duckdb
import pytest
import s3_server
from click.testing import CliRunner
from s3_server import s3_client

from bootstrap import loader, synth
from bootstrap.cli import main
from bootstrap.loader import LoadError, is_log_object, load_logs

# pytest finds fixtures by module attribute; conftest.py is not ours to extend.
s3_endpoint = s3_server.s3_endpoint
fake_aws = s3_server.fake_aws

SIMPLE = "s3-access/acme-web/2026-03-02-10-15-00-0A1B2C3D4E5F6A7B"
PARTITIONED = (
    "s3-part/123456789012/us-east-1/acme-lake/2026/03/02/2026-03-02-10-20-00-FFEE00112233AABB"
)
# what the raw table stores for them (loader.object_name): the same whatever the root
SIMPLE_NAME = SIMPLE.rsplit("/", 1)[-1]
PARTITIONED_NAME = PARTITIONED.removeprefix("s3-part/")


def log_lines(n: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    start = dt.datetime(2026, 3, 2, 10)
    return [line for line, _ in synth.lines(rng, n, start, ["acme-web", "acme-lake"])]


def write(folder: Path, name: str, data: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def rows(database: Path, sql: str = "select * from main.s3_access_logs_raw") -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(sql + " order by all").fetchall()


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    """A folder with one object in each key layout, one gzipped, and a README."""
    folder = tmp_path / "logs"
    lines = log_lines(30)
    write(folder, SIMPLE, "\n".join(lines[:10]) + "\n")
    write(folder, PARTITIONED, "\n".join(lines[10:20]) + "\n")
    write(
        folder,
        SIMPLE.replace("10-15-00", "10-25-00") + ".gz",
        gzip.compress(("\n".join(lines[20:]) + "\n").encode()),
    )
    write(folder, "README.md", "not a log\n")
    return folder


def test_raw_table_has_the_landing_contract_columns(logs: Path, tmp_path: Path) -> None:
    db = tmp_path / "s3logs.duckdb"
    load_logs(str(logs), str(db))
    columns = rows(
        db,
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'main' and table_name = 's3_access_logs_raw'",
    )
    assert sorted(columns) == sorted(
        [
            ("raw", "VARCHAR"),
            ("file_name", "VARCHAR"),
            ("file_row_number", "BIGINT"),
            ("file_last_modified", "TIMESTAMP"),
            ("loaded_at", "TIMESTAMP"),
        ]
    )


def test_both_key_layouts_load_with_names_independent_of_the_folder(
    logs: Path, tmp_path: Path
) -> None:
    db = tmp_path / "s3logs.duckdb"
    summary = load_logs(str(logs), str(db))
    names = rows(db, "select file_name, count(*) from main.s3_access_logs_raw group by 1")
    assert names == [
        (PARTITIONED_NAME, 10),
        (SIMPLE_NAME, 10),
        (SIMPLE_NAME.replace("10-15-00", "10-25-00") + ".gz", 10),
    ]
    assert (summary.objects, summary.lines, summary.skipped_not_log) == (3, 30, 1)


def test_rows_keep_the_line_unmodified_with_its_number_and_file_time(tmp_path: Path) -> None:
    lines = log_lines(3)
    path = write(tmp_path / "logs", SIMPLE, "\n".join(lines) + "\n")
    os.utime(path, (1_772_446_500, 1_772_446_500))
    db = tmp_path / "s3logs.duckdb"
    load_logs(str(tmp_path / "logs"), str(db))
    got = rows(db, "select raw, file_row_number, file_last_modified from main.s3_access_logs_raw")
    modified = dt.datetime(2026, 3, 2, 10, 15)
    assert got == sorted((line, i + 1, modified) for i, line in enumerate(lines))


def test_one_loaded_at_per_batch_in_utc(logs: Path, tmp_path: Path) -> None:
    db = tmp_path / "s3logs.duckdb"
    before = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    load_logs(str(logs), str(db))
    after = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    (stamps,) = zip(
        *rows(db, "select distinct loaded_at from main.s3_access_logs_raw"), strict=True
    )
    assert len(stamps) == 1 and before <= stamps[0] <= after


def test_loaded_at_never_goes_back_when_the_clock_does(tmp_path: Path) -> None:
    # rows stamped a day ahead stand for a clock that has since stepped back
    write(tmp_path / "logs", SIMPLE, "\n".join(log_lines(2)) + "\n")
    db = tmp_path / "s3logs.duckdb"
    load_logs(str(tmp_path / "logs"), str(db))
    ahead = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) + dt.timedelta(days=1)
    con = duckdb.connect(str(db))
    con.execute("update main.s3_access_logs_raw set loaded_at = ?", [ahead])
    con.close()
    write(tmp_path / "logs", SIMPLE.replace("10-15-00", "10-35-00"), log_lines(1)[0] + "\n")
    load_logs(str(tmp_path / "logs"), str(db))
    stamps = rows(db, "select distinct loaded_at from main.s3_access_logs_raw")
    assert stamps == [(ahead,), (ahead + dt.timedelta(microseconds=1),)]


def test_blank_lines_are_skipped_and_the_others_keep_their_line_numbers(tmp_path: Path) -> None:
    a, b, c = log_lines(3)
    # CRLF endings, a blank line in the middle, two at the end, no newline after the last line
    write(tmp_path / "logs", SIMPLE, f"{a}\r\n\r\n{b}\r\n\n\n{c}")
    db = tmp_path / "s3logs.duckdb"
    summary = load_logs(str(tmp_path / "logs"), str(db))
    got = rows(db, "select file_row_number, raw from main.s3_access_logs_raw")
    assert got == [(1, a), (3, b), (6, c)]
    assert summary.blank_lines == 3


def test_only_one_trailing_carriage_return_is_stripped(tmp_path: Path) -> None:
    (a,) = log_lines(1)
    write(tmp_path / "logs", SIMPLE, f"{a}\r\r\n")
    db = tmp_path / "s3logs.duckdb"
    load_logs(str(tmp_path / "logs"), str(db))
    assert rows(db, "select raw from main.s3_access_logs_raw") == [(a + "\r",)]


def test_gzip_is_recognised_by_content_even_without_the_suffix(tmp_path: Path) -> None:
    lines = log_lines(4)
    write(tmp_path / "logs", SIMPLE, gzip.compress(("\n".join(lines) + "\n").encode()))
    db = tmp_path / "s3logs.duckdb"
    load_logs(str(tmp_path / "logs"), str(db))
    assert rows(db, "select raw from main.s3_access_logs_raw") == sorted((x,) for x in lines)


def test_concatenated_gzip_members_are_all_read(tmp_path: Path) -> None:
    lines = log_lines(4)
    data = gzip.compress(("\n".join(lines[:2]) + "\n").encode()) + gzip.compress(
        ("\n".join(lines[2:]) + "\n").encode()
    )
    write(tmp_path / "logs", SIMPLE + ".gz", data)
    db = tmp_path / "s3logs.duckdb"
    load_logs(str(tmp_path / "logs"), str(db))
    assert rows(db, "select file_row_number from main.s3_access_logs_raw") == [
        (1,),
        (2,),
        (3,),
        (4,),
    ]


def test_a_corrupt_gzip_object_is_skipped_logged_and_retried_next_run(
    logs: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = gzip.compress(("\n".join(log_lines(5)) + "\n").encode())
    write(logs, PARTITIONED.replace("10-20-00", "10-30-00") + ".gz", good[: len(good) // 2])
    db = tmp_path / "s3logs.duckdb"
    with caplog.at_level(logging.ERROR, logger="bootstrap.loader"):
        summary = load_logs(str(logs), str(db))
    assert (summary.objects, summary.failed) == (3, 1)
    assert "truncated" in caplog.text
    assert load_logs(str(logs), str(db)).failed == 1  # not in the history: tried again
    assert rows(db, "select count(*) from main.s3_access_logs_raw") == [(30,)]


def test_objects_that_cannot_be_read_are_recorded_until_they_load(
    logs: Path, tmp_path: Path
) -> None:
    name = PARTITIONED.replace("10-20-00", "10-30-00") + ".gz"
    good = gzip.compress(("\n".join(log_lines(5)) + "\n").encode())
    write(logs, name, good[: len(good) // 2])
    db = tmp_path / "s3logs.duckdb"
    failed = (
        "select object_id, file_name, reason, tries, first_failed_at = last_failed_at "
        f"from {loader.FAILED_TABLE}"
    )
    load_logs(str(logs), str(db))
    stored = loader.object_name(name)
    first = [(loader.object_id(stored), stored, "gzip data ends early (truncated object)", 1, True)]
    assert rows(db, failed) == first
    # through another root: the same object, one row, a second try
    load_logs(str(logs / "s3-part"), str(db))
    assert rows(db, failed) == [(*first[0][:3], 2, False)]
    write(logs, name, good)  # delivered whole at last
    summary = load_logs(str(logs), str(db))
    assert (summary.objects, summary.failed) == (1, 0)
    assert rows(db, failed) == []


def _cli_load(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bootstrap.cli", "load", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(loader.__file__).parents[1])},
    )


def test_load_exits_3_when_objects_failed_unless_keep_going(logs: Path, tmp_path: Path) -> None:
    good = gzip.compress(("\n".join(log_lines(5)) + "\n").encode())
    write(logs, SIMPLE.replace("10-15-00", "10-45-00") + ".gz", good[:-9])  # no gzip trailer
    db = str(tmp_path / "s3logs.duckdb")
    done = _cli_load(str(logs), "--database", db)
    assert done.returncode == loader.EXIT_FAILED_OBJECTS == 3, done.stderr
    assert "1 objects could not be read" in done.stderr and loader.FAILED_TABLE in done.stderr
    assert "Traceback" not in done.stderr
    # a schedule that prefers to go on: exit 0, and the object is still recorded and retried
    going = _cli_load(str(logs), "--database", db, "--keep-going")
    assert going.returncode == 0, going.stderr
    assert "1 objects could not be read" in going.stderr
    assert rows(Path(db), f"select tries from {loader.FAILED_TABLE}") == [(2,)]


def test_second_run_adds_nothing(logs: Path, tmp_path: Path) -> None:
    db = tmp_path / "s3logs.duckdb"
    load_logs(str(logs), str(db))
    first = rows(db)
    summary = load_logs(str(logs), str(db))
    assert (summary.objects, summary.lines, summary.skipped_loaded) == (0, 0, 3)
    assert rows(db) == first


def test_a_shared_duckdb_instance_gets_its_settings_back(logs: Path, tmp_path: Path) -> None:
    # `s3logs run` keeps the file open while the loader connects to the same DuckDB instance;
    # the loader's global setting must not outlive the load.
    database = str(tmp_path / "shared.duckdb")
    with duckdb.connect(database) as held:
        assert load_logs(str(logs), database).objects > 0
        setting = "select current_setting('preserve_insertion_order')"
        assert held.execute(setting).fetchone()[0] is True
        assert held.execute(f"select count(*) from {loader.RAW_TABLE}").fetchone()[0] > 0


def test_history_records_each_object_with_its_fingerprint(logs: Path, tmp_path: Path) -> None:
    db = tmp_path / "s3logs.duckdb"
    load_logs(str(logs), str(db))
    history = rows(
        db,
        "select file_name, rows, bytes, status, fingerprint like 'size:%:mtime_ns:%' "
        "from main.s3_access_logs_load_history",
    )
    sizes = {loader.object_name(p.as_posix()): p.stat().st_size for p in logs.rglob("*")}
    assert history == sorted(
        (name, 10, sizes[name], "loaded", True)
        for name in [
            SIMPLE_NAME,
            PARTITIONED_NAME,
            SIMPLE_NAME.replace("10-15-00", "10-25-00") + ".gz",
        ]
    )


def test_changed_object_is_skipped_with_a_warning_naming_the_reload_flag(
    logs: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "s3logs.duckdb"
    load_logs(str(logs), str(db))
    before = rows(db)
    write(logs, SIMPLE, "\n".join(log_lines(4, seed=9)) + "\n")
    with caplog.at_level(logging.WARNING, logger="bootstrap.loader"):
        summary = load_logs(str(logs), str(db))
    assert (summary.skipped_changed, summary.changed, summary.objects) == (1, [SIMPLE_NAME], 0)
    assert SIMPLE_NAME in caplog.text and "--reload-changed" in caplog.text
    assert rows(db) == before


def test_reload_changed_replaces_only_that_objects_rows(logs: Path, tmp_path: Path) -> None:
    db = tmp_path / "s3logs.duckdb"
    load_logs(str(logs), str(db))
    new = log_lines(4, seed=9)
    write(logs, SIMPLE, "\n".join(new) + "\n")
    summary = load_logs(str(logs), str(db), reload_changed=True)
    assert (summary.objects, summary.reloaded, summary.lines) == (1, 1, 4)
    got = rows(db, f"select raw from main.s3_access_logs_raw where file_name = '{SIMPLE_NAME}'")
    assert got == sorted((line,) for line in new)
    assert rows(db, "select count(*) from main.s3_access_logs_raw") == [(24,)]
    statuses = rows(
        db,
        f"select status from main.s3_access_logs_load_history where file_name = '{SIMPLE_NAME}'",
    )
    assert statuses == [("loaded",), ("reloaded",)]
    assert load_logs(str(logs), str(db), reload_changed=True).objects == 0


def test_object_names_are_the_same_whatever_root_or_prefix_reaches_them() -> None:
    partitioned = "123456789012/us-east-1/acme-lake/2026/03/02/2026-03-02-10-20-00-FFEE0011"
    for key in (
        partitioned,
        f"s3-part/{partitioned}",
        f"/home/me/data/logs/deep/prefix/{partitioned}.gz"[:-3],
        f"logs-{partitioned}",  # a destination prefix without a slash
    ):
        assert loader.object_name(key) == partitioned, key
    for key in ("2026-03-02-10-15-00-0A1B", "s3-access/web/2026-03-02-10-15-00-0A1B"):
        assert loader.object_name(key) == "2026-03-02-10-15-00-0A1B"
    # simple layout with a prefix that does not end in a slash: the name keeps it
    assert loader.object_name("logs/web-2026-03-02-10-15-00-0A1B") == "web-2026-03-02-10-15-00-0A1B"
    # not the partition folders: an account id needs 12 digits, a region its shape
    assert loader.object_name("x/1234/us-east-1/b/2026/03/02/n") == "n"
    assert loader.object_name("123456789012/useast/b/2026/03/02/n") == "n"
    assert loader.object_id(partitioned) == "2026-03-02-10-20-00-FFEE0011"


def test_the_same_objects_through_another_root_load_once(logs: Path, tmp_path: Path) -> None:
    db = tmp_path / "s3logs.duckdb"
    assert load_logs(str(logs / "s3-access"), str(db)).objects == 2
    assert load_logs(str(logs / "s3-part" / "123456789012"), str(db)).objects == 1
    again = load_logs(str(logs), str(db))
    assert (again.objects, again.skipped_loaded) == (0, 3)
    assert load_logs(str(logs / "s3-access" / "acme-web"), str(db)).objects == 0
    count = "select count(*), count(distinct file_name) from main.s3_access_logs_raw"
    assert rows(db, count) == [(30, 3)]


def test_the_same_object_twice_in_one_listing_loads_once(logs: Path, tmp_path: Path) -> None:
    shutil.copytree(logs / "s3-access", logs / "copy" / "s3-access", copy_function=shutil.copy2)
    db = tmp_path / "s3logs.duckdb"
    summary = load_logs(str(logs), str(db), batch_bytes=10**9)  # one batch: none in history
    assert (summary.objects, summary.skipped_loaded) == (3, 2)
    assert rows(db, "select count(*) from main.s3_access_logs_raw") == [(30,)]


def test_a_copy_with_other_content_under_the_same_aws_name_is_not_loaded(
    logs: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(logs, "copy/" + SIMPLE, "\n".join(log_lines(2, seed=7)) + "\n")
    db = tmp_path / "s3logs.duckdb"
    with caplog.at_level(logging.WARNING, logger="bootstrap.loader"):
        summary = load_logs(str(logs), str(db))
    assert (summary.objects, summary.skipped_changed) == (3, 1)
    assert "same AWS name" in caplog.text and str(logs / SIMPLE) in caplog.text
    # the copy is listed first (copy/ sorts before s3-access/): its 2 lines, not 10
    assert rows(db, "select count(*) from main.s3_access_logs_raw") == [(22,)]


def test_a_database_loaded_before_object_names_reloads_nothing(logs: Path, tmp_path: Path) -> None:
    # what an older loader left: names relative to the folder given, no object_id column
    db = tmp_path / "s3logs.duckdb"
    load_logs(str(logs), str(db))
    with duckdb.connect(str(db)) as con:
        for table in (loader.RAW_TABLE, loader.HISTORY_TABLE):
            con.execute(
                f"update {table} set file_name = 'logs/' || "
                "if(file_name like '1234%', 's3-part/' || file_name, "
                "'s3-access/acme-web/' || file_name)"
            )
        con.execute(f"alter table {loader.HISTORY_TABLE} drop column object_id")
    legacy = rows(db)
    assert all(name.startswith("logs/s3-") for _, name, *_ in legacy)
    for root in (logs, logs / "s3-access", logs.parent):
        summary = load_logs(str(root), str(db))
        assert summary.objects == 0 and summary.skipped_loaded > 0, root
    assert rows(db) == legacy
    # a changed legacy object is reloaded under the name its rows have
    write(logs, SIMPLE, "\n".join(log_lines(4, seed=9)) + "\n")
    summary = load_logs(str(logs), str(db), reload_changed=True)
    assert (summary.reloaded, summary.lines) == (1, 4)
    names = rows(db, "select file_name, count(*) from main.s3_access_logs_raw group by 1")
    assert names == [
        ("logs/s3-access/acme-web/" + SIMPLE_NAME, 4),
        ("logs/s3-access/acme-web/" + SIMPLE_NAME.replace("10-15-00", "10-25-00") + ".gz", 10),
        ("logs/s3-part/" + PARTITIONED_NAME, 10),
    ]


@pytest.mark.parametrize("native", [True, False])
def test_a_crash_mid_batch_leaves_nothing_of_that_batch_and_a_rerun_loads_it_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, native: bool
) -> None:
    folder = tmp_path / "logs"
    lines = log_lines(60)
    for i in range(6):
        body = "\n".join(lines[i * 10 : i * 10 + 10]) + "\n"
        write(folder, SIMPLE.replace("10-15-00", f"10-15-0{i}"), body)
    db = tmp_path / "s3logs.duckdb"
    batch = sum(len(x) for x in lines[:20])  # two objects fill a batch
    monkeypatch.setattr(loader, "_NATIVE_BATCH_SHARE", 1)  # ... on both paths
    real_read = loader._read_file

    def crash_in_fifth_object(path: Path):
        if path.name.startswith("2026-03-02-10-15-04"):
            chunks = real_read(path)
            yield next(chunks)[:100]  # part of the object is read before the crash
            raise OSError("disk unplugged")
        yield from real_read(path)

    monkeypatch.setattr(loader, "_read_file", crash_in_fifth_object)
    with pytest.raises(OSError, match="disk unplugged"):
        load_logs(str(folder), str(db), batch_bytes=batch, native=native)
    # the first two batches committed; nothing of the third (objects 5 and 6) is visible
    assert rows(db, "select count(*), max(file_name) from main.s3_access_logs_raw") == [
        (40, SIMPLE_NAME.replace("10-15-00", "10-15-03"))
    ]
    assert rows(db, "select count(*) from main.s3_access_logs_load_history") == [(4,)]

    monkeypatch.setattr(loader, "_read_file", real_read)
    summary = load_logs(str(folder), str(db), batch_bytes=batch)
    assert (summary.objects, summary.skipped_loaded) == (2, 4)
    assert rows(db, "select raw from main.s3_access_logs_raw") == sorted((x,) for x in lines)


def test_a_crash_after_duckdb_read_files_itself_leaves_nothing_of_that_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "logs"
    lines = log_lines(60)
    for i in range(6):
        body = "\n".join(lines[i * 10 : i * 10 + 10]) + "\n"
        write(folder, SIMPLE.replace("10-15-00", f"10-15-0{i}"), body)
    db = tmp_path / "s3logs.duckdb"
    batch = sum(len(x) for x in lines[:20])  # two objects fill a batch
    monkeypatch.setattr(loader, "_NATIVE_BATCH_SHARE", 1)  # ... on both paths
    real_insert = loader._Batch._insert_native
    calls = []

    def crash_after_third_insert(self: loader._Batch) -> None:
        real_insert(self)
        calls.append(1)
        if len(calls) == 3:
            raise OSError("power cut")

    monkeypatch.setattr(loader._Batch, "_insert_native", crash_after_third_insert)
    with pytest.raises(OSError, match="power cut"):
        load_logs(str(folder), str(db), batch_bytes=batch)
    assert rows(db, "select count(*) from main.s3_access_logs_raw") == [(40,)]
    assert rows(db, "select count(*) from main.s3_access_logs_load_history") == [(4,)]

    monkeypatch.setattr(loader._Batch, "_insert_native", real_insert)
    summary = load_logs(str(folder), str(db), batch_bytes=batch)
    assert (summary.objects, summary.skipped_loaded) == (2, 4)
    assert rows(db, "select raw from main.s3_access_logs_raw") == sorted((x,) for x in lines)


def test_an_object_larger_than_a_batch_still_loads_whole(tmp_path: Path) -> None:
    lines = log_lines(50)
    write(tmp_path / "logs", SIMPLE, "\n".join(lines) + "\n")
    db = tmp_path / "s3logs.duckdb"
    load_logs(str(tmp_path / "logs"), str(db), batch_bytes=1000)
    got = rows(db, "select file_row_number, raw from main.s3_access_logs_raw")
    assert got == [(i + 1, line) for i, line in enumerate(lines)]


# --- DuckDB reading plain local files itself vs the Python path ------------------------------

# A multi-byte character across the loader's 1 MiB read chunks, to check UTF-8 across chunks.
_STRADDLE = "x" * (1024 * 1024 - 1) + "é" + "\n"
AWKWARD = {
    "crlf": "a\r\nb\r\n",
    "blank-lines": "\n\na\n\n\nb\n\n",
    "cr-only-lines": "\r\n\r\r\na\r\n\r",
    "no-final-newline": "a\nb",
    "no-final-newline-crlf": "a\r\nb\r",
    "non-ascii": "clé=vàlue €5 😀 e\u0301\r\n\u2028 line\n\ufeffbom\n",
    "nul-and-controls": "a\x00b\x1b[0m\x7f\n",
    "invalid-utf8": b"ok\nbad \xff\xfe byte\r\n\xc3( and \xed\xa0\x80\n\ntail \xe2\x82",
    "invalid-utf8-late": ("y" * 3_000_000 + "\n").encode() + b"late \x80 byte\n",
    "empty": "",
    "only-blank-lines": "\n\r\n\n",
    "only-one-newline": "\n",
    "long-lines": "L" * 3_000_000 + "\n" + "M" * 1_500_000 + "\r\nshort\n",
    "utf8-across-chunks": _STRADDLE + "next\n",
    "gzip": gzip.compress(b"g1\r\n\ng2\n"),
}


def awkward_folder(folder: Path) -> list[str]:
    """One object per AWKWARD body, in a folder of its label; its unique string is the label
    without dashes (see `label`)."""
    names = []
    for i, (label, body) in enumerate(AWKWARD.items()):
        name = f"{label}/2026-03-02-10-{i:02d}-00-{label.replace('-', '')}"
        write(folder, name, body)
        names.append(name)
    return names


def label(file_name: str) -> str:
    """The AWKWARD label of an object that awkward_folder wrote, from its stored name."""
    unique = file_name.rsplit("-", 1)[-1]
    return next(key for key in AWKWARD if key.replace("-", "") == unique)


def load_both_ways(folder: Path, tmp_path: Path, **options) -> dict[bool, tuple]:
    """Table contents and summary of a load with and without DuckDB reading files itself."""
    got = {}
    for native in (True, False):
        db = tmp_path / f"native-{native}.duckdb"
        summary = load_logs(str(folder), str(db), native=native, **options)
        raw = rows(
            db,
            "select raw, file_name, file_row_number, file_last_modified "
            "from main.s3_access_logs_raw",
        )
        history = rows(
            db,
            "select file_name, fingerprint, rows, bytes, file_last_modified, status "
            "from main.s3_access_logs_load_history",
        )
        stamps = rows(db, "select count(distinct loaded_at) from main.s3_access_logs_raw")
        counts = (summary.objects, summary.lines, summary.blank_lines, summary.bytes)
        got[native] = (raw, history, stamps, counts)
    return got


def natively_read(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the objects DuckDB reads itself, filled in as loads run."""
    names: list[str] = []
    real_insert = loader._Batch._insert_native

    def spy(self: loader._Batch) -> None:
        names.extend(obj.file_name for obj, *_ in self.native)
        real_insert(self)

    monkeypatch.setattr(loader._Batch, "_insert_native", spy)
    return names


def test_duckdb_and_python_reading_give_identical_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "logs dir é"  # a space and non-ASCII in the path DuckDB is given
    names = awkward_folder(folder)
    native = natively_read(monkeypatch)
    got = load_both_ways(folder, tmp_path)
    assert got[True] == got[False]
    raw, history, stamps, (objects, lines, blanks, _) = got[True]
    assert (objects, stamps) == (len(AWKWARD), [(1,)])
    assert sorted(map(label, native)) == sorted(
        label(name) for name in names if not name.startswith(("invalid-utf8", "gzip"))
    )
    # spot checks that the shared semantics are the intended ones
    by_file = {}
    for line, name, number, _ in raw:
        by_file.setdefault(label(name), []).append((number, line))
    assert sorted(by_file["cr-only-lines"]) == [(2, "\r"), (3, "a")]
    assert sorted(by_file["no-final-newline"]) == [(1, "a"), (2, "b")]
    assert sorted(by_file["invalid-utf8"]) == [
        (1, "ok"),
        (2, "bad \ufffd\ufffd byte"),
        (3, "\ufffd( and \ufffd\ufffd\ufffd"),
        (5, "tail \ufffd"),
    ]
    assert "empty" not in by_file and "only-blank-lines" not in by_file
    history_rows = {label(name): count for name, _, count, *_ in history}
    assert history_rows["only-blank-lines"] == history_rows["empty"] == 0
    assert (lines, blanks) == (len(raw), 13)


def test_duckdb_and_python_reading_agree_over_several_batches_and_a_reload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "logs"
    names = awkward_folder(folder)
    native = natively_read(monkeypatch)
    first = load_both_ways(folder, tmp_path, batch_bytes=2_000_000)
    assert first[True] == first[False]
    assert first[True][2][0][0] > 2  # several batches, each with its own loaded_at
    assert native  # large files go through Python, the others still to DuckDB
    write(folder, names[0], "changed\r\n\nagain\n")
    second = load_both_ways(folder, tmp_path, batch_bytes=2_000_000, reload_changed=True)
    assert second[True] == second[False]
    assert second[True][3][:3] == (1, 2, 1)


def test_paths_duckdb_would_read_as_globs_are_read_by_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "logs[1]"
    write(folder, SIMPLE, "\n".join(log_lines(3)) + "\n")
    native = natively_read(monkeypatch)
    got = load_both_ways(folder, tmp_path)
    assert got[True] == got[False] and got[True][3][1] == 3
    assert native == []


def test_key_layout_rule_accepts_both_aws_layouts_and_nothing_else() -> None:
    assert is_log_object(SIMPLE)
    assert is_log_object(PARTITIONED + ".gz")
    assert is_log_object("logs-2026-03-02-10-15-00-0A1B2C3D4E5F6A7B")  # prefix without a slash
    for name in (
        "README.md",
        "_SUCCESS",
        "incidents.json",
        "s3-access/2026-03-02-10-15-00-0A1B2C3D4E5F6A7B.json",
        "s3-access/2026-13-02-10-15-00-0A1B2C3D4E5F6A7B",  # month 13
        "s3-access/2026-03-02-10-15-00-",
    ):
        assert not is_log_object(name), name


def test_missing_folder_is_a_clear_error_without_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["load", str(tmp_path / "nope"), "--database", str(tmp_path / "x.duckdb")]
    )
    assert result.exit_code == 1
    assert "does not exist" in result.output and "s3logs demo-data" in result.output
    assert "Traceback" not in result.output


def test_database_defaults_to_the_s3logs_duckdb_variable(
    logs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "from-env" / "s3logs.duckdb"
    monkeypatch.setenv("S3LOGS_DUCKDB", str(db))
    result = CliRunner().invoke(main, ["load", str(logs)])
    assert result.exit_code == 0, result.output
    assert "loaded 3 objects" in result.output
    assert rows(db, "select count(*) from main.s3_access_logs_raw") == [(30,)]


def test_a_database_locked_by_another_process_is_a_clear_error(logs: Path, tmp_path: Path) -> None:
    db = tmp_path / "s3logs.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
            "print('ready', flush=True); sys.stdin.read()",
            str(db),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(LoadError, match="in use by another process"):
            load_logs(str(logs), str(db))
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


# --- S3 through a moto server on loopback ----------------------------------------------------


@pytest.fixture
def bucket(s3_endpoint: str, fake_aws: None) -> str:
    name = f"logs-{uuid.uuid4().hex[:12]}"
    s3_client(s3_endpoint).create_bucket(Bucket=name)
    return name


def test_s3_keys_load_under_their_object_names_and_only_once(
    s3_endpoint: str, bucket: str, tmp_path: Path
) -> None:
    s3 = s3_client(s3_endpoint)
    lines = log_lines(20)
    s3.put_object(Bucket=bucket, Key=f"access/{SIMPLE}", Body="\n".join(lines[:10]) + "\n")
    s3.put_object(
        Bucket=bucket,
        Key=f"access/{PARTITIONED}.gz",
        Body=gzip.compress(("\n".join(lines[10:]) + "\n").encode()),
    )
    s3.put_object(Bucket=bucket, Key="access/_SUCCESS", Body=b"")
    s3.put_object(Bucket=bucket, Key=f"elsewhere/{SIMPLE}", Body=lines[0] + "\n")
    db = tmp_path / "s3logs.duckdb"
    url = f"s3://{bucket}/access/"
    summary = load_logs(url, str(db), endpoint_url=s3_endpoint)
    assert (summary.objects, summary.lines, summary.skipped_not_log) == (2, 20, 1)
    assert rows(db, "select file_name, count(*) from main.s3_access_logs_raw group by 1") == [
        (PARTITIONED_NAME + ".gz", 10),
        (SIMPLE_NAME, 10),
    ]
    etag = s3.head_object(Bucket=bucket, Key=f"access/{SIMPLE}")["ETag"].strip('"')
    history = rows(db, "select fingerprint from main.s3_access_logs_load_history")
    assert ("etag:" + etag,) in history
    assert load_logs(url, str(db), endpoint_url=s3_endpoint).objects == 0
    # the same objects through the bucket root or a longer prefix: nothing twice
    for other in (f"s3://{bucket}", f"s3://{bucket}/access/s3-access/acme-web/2026"):
        again = load_logs(other, str(db), endpoint_url=s3_endpoint)
        assert again.objects == 0 and again.skipped_loaded > 0, other
    assert rows(db, "select count(*) from main.s3_access_logs_raw") == [(20,)]


def test_s3_object_rewritten_with_a_new_etag_is_a_changed_object(
    s3_endpoint: str, bucket: str, tmp_path: Path
) -> None:
    s3 = s3_client(s3_endpoint)
    s3.put_object(Bucket=bucket, Key=SIMPLE, Body="\n".join(log_lines(3)) + "\n")
    db = tmp_path / "s3logs.duckdb"
    load_logs(f"s3://{bucket}", str(db), endpoint_url=s3_endpoint)
    s3.put_object(Bucket=bucket, Key=SIMPLE, Body="\n".join(log_lines(5, seed=4)) + "\n")
    changed = load_logs(f"s3://{bucket}", str(db), endpoint_url=s3_endpoint).changed
    assert changed == [SIMPLE_NAME]
    summary = load_logs(f"s3://{bucket}", str(db), endpoint_url=s3_endpoint, reload_changed=True)
    assert (summary.reloaded, summary.lines) == (1, 5)
    assert rows(db, "select count(*) from main.s3_access_logs_raw") == [(5,)]


def test_s3_missing_bucket_is_a_clear_error(
    s3_endpoint: str, fake_aws: None, tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        main,
        [
            "load",
            "s3://no-such-bucket-here/logs/",
            "--endpoint-url",
            s3_endpoint,
            "--database",
            str(tmp_path / "x.duckdb"),
        ],
    )
    assert result.exit_code == 1
    assert "bucket no-such-bucket-here not found" in result.output
    assert "Traceback" not in result.output


def test_s3_without_credentials_says_how_to_provide_them(
    s3_endpoint: str, fake_aws: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(LoadError, match="AWS_PROFILE") as error:
        load_logs("s3://any-bucket/", str(tmp_path / "x.duckdb"), endpoint_url=s3_endpoint)
    assert "no usable AWS credentials" in str(error.value)


def test_a_raw_table_with_other_columns_is_reported_not_appended_to(tmp_path: Path) -> None:
    db = tmp_path / "other.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create table main.s3_access_logs_raw (line varchar)")
    folder = tmp_path / "logs"
    write(folder, SIMPLE, "\n".join(log_lines(2)) + "\n")
    with pytest.raises(LoadError, match="with other columns"):
        load_logs(str(folder), str(db))


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_load_says_what_was_committed_and_exits_128_plus_signal(
    tmp_path: Path, sig: int, status: int
) -> None:
    folder = tmp_path / "logs"
    for i in range(400):  # enough objects that the load is still running when signalled
        write(folder, f"2026-03-02-10-{i // 60:02d}-{i % 60:02d}-U{i}", "x\n" * 2000)
    write(folder, "0-README", "not a log\n")  # listed first: its note says the load began
    load = subprocess.Popen(
        [sys.executable, "-m", "bootstrap.cli", "load", str(folder), "--database"]
        + [str(tmp_path / "db.duckdb"), "--keep-going"],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(loader.__file__).parents[1])},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert load.stderr is not None
    first = load.stderr.readline()  # handlers are in place before the listing
    assert "0-README" in first, first
    load.send_signal(sig)
    _, err = load.communicate(timeout=120)
    assert load.returncode == status, err
    assert "Traceback" not in err and "leaked" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("interrupted (") and "run the same command again" in last, err
