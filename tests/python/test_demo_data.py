"""The demo log set: deterministic, realistic layout, and the planted incidents really there."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections import Counter
from pathlib import Path

import click
import duckdb
import pytest

from bootstrap.demo_data import generate
from bootstrap.loader import is_log_object, load_logs
from bootstrap.parser import Rejection, parse_line

SMALL = {"seed": 7, "days": 2, "lines": 15_000}


def read_lines(folder: Path) -> list[str]:
    out = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and is_log_object(path.name):
            data = path.read_bytes()
            if path.suffix == ".gz":
                data = gzip.decompress(data)
            out.extend(data.decode().splitlines())
    return out


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo") / "logs"
    generate(folder, **SMALL)
    return folder


@pytest.fixture(scope="module")
def truth(demo: Path) -> dict:
    return json.loads((demo / "incidents.json").read_text())


@pytest.fixture(scope="module")
def parsed(demo: Path) -> list[tuple | Rejection]:
    return [parse_line(line) for line in read_lines(demo)]


def incident(truth: dict, name: str) -> dict:
    (found,) = [i for i in truth["incidents"] if i["id"] == name]
    return found


def window(found: dict) -> tuple[dt.datetime, dt.datetime]:
    def at(s: str) -> dt.datetime:
        return dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ")

    return at(found["start"]), at(found["end"])


def records(parsed: list) -> list[tuple]:
    return [r for r in parsed if not isinstance(r, Rejection)]


def test_same_seed_gives_identical_bytes(demo: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    generate(again, **SMALL)
    files = sorted(p.relative_to(demo) for p in demo.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert all((demo / f).read_bytes() == (again / f).read_bytes() for f in files)


def test_another_seed_gives_other_logs(demo: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    generate(other, **{**SMALL, "seed": 8})
    assert read_lines(other) != read_lines(demo)


def test_both_key_layouts_and_gzip_objects_are_written(demo: Path) -> None:
    names = [p.relative_to(demo).as_posix() for p in demo.rglob("*") if p.is_file()]
    logs = [n for n in names if is_log_object(n)]
    assert any(n.startswith("s3-access/acme-web-assets/2026-03-0") for n in logs)
    assert any(
        n.startswith("s3-partitioned/123456789012/us-east-1/acme-data-lake/2026/03/0") for n in logs
    )
    assert any(n.endswith(".gz") for n in logs)
    assert sorted(set(names) - set(logs)) == ["README.txt", "incidents.json"]


def test_line_count_is_near_the_requested_total(truth: dict, parsed: list) -> None:
    assert truth["lines"] == len(parsed)
    assert 0.8 * SMALL["lines"] < len(parsed) < 1.2 * SMALL["lines"]


def test_traffic_mixes_principals_operations_ip_versions_errors_and_record_shapes(
    parsed: list,
) -> None:
    recs = records(parsed)
    assert len({r[4] for r in recs}) > 15
    assert len({r[6] for r in recs}) > 10
    assert any(r[3] and ":" in r[3] for r in recs) and any(r[3] and "." in r[3] for r in recs)
    errors = Counter(r[10] for r in recs if r[10])
    assert {"AccessDenied", "NoSuchKey"} <= set(errors)
    assert any(r[17:] == (None,) * 11 for r in recs)  # legacy 17-field records
    assert any(r[26] is not None for r in recs)  # newest field present


def test_malformed_lines_are_present_and_rejected_with_reasons(truth: dict, parsed: list) -> None:
    rejected = [r for r in parsed if isinstance(r, Rejection)]
    assert truth["malformed_lines"] > 0
    assert len(rejected) == truth["malformed_lines"]
    assert all(r.reason for r in rejected)


def test_delete_burst_by_one_principal_is_there(truth: dict, parsed: list) -> None:
    found = incident(truth, "delete_burst")
    start, end = window(found)
    deletes = [
        r
        for r in records(parsed)
        if r[4] == found["principal"] and r[6] == "REST.DELETE.OBJECT" and start <= r[2] <= end
    ]
    assert found["requests"] <= len(deletes) < found["requests"] + 10
    assert {r[1] for r in deletes} == {found["bucket"]}


def test_download_burst_comes_from_an_ip_never_seen_before(truth: dict, parsed: list) -> None:
    found = incident(truth, "download_burst")
    start, end = window(found)
    from_ip = [r for r in records(parsed) if r[3] == found["remote_ip"]]
    assert min(r[2] for r in from_ip) == start
    assert all(start <= r[2] <= end and r[6] == "REST.GET.OBJECT" for r in from_ip)
    assert len(from_ip) == found["requests"]
    assert sum(r[11] for r in from_ip) == found["bytes_sent"] > 5_000_000_000


def test_access_denied_scan_hits_many_keys_from_one_principal(truth: dict, parsed: list) -> None:
    found = incident(truth, "access_denied_scan")
    scan = [r for r in records(parsed) if r[4] == found["principal"]]
    assert len(scan) == found["requests"]
    assert {(r[3], r[9], r[10]) for r in scan} == {(found["remote_ip"], 403, "AccessDenied")}
    assert len({r[7] for r in scan}) == found["distinct_keys"]


def test_anonymous_reads_of_one_object_are_there(truth: dict, parsed: list) -> None:
    found = incident(truth, "anonymous_reads")
    reads = [r for r in records(parsed) if r[7] == found["key"]]
    assert len(reads) == found["requests"]
    assert {(r[4], r[6], r[1]) for r in reads} == {(None, "REST.GET.OBJECT", found["bucket"])}
    assert len({r[3] for r in reads}) == found["distinct_ips"] > 20


def test_the_loader_loads_every_demo_line(demo: Path, truth: dict, tmp_path: Path) -> None:
    db = tmp_path / "demo.duckdb"
    summary = load_logs(str(demo), str(db))
    assert (summary.lines, summary.objects) == (truth["lines"], truth["objects"])
    assert summary.skipped_not_log == 2
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select count(*) from s3_access_logs_raw").fetchone() == (
            truth["lines"],
        )


def test_refuses_to_replace_a_folder_it_did_not_write(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(click.ClickException, match="not written by demo-data"):
        generate(tmp_path, days=1, lines=10)
    assert (tmp_path / "mine.txt").read_text() == "keep me"


def test_progress_reports_every_slot_up_to_the_whole_set(tmp_path: Path) -> None:
    seen = []
    summary = generate(tmp_path / "logs", seed=3, days=2, lines=2_000, progress=seen.append)
    assert [p.slots for p in seen] == list(range(1, 2 * 288 + 1))
    assert all(p.total_slots == 2 * 288 and p.slots_a_day == 288 for p in seen)
    lines = [p.lines for p in seen]
    assert lines == sorted(lines) and lines[-1] == summary.lines
    assert seen[-1].objects == summary.objects


def test_cli_prints_a_line_per_day_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from bootstrap.demo_data import demo_data

    ran = CliRunner().invoke(
        demo_data, ["--out", str(tmp_path / "logs"), "--days", "3", "--lines", "3000"]
    )
    assert ran.exit_code == 0, ran.output
    days = [line for line in ran.output.splitlines() if line.startswith("day ")]
    assert [d.split(" written")[0] for d in days] == ["day 1 of 3", "day 2 of 3", "day 3 of 3"]
    assert "(100% of 3 days)" in days[-1] and "\r" not in ran.output


def test_status_line_on_a_terminal_redraws_in_place_and_is_cleared(tmp_path: Path) -> None:
    import io

    from bootstrap.demo_data import _Status

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Terminal()
    status = _Status(out)
    generate(tmp_path / "logs", seed=3, days=1, lines=500, progress=status)
    status.clear()
    text = out.getvalue()
    assert "day " not in text and "\n" not in text
    assert text.count("\r\x1b[K") >= 2 and text.endswith("\r\x1b[K")
    assert "(100% of 1 days)" in text  # the last slot is always drawn


def test_an_interrupted_run_leaves_the_earlier_set_and_nothing_half_written(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "logs"
    generate(folder, seed=3, days=1, lines=1_000)
    before = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}

    def stop(done: object) -> None:
        if done.slots == 100:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate(folder, seed=4, days=1, lines=1_000, progress=stop)
    after = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logs"]
    # and a complete run still replaces the set
    generate(folder, seed=4, days=1, lines=1_000)
    assert json.loads((folder / "incidents.json").read_text())["seed"] == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logs"]
