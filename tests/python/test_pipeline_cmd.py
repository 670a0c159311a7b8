"""`s3logs run`: load + build in one process, and its schedule (`--every`).

The cycles run against a copy of the dbt project; what they build is compared with what a
plain `dbt build --full-refresh` builds from the same raw rows.
"""

from __future__ import annotations

import datetime as dt
import gzip
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from conftest import DbtProject, copy_objects, copy_project, log_objects, snapshot_public

from bootstrap import demo_data, loader, pipeline

# the tests a later cycle skips (bootstrap/pipeline.py, LATER_SELECT)
RESTATING = (
    "test.s3logs.primary_key_s3_access_logs_",
    "test.s3logs.not_null_s3_access_logs_v2_loaded_at",
    "test.s3logs.not_null_s3_access_logs_quarantine_loaded_at",
    "test.s3logs.not_null_s3_access_logs_quickstart_loaded_at",
)
NOW = object()  # stands for "the time the bad row is written" in bad()'s parameters
LINE_LOST = "test.s3logs.assert_no_raw_line_lost"


@pytest.fixture(scope="module")
def cycles(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("pipeline-cmd")
    generated = base / "generated"
    demo_data.generate(generated, seed=11, days=2, lines=6_000)
    objects = log_objects(generated)
    half = len(objects) // 2
    landing = base / "landing"
    copy_objects(objects[:half], generated, landing)
    project = copy_project(base / "project")
    run = pipeline.Pipeline(
        str(landing),
        str(project.database),
        project_dir=project.root,
        dbt_options=["--quiet"],
    )
    first = run.cycle()
    copy_objects(objects[half:], generated, landing)
    second = run.cycle()
    third = run.cycle()
    compiled = {
        p.name: p.read_text()
        for p in (project.root / "target" / "run").rglob("*.sql")
        if p.name.startswith(("primary_key", "unique", "not_null", "assert"))
    }
    incremental = snapshot_public(project)
    project.dbt("build", "--full-refresh", "--exclude-resource-type", "unit_test")
    return {
        "project": project,
        "pipeline": run,
        "landing": landing,
        "cycles": (first, second, third),
        "compiled": compiled,
        "incremental": incremental,
        "full": snapshot_public(project),
    }


def test_cycles_build_what_a_full_refresh_builds(cycles: dict) -> None:
    first, second, third = cycles["cycles"]
    assert first.success and second.success and third.success
    assert first.load.objects > 0 and second.load.objects > 0
    assert third.load.lines == 0 and third.load.objects == 0
    assert cycles["incremental"] == cycles["full"]
    raw = cycles["project"].query(f"select count(*) from {loader.RAW_TABLE}")[0][0]
    assert raw == first.load.lines + second.load.lines
    v2 = len(cycles["full"]["s3_access_logs_v2"])
    assert raw == v2 + len(cycles["full"]["s3_access_logs_quarantine"]) > 0


def test_a_cycle_says_where_its_time_went(cycles: dict) -> None:
    first, second, _ = cycles["cycles"]
    assert first.parsed and 0 < first.parse_seconds <= first.load_seconds
    assert 0 < first.load.seconds <= first.load_seconds
    assert f"loaded in {first.load.seconds:.1f} s while dbt parsed the project in " in (
        first.describe()
    )
    assert not second.parsed and second.parse_seconds == 0
    assert f"loaded in {second.load_seconds:.1f} s (project unchanged: not parsed); " in (
        second.describe()
    )


def test_first_cycle_parses_and_builds_everything_later_ones_the_parse_model(cycles: dict) -> None:
    first, second, third = cycles["cycles"]
    assert first.parsed and not second.parsed and not third.parsed
    for view in ("model.s3logs.s3_access_logs.v2", "model.s3logs.stg_s3logs__raw_lines"):
        assert view in first.nodes and view not in second.nodes
    assert "seed.s3logs.s3_operations" in first.nodes
    assert "seed.s3logs.s3_operations" not in second.nodes
    assert "model.s3logs.int_s3_access_logs__parsed" in second.nodes
    tests = [uid for uid in second.nodes if uid.startswith("test.")]
    assert "test.s3logs.assert_no_raw_line_lost" in tests
    assert any("s3_access_logs_v2" in uid for uid in tests)  # the public model's tests run
    assert second.statuses.get("pass", 0) == len(tests)
    # but not those that restate a parse-model test (test_dbt_pipeline.py checks they do)
    restating = [uid for uid in first.nodes if uid.startswith(RESTATING)]
    assert len(restating) == 7  # the four public views: a key test each, three on loaded_at
    assert not [uid for uid in second.nodes if uid.startswith(RESTATING)]


def test_later_cycles_test_only_rows_loaded_since_the_previous_load(cycles: dict) -> None:
    # what the last cycle ran: its tests, compiled with the filter where there is a loaded_at
    compiled = cycles["compiled"]
    scoped = {name for name, sql in compiled.items() if "loaded_at >= cast('" in sql}
    assert "assert_no_raw_line_lost.sql" in scoped
    assert "not_null_s3_access_logs_v2_requested_at.sql" in scoped
    keys = {n: sql for n, sql in compiled.items() if n.startswith(("primary_key", "unique"))}
    on_int = {n for n, sql in keys.items() if '"int_s3_access_logs__parsed"' in sql}
    assert on_int and on_int <= scoped


def test_tests_of_relations_without_loaded_at_read_every_row(cycles: dict) -> None:
    project = cycles["project"]
    since = "{s3logs_tests_since: '2026-01-01 00:00:00'}"
    for test, relation in (
        ("unique_s3_operations_operation", '"s3_operations"'),
        ("not_null_s3_access_logs_v2_requested_at", '"s3_access_logs_v2"'),
    ):
        project.dbt("compile", "--select", test, "--vars", since)
        (path,) = (project.root / "target" / "compiled").rglob(f"{test}.sql")
        sql = path.read_text()
        assert relation in sql
        assert ("loaded_at >= cast('2026-01-01 00:00:00'" in sql) == (relation != '"s3_operations"')


def test_bad_rows_loaded_after_the_first_cycle_still_fail_the_tests(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    landing = tmp_path / "landing"
    demo_data.generate(landing, seed=3, days=1, lines=1_500)
    run = pipeline.Pipeline(
        str(landing), str(project.database), project_dir=project.root, dbt_options=["--quiet"]
    )
    assert run.cycle().success

    def bad(sql: str, params: list, failing: str) -> None:
        """Write a bad row stamped now (after the previous cycle), then run a cycle."""
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        with duckdb.connect(str(project.database)) as con:
            con.execute(sql, [now if p is NOW else p for p in params])
        failed = run.cycle()  # a scoped cycle: the previous one succeeded
        assert not failed.success
        assert any(failing in f for f in failed.failures), failed.failures

    raw = loader.RAW_TABLE
    # a raw row without a row number, as a broken loader might append it: never parsed (no key
    # to match), so the test that every raw line lands once fails (the staging view has no
    # tests of its own, which would hold back the parse model)
    bad(f"insert into {raw} values ('x', 'broken', null, ?, ?)", [NOW, NOW], LINE_LOST)
    # after a failure the next cycle tests every row again, and still fails
    again = run.cycle()
    assert not again.success and again.failures
    with duckdb.connect(str(project.database)) as con:
        con.execute(f"delete from {raw} where file_name = 'broken'")
    assert run.cycle().success
    # a raw row without loaded_at: outside any window, so never parsed; the tests must see it
    bad(f"insert into {raw} values ('x', 'undated', 1, ?, null)", [NOW], LINE_LOST)
    with duckdb.connect(str(project.database)) as con:
        con.execute(f"delete from {raw} where file_name = 'undated'")
    assert run.cycle().success
    # a new row that repeats the key of an old one: the key tests read the old one too
    table = "main.int_s3_access_logs__parsed"
    repeat = f"insert into {table} select * replace (?::timestamp as loaded_at) from {table}"
    bad(repeat + " limit 1", [NOW], "primary_key_int_s3_access_logs__parsed")


def test_relative_paths_mean_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = copy_project(tmp_path / "project")
    work = tmp_path / "work"
    demo_data.generate(work / "logs", seed=4, days=1, lines=500)
    monkeypatch.chdir(work)
    monkeypatch.delenv(loader.DATABASE_ENV, raising=False)
    cycle = pipeline.Pipeline("logs", "out.duckdb", project_dir=project.root).cycle()
    assert cycle.success and cycle.load.lines > 0
    with duckdb.connect(str(work / "out.duckdb"), read_only=True) as con:
        (parsed,) = con.execute("select count(*) from int_s3_access_logs__parsed").fetchone()
    assert parsed == cycle.load.lines


def test_a_file_opened_between_the_load_and_the_build_is_reported_as_such(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # another process opens the DuckDB file after the first cycle's loader process closed it
    project = copy_project(tmp_path / "project")
    landing = tmp_path / "landing"
    demo_data.generate(landing, seed=5, days=1, lines=400)
    run = pipeline.Pipeline(
        str(landing), str(project.database), project_dir=project.root, dbt_options=["--quiet"]
    )
    holder = []
    finish = pipeline._finish_child_load

    def finish_then_open(child: subprocess.Popen) -> loader.LoadSummary:
        load = finish(child)
        script = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print(1, flush=True)"
        opened = subprocess.Popen(
            [sys.executable, "-c", script + "; time.sleep(60)", str(project.database)],
            stdout=subprocess.PIPE,
            text=True,
        )
        holder.append(opened)
        assert opened.stdout is not None and opened.stdout.readline() == "1\n"
        return load

    monkeypatch.setattr(pipeline, "_finish_child_load", finish_then_open)
    try:
        with pytest.raises(pipeline.PipelineError) as raised:
            run.cycle()
    finally:
        for opened in holder:
            opened.kill()
            opened.wait()
    message = str(raised.value)
    assert "were loaded, but another process opened the DuckDB file" in message
    assert "loads nothing twice" in message and "lock" in message.lower()
    # closed, the next cycle loads nothing and builds everything on what was loaded
    again = run.cycle()
    assert again.success and again.load.lines == 0
    assert "model.s3logs.s3_access_logs.v2" in again.nodes
    (parsed,) = project.query("select count(*) from int_s3_access_logs__parsed")[0]
    (raw,) = project.query(f"select count(*) from {loader.RAW_TABLE}")[0]
    assert parsed == raw > 0


def _s3logs(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bootstrap.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
    )


def test_help_and_wrong_options(tmp_path: Path) -> None:
    shown = _s3logs("run", "--help", cwd=tmp_path)
    assert shown.returncode == 0 and "--every" in shown.stdout and "SOURCE" in shown.stdout
    wrong = _s3logs("run", "--cycles", "2", cwd=tmp_path)
    assert wrong.returncode == 2 and "--cycles needs --every" in wrong.stderr
    too_often = _s3logs("run", "--every", "0", cwd=tmp_path)
    assert too_often.returncode == 2 and "Traceback" not in too_often.stderr


@pytest.mark.parametrize(
    ("options", "more_cycles"),
    [
        ([], False),
        (["--every", "1", "--cycles", "1"], False),
        (["--every", "1", "--cycles", "2"], True),
    ],
)
def test_only_a_schedule_leaves_a_backfills_merge_to_later_cycles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: list[str], more_cycles: bool
) -> None:
    made = []

    class Cycle:
        success = True
        load = loader.LoadSummary()

        def describe(self) -> str:
            return "cycle"

    class Recorded:
        cycles = 0

        def __init__(self, *args: object, **kwargs: object) -> None:
            made.append(kwargs["more_cycles"])

        def cycle(self) -> Cycle:
            self.cycles += 1
            return Cycle()

    monkeypatch.setattr(pipeline, "Pipeline", Recorded)
    ran = CliRunner().invoke(pipeline.run, [str(tmp_path), *options])
    assert ran.exit_code == 0, ran.output
    assert made == [more_cycles]


def test_missing_source_stops_with_a_message(tmp_path: Path) -> None:
    database = tmp_path / "db.duckdb"
    done = _s3logs("run", str(tmp_path / "nowhere"), "--database", str(database), cwd=tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "nowhere" in done.stderr and done.stderr.startswith("Error:")
    # as `s3logs load` does, a source that is not there creates no database file
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_project_signature_follows_what_dbt_reads(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    before = pipeline.project_signature(project.root)
    (project.root / "tests" / "python").mkdir()
    (project.root / "tests" / "python" / "test_x.py").write_text("x = 1\n")
    (project.root / "models" / "notes.txt").write_text("not read by dbt\n")
    assert pipeline.project_signature(project.root) == before
    model = project.root / "models" / "staging" / "stg_s3logs__raw_lines.sql"
    model.write_text(model.read_text() + "\n")
    assert pipeline.project_signature(project.root) != before


def _built_project(tmp_path: Path, seed: int) -> DbtProject:
    """A copy of the project, built by one `s3logs run` cycle on a day of demo logs."""
    project = copy_project(tmp_path / "project")
    landing = tmp_path / "landing"
    demo_data.generate(landing, seed=seed, days=1, lines=800)
    built = pipeline.Pipeline(str(landing), str(project.database), project_dir=project.root)
    assert built.cycle().success
    return project


def test_primary_key_fails_on_a_duplicate_and_on_a_null_key(tmp_path: Path) -> None:
    project = _built_project(tmp_path, seed=5)
    select = ["test", "--select", "int_s3_access_logs__parsed,test_name:primary_key"]
    assert project.dbt(*select, check=False).returncode == 0
    table = "main.int_s3_access_logs__parsed"
    with duckdb.connect(str(project.database)) as con:
        con.execute(f"create table saved as select * from {table}")
        con.execute(f"insert into {table} select * from {table} limit 1")  # a duplicate
    duplicate = project.dbt(*select, check=False)
    assert duplicate.returncode == 1 and "primary_key" in duplicate.stdout
    with duckdb.connect(str(project.database)) as con:
        con.execute(f"delete from {table}")
        con.execute(f"insert into {table} select * from saved")
        con.execute(f"update {table} set file_name = null where file_row_number = 1")
    assert project.dbt(*select, check=False).returncode == 1


def test_no_raw_line_lost_fails_on_a_lost_line_and_on_a_line_landed_twice(tmp_path: Path) -> None:
    project = _built_project(tmp_path, seed=6)
    select = ["test", "--select", "assert_no_raw_line_lost"]
    table = "main.int_s3_access_logs__parsed"

    def fails_on(change: str) -> str:
        with duckdb.connect(str(project.database)) as con:
            con.execute(f"create or replace table saved as select * from {table}")
            con.execute(change)
        result = project.dbt(*select, check=False)
        with duckdb.connect(str(project.database)) as con:
            con.execute(f"delete from {table}")
            con.execute(f"insert into {table} select * from saved")
        assert result.returncode == 1, result.stdout
        return result.stdout

    assert project.dbt(*select, check=False).returncode == 0
    # a raw line neither parsed nor quarantined
    lost = fails_on(
        f"delete from {table} where rowid = (select min(rowid) from {table} "
        "where parse_error is null)"
    )
    assert "Got 1 result" in lost
    # a line both in the public model and in quarantine
    twice = fails_on(
        f"insert into {table} select * replace ('rejected' as parse_error) from {table} "
        "where parse_error is null limit 1"
    )
    assert "Got 1 result" in twice
    # a raw line with a null row number, parsed into a row with the same null key
    raw = loader.RAW_TABLE
    with duckdb.connect(str(project.database)) as con:
        con.execute(
            f"insert into {raw} select * replace (null as file_row_number) from {raw} limit 1"
        )
    unkeyed = fails_on(
        f"insert into {table} select * replace (null as file_row_number) from {table} limit 1"
    )
    assert "Got 1 result" in unkeyed
    with duckdb.connect(str(project.database)) as con:
        con.execute(f"delete from {raw} where file_row_number is null")
    # parsed rows without a raw line (stale rows of an object reloaded shorter), even twice,
    # are no lost line
    orphans = (
        f"insert into {table} select * replace ('gone' as file_name, ? as parse_error) "
        f"from {table} limit 1"
    )
    with duckdb.connect(str(project.database)) as con:
        con.execute(orphans, [None])
        con.execute(orphans, ["rejected"])
    assert project.dbt(*select, check=False).returncode == 0


def test_no_object_loaded_twice_fails_on_doubled_lines_and_not_on_redelivered_records(
    tmp_path: Path,
) -> None:
    project = _built_project(tmp_path, seed=7)
    test = ["test", "--select", "assert_no_object_loaded_twice"]
    raw, parsed = loader.RAW_TABLE, "main.int_s3_access_logs__parsed"
    # the demo data redelivers some records in a later object: no doubled object
    assert project.dbt(*test, check=False).returncode == 0
    [(name,)] = project.query(
        f"select file_name from {raw} group by 1 having count(*) >= 3 order by 1 limit 1"
    )

    def outcome(sql: str) -> tuple[int, str]:
        """Append raw rows (stamped now) as a loader would, parse them, run the test."""
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        with duckdb.connect(str(project.database)) as con:
            con.execute(sql, [now])
        project.dbt("run", "--select", "int_s3_access_logs__parsed")
        result = project.dbt(*test, check=False)
        with duckdb.connect(str(project.database)) as con:
            for table in (raw, parsed):
                con.execute(f"delete from {table} where file_name like 'copy/%'")
        return result.returncode, re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)

    def copy(as_name: str, where: str = "true") -> str:
        return (
            f"insert into {raw} select * replace ({as_name} as file_name, ? as loaded_at) "
            f"from {raw} where file_name = '{name}' and {where}"
        )

    # an object loaded again under a folder-relative name, as an older loader named it (each
    # pair is reported from both of its names)
    code, output = outcome(copy("'copy/' || file_name"))
    assert code == 1 and "Got 2 results" in output
    # only its first line: still the same AWS object
    assert outcome(copy("'copy/' || file_name", "file_row_number = 1"))[0] == 1
    # copied under another object name: two lines or more shared
    assert outcome(copy("'copy/2026-01-01-00-00-00-COPY'"))[0] == 1
    # one record delivered again in another object, even at the same line number: no failure
    assert outcome(copy("'copy/2026-01-01-00-00-00-ONE'", "file_row_number = 1"))[0] == 0


def _pipeline(source: Path, project: DbtProject, more_cycles: bool) -> pipeline.Pipeline:
    return pipeline.Pipeline(
        str(source),
        str(project.database),
        project_dir=project.root,
        dbt_options=["--quiet"],
        more_cycles=more_cycles,
    )


def _day_of_logs(tmp_path: Path) -> tuple[Path, list[Path], DbtProject, Path, pipeline.Pipeline]:
    """A day of demo logs (folder, objects), a copy of the project, an empty landing folder
    and a pipeline from it to the project's database."""
    generated = tmp_path / "generated"
    demo_data.generate(generated, seed=9, days=1, lines=1_600)
    project = copy_project(tmp_path / "project")
    landing = tmp_path / "landing"
    run = _pipeline(landing, project, more_cycles=True)
    return generated, log_objects(generated), project, landing, run


def test_later_cycles_merge_row_groups_only_once_their_lines_fill_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generated, objects, project, landing, run = _day_of_logs(tmp_path)
    parts = [objects[i::4] for i in range(4)]
    tables = (loader.RAW_TABLE, "main.int_s3_access_logs__parsed")

    def cycle_row_groups(part: list[Path], merges: bool = False) -> list[int]:
        copy_objects(part, generated, landing)
        result = run.cycle()
        assert result.success, result.failures
        assert result.merged == merges
        with duckdb.connect(str(project.database), read_only=True) as con:  # closed: it opens
            return [
                con.execute(
                    f"select count(distinct row_group_id) from pragma_storage_info('{table}')"
                ).fetchone()[0]
                for table in tables
            ]

    # the first cycle of a process knows nothing of what earlier ones appended: it merges
    first = cycle_row_groups(parts[0], merges=True)
    monkeypatch.setattr(pipeline, "MERGE_ROWS", 10**9)
    # each later cycle appends its lines as a new row group, unmerged
    second = cycle_row_groups(parts[1])
    third = cycle_row_groups(parts[2])
    assert second == [n + 1 for n in first] and third == [n + 2 for n in first]
    # once the lines appended since the last merge fill a row group, the cycle merges them,
    # even when DuckDB checkpoints on its own after every commit (as it does once its log
    # passes 16 MB: then the close has nothing left to checkpoint)
    monkeypatch.setattr(pipeline, "MERGE_ROWS", 1)
    hold = pipeline._hold

    def hold_checkpointing_often(database: str) -> duckdb.DuckDBPyConnection:
        con = hold(database)
        con.execute("set wal_autocheckpoint = '1KB'")
        return con

    monkeypatch.setattr(pipeline, "_hold", hold_checkpointing_often)
    fourth = cycle_row_groups(parts[3], merges=True)
    assert all(n < m for n, m in zip(fourth, third, strict=True)), (third, fourth)
    with duckdb.connect(str(project.database), read_only=True) as con:
        counts = [con.execute(f"select count(*) from {t}").fetchone()[0] for t in tables]
    assert counts[0] == counts[1] > 0


def test_a_first_cycle_that_fills_a_row_group_leaves_merging_to_later_cycles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a backfill: its few part-filled row groups wait for the later cycles' merge
    generated, objects, project, landing, run = _day_of_logs(tmp_path)
    half, rest = len(objects) // 2, len(objects) * 3 // 4
    parts = [objects[:half], objects[half:rest], objects[rest:]]
    lines = []  # each part's lines, as the loader counts them
    for n, part in enumerate(parts):
        copy_objects(part, generated, tmp_path / f"part{n}")
        summary = loader.load_logs(str(tmp_path / f"part{n}"), str(tmp_path / "count.duckdb"))
        lines.append(summary.lines)
    # a row group: no more than the first part, more than the second, the last two together
    monkeypatch.setattr(pipeline, "MERGE_ROWS", min(lines[0], lines[1] + lines[2]))
    assert lines[1] < pipeline.MERGE_ROWS
    merged = []
    for n, part in enumerate(parts):
        copy_objects(part, generated, landing)
        if n == 1:  # a changed project file: this cycle parses again, and still counts
            os.utime(project.root / "dbt_project.yml", ns=(0, 0))
        result = run.cycle()
        assert result.success, result.failures
        merged.append((result.parsed, result.merged))
    assert merged == [(True, False), (True, False), (False, True)], (lines, merged)


def _raw_row_groups(database: Path) -> list[int]:
    with duckdb.connect(str(database), read_only=True) as con:
        return [
            rows
            for _, rows in con.execute(
                "select row_group_id, max(count) from pragma_storage_info(?) "
                "group by row_group_id order by row_group_id",
                [loader.RAW_TABLE],
            ).fetchall()
        ]


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one loading thread leaves one row group")
def test_a_backfills_part_filled_row_groups_wait_for_the_schedules_next_merge(
    tmp_path: Path,
) -> None:
    # 300,000 lines: each of the loader's threads fills whole row groups and leaves one
    # part-filled, between full ones. Merging those at the closing checkpoint (DuckDB's way)
    # rewrites the full ones between them; a first cycle followed by others leaves that to
    # their merge, in its loader's process and in its build's alike. (The lines are not log
    # lines: the build quarantines them all, which is as good a build here.)
    source = tmp_path / "logs"
    source.mkdir()
    for i in range(60):
        # distinct lines: the same text at the same line numbers of two objects is what the
        # test assert_no_object_loaded_twice reports as one object loaded twice
        lines = "".join(f"line {i} {n}\n" for n in range(5_000))
        (source / f"access-2026-01-01-00-{i:02d}-00-{i:04X}").write_text(lines)
    row_groups = {}
    for more_cycles in (True, False):
        project = copy_project(tmp_path / f"project-{more_cycles}")
        result = _pipeline(source, project, more_cycles).cycle()
        assert result.success, result.failures
        assert result.merged is not more_cycles
        row_groups[more_cycles] = _raw_row_groups(project.database)
    assert sum(row_groups[True]) == sum(row_groups[False]) == 300_000
    assert len(row_groups[True]) > len(row_groups[False]), row_groups


def test_run_reports_objects_that_could_not_be_read_and_exits_3(tmp_path: Path) -> None:
    demo_data.generate(tmp_path / "logs", seed=8, days=1, lines=300)
    broken = tmp_path / "logs" / "s3-access" / "acme-web-assets" / "2026-03-02-23-59-00-BAD1.gz"
    broken.write_bytes(gzip.compress(b"a line\n" * 100)[:-9])  # the gzip trailer is missing
    done = _s3logs("run", "logs", "--database", "db.duckdb", cwd=tmp_path)
    assert done.returncode == loader.EXIT_FAILED_OBJECTS, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    assert "1 objects could not be read" in done.stderr
    # the loader's own summary line, as `s3logs load` prints it, then where the cycle's time went
    assert re.search(r"^loaded \d+ objects \(0 reloaded\), [\d,]+ lines, ", done.stderr, re.M)
    assert "1 unreadable" in done.stderr
    assert re.search(
        r"^cycle 1: \d+ objects, [\d,]+ lines loaded in [\d.]+ s while dbt parsed the project "
        r"in [\d.]+ s; dbt build in [\d.]+ s \(",
        done.stderr,
        re.M,
    ), done.stderr[-3000:]
    # the build reports them: the test on the failed-objects table warns, the build passes
    output = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout)
    assert re.search(r"WARN 1 assert_no_failed_log_objects", output), output[-3000:]


def test_ctrl_c_between_cycles_stops_with_130(tmp_path: Path) -> None:
    demo_data.generate(tmp_path / "logs", seed=6, days=1, lines=300)
    run = subprocess.Popen(
        [sys.executable, "-m", "bootstrap.cli", "run", "logs", "--database", "db.duckdb"]
        + ["--every", "60"],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
        # as from a terminal: a suite started in the background (`make test &`) ignores
        # SIGINT, and a Python started with SIGINT ignored keeps ignoring it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert run.stderr is not None
    seen = []
    for line in run.stderr:  # wait for the first cycle's summary: then it sleeps
        seen.append(line)
        if line.startswith("cycle 1:"):
            break
    run.send_signal(signal.SIGINT)
    try:
        _, rest = run.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        run.kill()
        _, rest = run.communicate()
    assert run.returncode == 130, "".join(seen) + rest
    assert "interrupted" in rest and "Traceback" not in rest
    assert (tmp_path / "db.duckdb").exists()


def test_an_interrupted_child_load_is_an_interrupt() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.exit(130)"], stdout=subprocess.PIPE, text=True
    )
    with pytest.raises(KeyboardInterrupt):
        pipeline._finish_child_load(child)
    failing = subprocess.Popen(
        [sys.executable, "-c", 'print(\'{"failure": "OSError: disk full"}\')'],
        stdout=subprocess.PIPE,
        text=True,
    )
    with pytest.raises(pipeline.PipelineError, match="disk full"):
        pipeline._finish_child_load(failing)


def _start_run(tmp_path: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "bootstrap.cli", "run", "logs", "--database", "db.duckdb", *args],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(pipeline.__file__).parents[1])},
        # as from a terminal (see test_ctrl_c_between_cycles_stops_with_130)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _finish(process: subprocess.Popen) -> tuple[str, str]:
    try:
        return process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupt_during_the_build_ends_in_one_line_with_128_plus_signal(
    tmp_path: Path, sig: int, status: int
) -> None:
    demo_data.generate(tmp_path / "logs", seed=6, days=1, lines=3_000)
    run = _start_run(tmp_path)
    assert run.stdout is not None
    seen = []
    for line in run.stdout:  # dbt's first node of the build: the load is committed by then
        seen.append(line)
        if re.search(r"\b1 of \d+ START\b", line):
            break
    else:
        pytest.fail("the build never started: " + "".join(seen) + run.stderr.read())
    run.send_signal(sig)
    out, err = _finish(run)
    assert run.returncode == status, "".join(seen) + out + err
    assert "Traceback" not in out + err and "KeyboardInterrupt" not in out + err
    last = err.strip().splitlines()[-1]
    assert last.startswith("interrupted (") and "stopped during its dbt build" in last, err
    assert "its load was committed" in last and "run `s3logs run` again" in last
    # what the line says was committed is there, and a rerun loads nothing twice
    with duckdb.connect(str(tmp_path / "db.duckdb"), read_only=True) as con:
        (raw,) = con.execute("select count(*) from s3_access_logs_raw").fetchone()
    lines = int(re.search(r"objects, ([\d,]+) lines\)", last).group(1).replace(",", ""))
    assert raw == lines > 0
    again = _s3logs("run", "logs", "--database", "db.duckdb", cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert re.search(r"^cycle 1: 0 objects, 0 lines loaded", again.stderr, re.M)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, dead but not yet reaped by its new parent, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_loader_child_dies_with_a_killed_run_and_its_batch_is_rolled_back(
    tmp_path: Path,
) -> None:
    """kill -9 of `s3logs run` while its child process loads: no orphan goes on loading (it
    finished the load and died of a broken pipe before), and a rerun loads every line once."""
    import time

    folder = tmp_path / "logs"
    folder.mkdir()
    lines = 0
    for i in range(600):  # enough that the child is still loading when its parent is killed
        body = "".join(f"line {i} {n}\n" for n in range(2_000))
        (folder / f"2026-03-02-10-{i // 60:02d}-{i % 60:02d}-ORPHAN{i:04d}").write_text(body)
        lines += 2_000
    (folder / "0-README").write_text("not a log\n")  # listed first: its note says it began
    run = _start_run(tmp_path)
    assert run.stderr is not None
    first = run.stderr.readline()  # written by the child's loader
    assert "0-README" in first, first
    children = _children(run.pid)
    assert len(children) == 1, children
    (child,) = children
    run.kill()
    run.communicate(timeout=60)
    deadline = time.monotonic() + 60
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child), "the loader child outlived its killed parent"
    with duckdb.connect(str(tmp_path / "db.duckdb")) as con:
        (raw,) = con.execute("select count(*) from s3_access_logs_raw").fetchone()
    assert raw < lines  # it stopped part way (whole batches only: see test_loader)
    again = _s3logs("load", "logs", "--database", "db.duckdb", cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    with duckdb.connect(str(tmp_path / "db.duckdb"), read_only=True) as con:
        counts = con.execute(
            "select count(*), count(distinct (file_name, file_row_number)) from s3_access_logs_raw"
        ).fetchone()
    assert counts == (lines, lines)
