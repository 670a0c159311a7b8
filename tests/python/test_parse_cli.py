"""`s3logs parse`: files or stdin in, one JSON object (or CSV row) per input line out.

Spec: reads files and stdin (`-` or no argument), gzip by content in both; one output record per
input line in input order (blank lines skipped and counted, as the loader skips them), with the
contract and derived columns; timestamps ISO 8601 UTC with `Z`; a rejected line gives
{"error", "file", "line_number", "raw"}; a summary on stderr; `--format csv`;
exit 0 even with rejections; a clear message (no traceback) and a non-zero exit for a file that
cannot be read.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from bootstrap.parser import CONTRACT_COLUMNS, DERIVED_COLUMNS

parse_cmd = pytest.importorskip("bootstrap.parse_cmd")
parse = parse_cmd.parse

REPO = Path(__file__).resolve().parents[2]
OWNER = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d"
VALID = (
    f"{OWNER} media-assets [21/Jun/2024:06:15:00 +0530] 192.0.2.44 - 1A2B3C4D5E6F7A8B "
    'REST.GET.OBJECT img/cat%20photo.png "GET /media-assets/img/cat%20photo.png HTTP/1.1" '
    '304 - - 51200 9 - "https://shop.example.com/" "Mozilla/5.0 (X11; Linux) \\"beta\\""'
)
OLD = (
    f"{OWNER} media-assets [21/Jun/2024:23:59:59 -0100] - svc:s3.amazonaws.com 9Z8Y7X6W5V4U3T2S "
    'S3.EXPIRE.OBJECT tmp/x.bin "-" - - - 10 - - "-" "-"'
)
BAD = "this line is not a log record"
EXPECTED_VALID = {
    "bucket_owner": OWNER,
    "bucket": "media-assets",
    "requested_at": "2024-06-21T00:45:00Z",
    "remote_ip": "192.0.2.44",
    "requester": None,
    "request_id": "1A2B3C4D5E6F7A8B",
    "operation": "REST.GET.OBJECT",
    "key": "img/cat%20photo.png",
    "request_uri": "GET /media-assets/img/cat%20photo.png HTTP/1.1",
    "http_status": 304,
    "error_code": None,
    "bytes_sent": None,
    "object_size": 51200,
    "total_time_ms": 9,
    "turnaround_time_ms": None,
    "referer": "https://shop.example.com/",
    "user_agent": 'Mozilla/5.0 (X11; Linux) \\"beta\\"',
    **dict.fromkeys(CONTRACT_COLUMNS[17:]),
    "object_key": "img/cat photo.png",
    "http_method": "GET",
    "request_path": "/media-assets/img/cat%20photo.png",
    "request_query": None,
    "http_version": "HTTP/1.1",
    "requester_type": "anonymous",
    "requester_account_id": None,
    "operation_interface": "REST",
    "operation_verb": "GET",
    "operation_resource": "OBJECT",
}
KEYS = set(CONTRACT_COLUMNS) | set(DERIVED_COLUMNS)


def run(args, stdin=None):
    return CliRunner().invoke(parse, args, input=stdin, catch_exceptions=False)


def objects(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


@pytest.fixture
def log_file(tmp_path) -> Path:
    path = tmp_path / "2024-06-21-00-00-00-ABCDEF0123456789"
    path.write_text(f"{VALID}\n{BAD}\n{OLD}\n", encoding="utf-8")
    return path


def test_file_gives_one_json_object_per_line_in_input_order(log_file):
    result = run([str(log_file)])
    assert result.exit_code == 0
    out = objects(result.stdout)
    assert len(out) == 3
    assert set(out[0]) >= KEYS
    assert {k: out[0][k] for k in KEYS} == EXPECTED_VALID
    assert set(out[1]) == {"error", "file", "line_number", "raw"}
    assert out[2]["operation"] == "S3.EXPIRE.OBJECT"
    assert out[2]["requested_at"] == "2024-06-22T00:59:59Z"
    assert out[2]["remote_ip"] is None
    assert out[2]["object_size"] == 10


def test_rejected_line_gives_error_line_number_and_raw(log_file):
    bad = objects(run([str(log_file)]).stdout)[1]
    assert bad["line_number"] == 2
    assert bad["raw"] == BAD
    assert bad["error"] == "no bracketed time field"


def test_timestamps_are_iso_8601_utc_with_z(log_file):
    for obj in objects(run([str(log_file)]).stdout):
        if "error" not in obj:
            stamp = obj["requested_at"]
            assert stamp.endswith("Z")
            assert len(stamp) == len("2024-06-21T00:45:00Z")
            assert stamp[10] == "T"


def test_exit_status_is_zero_with_rejections(log_file):
    assert run([str(log_file)]).exit_code == 0


def test_summary_goes_to_stderr_not_stdout(log_file):
    result = run([str(log_file)])
    assert "2 parsed" in result.stderr
    assert "1 rejected" in result.stderr
    assert all(line.startswith("{") for line in result.stdout.splitlines())


def test_reads_stdin_without_a_file_argument():
    result = run([], stdin=f"{VALID}\n{BAD}\n")
    assert result.exit_code == 0
    out = objects(result.stdout)
    assert [("error" in o) for o in out] == [False, True]
    assert {k: out[0][k] for k in KEYS} == EXPECTED_VALID


def test_reads_stdin_for_dash():
    result = run(["-"], stdin=f"{OLD}\r\n")
    assert result.exit_code == 0
    (obj,) = objects(result.stdout)
    assert obj["bucket"] == "media-assets"
    assert obj["user_agent"] is None


def test_gzip_file_is_read_transparently(tmp_path):
    path = tmp_path / "log.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write(f"{VALID}\n{OLD}\n")
    result = run([str(path)])
    assert result.exit_code == 0
    out = objects(result.stdout)
    assert len(out) == 2
    assert {k: out[0][k] for k in KEYS} == EXPECTED_VALID


def test_several_files_keep_file_order_and_count_lines_per_file(tmp_path, log_file):
    second = tmp_path / "second.log"
    second.write_text(f"{BAD}\n{VALID}\n", encoding="utf-8")
    out = objects(run([str(log_file), str(second)]).stdout)
    assert len(out) == 5
    assert [o.get("line_number") for o in out] == [None, 2, None, 1, None]
    assert out[4]["bucket"] == "media-assets"


def test_csv_format_has_a_header_and_one_row_per_line(log_file):
    result = run(["--format", "csv", str(log_file)])
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 3
    assert KEYS | {"error", "line_number", "raw"} <= set(rows[0])
    assert rows[0]["bucket"] == "media-assets"
    assert rows[0]["requested_at"] == "2024-06-21T00:45:00Z"
    assert rows[0]["http_status"] == "304"
    assert rows[0]["user_agent"] == 'Mozilla/5.0 (X11; Linux) \\"beta\\"'
    assert rows[1]["error"] == "no bracketed time field"
    assert rows[1]["line_number"] == "2"
    assert rows[1]["raw"] == BAD
    assert rows[1]["bucket"] == ""


def test_missing_file_exits_non_zero_with_a_clear_message(tmp_path):
    missing = tmp_path / "nope.log"
    result = CliRunner().invoke(parse, [str(missing)])
    assert result.exit_code != 0
    assert str(missing) in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""
    assert isinstance(result.exception, SystemExit)


def test_directory_is_rejected_without_a_traceback(tmp_path):
    result = CliRunner().invoke(parse, [str(tmp_path)])
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read a file without read permission")
def test_unreadable_file_exits_non_zero_with_a_clear_message(log_file):
    log_file.chmod(0)
    result = CliRunner().invoke(parse, [str(log_file)])
    assert result.exit_code != 0
    assert str(log_file) in result.stderr
    assert isinstance(result.exception, SystemExit)


def test_corrupt_gzip_exits_non_zero_without_a_traceback(tmp_path):
    path = tmp_path / "broken.gz"
    path.write_bytes(gzip.compress((VALID + "\n").encode() * 50)[:60])
    result = CliRunner().invoke(parse, [str(path)])
    assert result.exit_code != 0
    assert str(path) in result.stderr
    assert isinstance(result.exception, SystemExit)


def test_missing_file_in_a_real_process_prints_no_traceback(tmp_path):
    missing = tmp_path / "missing.log.gz"
    proc = subprocess.run(
        [sys.executable, "-m", "bootstrap.cli", "parse", str(missing)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert str(missing) in proc.stderr
    assert proc.stdout == ""


def test_real_process_reads_stdin_and_writes_json_lines():
    proc = subprocess.run(
        [sys.executable, "-m", "bootstrap.cli", "parse"],
        input=f"{VALID}\n{BAD}\n",
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = objects(proc.stdout)
    assert {k: out[0][k] for k in KEYS} == EXPECTED_VALID
    assert out[1] == {
        "error": "no bracketed time field",
        "file": "-",
        "line_number": 2,
        "raw": BAD,
    }
    assert "1 rejected" in proc.stderr


def test_carriage_return_inside_a_line_does_not_split_it(tmp_path):
    """Lines end at \\n only, as the loader and the warehouse split them."""
    from bootstrap.parse_cmd import parse

    good = (
        'o b [06/Feb/2026:10:00:01 +0000] 192.0.2.3 - R REST.GET.OBJECT k "GET /b/k HTTP/1.1"'
        ' 200 - 5 5 1 1 "-" "agent\rwith a carriage return" - H SigV4 C AuthHeader h TLSv1.3'
    )
    path = tmp_path / "cr.log"
    path.write_bytes((good + "\n").encode())
    result = CliRunner().invoke(parse, [str(path)])
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 1
    assert records[0]["user_agent"] == "agent\rwith a carriage return"


def test_s3logs_lists_every_command_and_imports_only_the_one_that_runs() -> None:
    from bootstrap import cli

    result = CliRunner().invoke(cli.main, ["--help"])
    assert result.exit_code == 0
    context = click.Context(cli.main)
    for name in ("parse", "bootstrap", "load", "run", "demo-data"):
        assert f"  {name} " in result.output
        assert cli.main.get_command(context, name).name == name
    assert cli.main.get_command(context, "nope") is None
    # in a fresh interpreter, `s3logs run --help` leaves the AWS SDK and DuckDB unimported
    code = (
        "import sys\nfrom bootstrap.cli import main\n"
        "try:\n    main(['run', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('boto3', 'duckdb', 'bootstrap.cloud') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_an_error_record_names_the_file_it_came_from(tmp_path, log_file):
    second = tmp_path / "second.log"
    second.write_text(f"{VALID}\n{BAD}\n", encoding="utf-8")
    out = objects(run([str(log_file), str(second)]).stdout)
    errors = [(o["file"], o["line_number"]) for o in out if "error" in o]
    assert errors == [(str(log_file), 2), (str(second), 2)]
    assert "file" not in out[0]  # parsed records keep their columns only
    from_stdin = objects(run(["-"], stdin=f"{BAD}\n").stdout)
    assert from_stdin[0]["file"] == "-"


def test_csv_error_rows_name_the_file(log_file):
    rows = list(csv.DictReader(io.StringIO(run(["--format", "csv", str(log_file)]).stdout)))
    assert [r["file"] for r in rows] == ["", str(log_file), ""]
    assert rows[1]["line_number"] == "2" and rows[1]["bucket"] == ""


@pytest.mark.parametrize("members", [1, 2])
def test_gzip_on_stdin_is_decompressed(members):
    data = b"".join(gzip.compress(f"{VALID}\n{BAD}\n".encode()) for _ in range(members))
    result = CliRunner().invoke(parse, [], input=data, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = objects(result.stdout)
    assert [("error" in o) for o in out] == [False, True] * members
    assert {k: out[0][k] for k in KEYS} == EXPECTED_VALID


def test_gzip_piped_to_a_real_process_is_decompressed(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "bootstrap.cli", "parse"],
        input=gzip.compress(f"{VALID}\n{OLD}\n".encode()),
        capture_output=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = objects(proc.stdout.decode())
    assert [o["bucket"] for o in out] == ["media-assets", "media-assets"]
    assert b"2 parsed, 0 rejected" in proc.stderr


def test_input_of_one_or_no_bytes_is_read():
    assert objects(run([], stdin="").stdout) == []
    (only,) = objects(run([], stdin="x").stdout)
    assert only["raw"] == "x" and only["line_number"] == 1


def test_corrupt_gzip_on_stdin_exits_non_zero_without_a_traceback():
    data = gzip.compress((VALID + "\n").encode() * 50)[:60]
    result = CliRunner().invoke(parse, [], input=data)
    assert result.exit_code == 1
    assert "cannot read -" in result.stderr
    assert isinstance(result.exception, SystemExit)


def test_blank_lines_are_skipped_as_the_loader_skips_them_and_keep_the_numbering(tmp_path):
    path = tmp_path / "2024-06-21-00-00-00-ABCDEF0123456789"
    path.write_bytes(f"{VALID}\n\n\r\n{BAD}\n   \n{OLD}\r\r\n".encode())
    result = run([str(path)])
    out = objects(result.stdout)
    # lines 2 and 3 are blank (one \r dropped): no record; a line of spaces is a rejected record
    assert [o.get("line_number") for o in out] == [None, 4, 5, None]
    assert out[1]["raw"] == BAD and out[2] == {
        "error": "empty line",
        "file": str(path),
        "line_number": 5,
        "raw": "   ",
    }
    assert "2 parsed, 2 rejected, 2 blank lines skipped" in result.stderr


def test_parse_sees_the_lines_the_loader_loads(tmp_path):
    """One rule for lines: the raw rows `s3logs load` writes are the lines `s3logs parse` reads,
    with the same line numbers (blank lines skipped, one trailing \r dropped, others kept)."""
    import duckdb

    from bootstrap.loader import load_logs

    folder = tmp_path / "logs"
    folder.mkdir()
    path = folder / "2024-06-21-00-00-00-ABCDEF0123456789"
    text = f"\n{VALID}\r\n\r\n \n{BAD}\r\r\n\n{OLD}\n\t\n{VALID}"
    path.write_bytes(text.encode())
    (folder / "2024-06-21-00-05-00-ABCDEF0123456789.gz").write_bytes(gzip.compress(text.encode()))
    database = tmp_path / "db.duckdb"
    load_logs(str(folder), str(database))
    with duckdb.connect(str(database), read_only=True) as con:
        loaded = con.execute(
            "select file_name, file_row_number, raw from s3_access_logs_raw order by all"
        ).fetchall()
    parsed = []
    for name in sorted(p.name for p in folder.iterdir()):
        with open(folder / name, "rb") as raw:
            for number, line, obj in parse_cmd.parse_lines(parse_cmd.text_stream(raw), name):
                if obj is not None:
                    parsed.append((name, number, line))
    assert sorted(parsed) == loaded
    assert len(loaded) == 2 * 6
