"""One parser: the DuckDB path gives exactly what bootstrap/parser.py gives.

On DuckDB, lines of the common shape are split natively (macros/parse_raw_lines.sql) and the
rest go through the Python parser registered as a function. This builds the parse model twice
over the same corpus, once with the native split and once with every line through Python,
and demands identical rows; then checks the Python-only rows against `parser.parse_row` called
directly, as the CLI and the Snowflake UDTF call it.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest
from conftest import DbtProject, copy_project
from test_parser_fuzz import _mutate

from bootstrap import loader, parser, synth

COLUMNS = ", ".join(parser.OUTPUT_COLUMNS)

ESCAPED_KEYS = [
    "%c3%a9t%C3%A9", "%FF", "%C3%28", "%E0%A4%A4", "%ED%A0%80", "%F0%9F%98%80", "%F1%80%80%80",
    "%E2%82%AC", "%E2%82", "%C3", "%1F", "%7F%20x+y", "d%C3%A9j%C3%A0/vu/%CE%A9.txt",
]  # fmt: skip

# Lines of known-tricky shapes: every branch of the native classifier, both sides of it.
EDGE_LINES = [
    # 27 fields, offsets, 4-part operations, keys with ASCII and non-ASCII escapes
    "o b [06/Feb/2026:10:00:01 +0530] 192.0.2.3 - R1 REST.PUT.OBJECT_LOCK_CONFIGURATION a%20b%2Bc"
    ' "PUT /b/a%20b%2Bc?x=1&y HTTP/1.1" 200 - - 10 5 3 "-" "ua" - H SigV4 C AuthHeader h TLSv1.2'
    " arn:aws:s3:us-east-1:123456789012:accesspoint/ap No us-west-2",
    "o b [06/Feb/2026:10:00:01 -0800] 2001:db8::1 arn:aws:sts::123456789012:assumed-role/R/a@b.c"
    ' R2 S3.CREATE.DELETEMARKER %C3%A9t%C3%A9 "DELETE /b/x HTTP/1.1" 204 - - - 1 1 "" "" - - -'
    " - - - - - Yes - extra1 extra2",
    "o b [29/Feb/2024:23:59:59 +0000] 1.2.3.4 svc:s3.amazonaws.com R3 REST.GET.OBJECT %00x"
    ' "GET /b/%00x HTTP/1.1" 200 - 1 1 1 1 "-" "-"',
    'o b [30/Feb/2024:23:59:59 +0000] 1.2.3.4 - R4 REST.GET.OBJECT k "GET /b/k HTTP/1.1"'
    ' 200 - 1 1 1 1 "-" "-"',
    'o b [06/feb/2026:10:00:01 +0000] 1.2.3.4 - R5 REST.GET.OBJECT k "GET /b/k HTTP/1.1"'
    ' 200 - 1 1 1 1 "-" "-"',
    'o b [06/Feb/2026:10:00:01 +0000] 1.2.3.4 - R6 REST.GET.OBJECT k "GET /b/k HTTP/1.1"'
    ' 2000000000 - 1 1 1 1 "-" "-"',
    'o b [06/Feb/2026:10:00:01 +0000] 1.2.3.4 - R7 REST.GET.OBJECT k "GET /b/k HTTP/1.1"'
    ' 200 - 1 1 1 1 "-" "-" - - - - - - - - Maybe',
    "o b [06/Feb/2026:10:00:01 +0000] 1.2.3.4 "
    + "f" * 64
    + ' R8 REST.GET.OBJECT k "GET /a b c HTTP/1.1" 200 - 1 1 1 1 "-" "-"',
    "o b [06/Feb/2026:10:00:01 +0000] 1.2.3.4 arn:aws:iam::123456789012:root R9 WEBSITE.GET.OBJECT"
    ' k "GET /k" 200 - 1 1 1 1 "-" "x" y',
    "o b [06/Feb/2026:10:00:01 +0000] 1.2.3.4 arn:aws:iam::12345678901x:user/u R10 REST.GET.OBJECT"
    ' k "GET /k?" 200 - 1 1 1 1 "r "q" s" "u "v" w" - - -',
    "o b [06/Feb/2026:10:00:01 +0000] 1.2.3.4 arn:aws:sts::1:federated-user/f R11"
    " BATCH.DELETE.OBJECT k - - - - - - - - -",
    "",
    "   ",
    "garbage",
] + [
    # keys whose escapes are valid UTF-8 (native), invalid (Python: U+FFFD), or excluded leads
    f'o b [06/Feb/2026:10:00:01 +0000] 1.2.3.4 - K{i} REST.GET.OBJECT {key} "GET /b/{key}'
    f' HTTP/1.1" 200 - 1 1 1 1 "-" "-"'
    for i, key in enumerate(ESCAPED_KEYS)
]

# Host ids written as two tokens (records of 2019), and lines that must not be taken for them;
# aclRequired values outside Yes, No and - (kept in extra_fields)
_HEAD = 'o b [06/Feb/2019:00:00:38 +0000] 192.0.2.3 - H{} REST.GET.OBJECT k "GET /b/k HTTP/1.1"'
_CIPHER = "ECDHE-RSA-AES128-GCM-SHA256"
TAILS = [
    f'"-" "ua" - AKIAIOSFODNN7EXAMPLE aGk= SigV4 {_CIPHER} AuthHeader b.s3.amazonaws.com TLSv1.2',
    f'"-" "ua" - AKIAIOSFODNN7EXAMPLE aGk= SigV2 {_CIPHER} QueryString b.s3.amazonaws.com',
    '"-" "ua" v1 AKIAIOSFODNN7EXAMPLE aGk= - - - b.s3.amazonaws.com - - - -',
    f'"-" "ua" - AK aGk= SigV4 {_CIPHER} AuthHeader [::1]:443 TLSv1.2 arn:aws:s3:x Yes r e1 e2',
    f'"-" "u "a" b" - AK aGk= SigV4 {_CIPHER} AuthHeader b.s3.amazonaws.com TLSv1.2 - Maybe r',
    f'"r "q" s" "ua" - AK aGk= SigV4 {_CIPHER} AuthHeader b.s3.amazonaws.com TLSv1.3',
    # not two tokens: an unknown signature version, or later fields that do not line up
    f'"-" "ua" - aGk= SigV5 {_CIPHER} AuthHeader b.s3.amazonaws.com TLSv1.2 - - r',
    '"-" "ua" - aGk= SigV5 - AuthHeader b.s3.amazonaws.com TLSv1.2 - - r',
    '"-" "ua" - aGk= X - - - - - - -',
    f'"-" "ua" - AK aGk= SigV4 {_CIPHER} AuthHeader b.s3.amazonaws.com TLS1.2',
    f'"-" "ua" - AK aGk= SigV4 {_CIPHER} AuthHeader b.s3.amazonaws.com TLSv1.2 ap',
    f'"-" "ua" - AK aGk= SigV4 {_CIPHER} Bearer b.s3.amazonaws.com',
    f'"-" "ua" - AK aGk= SigV4 {_CIPHER.lower()} AuthHeader b.s3.amazonaws.com',
    f'"-" "ua" - AK aGk= SigV4 {_CIPHER} AuthHeader localhost',
    f'"-" "ua" - - aGk= SigV4 {_CIPHER} AuthHeader b.s3.amazonaws.com',
    f'"-" "ua" - AK  SigV4 {_CIPHER} AuthHeader b.s3.amazonaws.com',
    # aclRequired values AWS has not documented
    '"-" "ua" - aGk= SigV4 C AuthHeader h TLSv1.2 - Required r',
    '"-" "ua" - aGk= SigV4 C AuthHeader h TLSv1.2 - yes r - x',
    '"-" "ua" - aGk= SigV4 C AuthHeader h TLSv1.2 - true',
]
HOST_ID_LINES = [f"{_HEAD.format(i)} 200 - 1 1 1 1 {tail}" for i, tail in enumerate(TAILS)]

# Two or more fields after the 27th; empty status .. turn-around time fields (two spaces in a
# row: quarantined); requesters that are almost canonical ids (64 lowercase hex digits)
_LINE = 'o b [06/Feb/2026:10:00:01 +0000] 1.2.3.4 {} P{} REST.GET.OBJECT k {} {} "-" "ua"{}'
_URI = '"GET /b/k HTTP/1.1"'
_EMPTY_FIELD_MIDS = [
    " - 1 1 1 1", "200  1 1 1 1", "200 -  1 1 1", "200 - 1  1 1", "200 - 1 1  1", "200 - 1 1 1 ",
    "200 - 1 1 1  1",
]  # fmt: skip
PINNED_LINES = [
    _LINE.format("-", 0, _URI, "200 - 1 1 1 1", " - H SigV4 C A h T - - r e1 e2"),
    _LINE.format("-", 1, _URI, "200 - 1 1 1 1", " - H SigV4 C A h T - Yes r e1 - e3 e4"),
    _LINE.format("-", 2, _URI, "200 - 1 1 1 1", " - H SigV4 C A h T - - r - -"),
    *(
        _LINE.format("-", 3 + i, uri, mid, "")
        for i, (uri, mid) in enumerate((u, m) for u in (_URI, "-") for m in _EMPTY_FIELD_MIDS)
    ),
    *(
        _LINE.format(requester, 20 + i, _URI, "200 - 1 1 1 1", "")
        for i, requester in enumerate(
            ["a" * 64, "a" * 65, "a" * 63, "A" * 64, "a" * 63 + "g", "0" * 128]
        )
    ),
]

# Quotes inside the user-agent (native), with and without fields after it; glued text after its
# last quote, and quotes inside the referer (Python).
AGENT_ENDINGS = [
    '"-" "u "v" w" - - -', '"r" "a"b"', '"" """', '"r" "s" "t" "u" - H', '"-" "a" b"x - -',
    '"r"x" "u"', '"-" "" "" - - - - - - - - Yes', '"-" "a"b" - - - - - - - - Maybe',
]  # fmt: skip
QUOTED_AGENT_LINES = [
    f'o b [06/Feb/2026:10:00:01 +0000] 1.2.3.4 - Q{i} REST.GET.OBJECT k "GET /b/k HTTP/1.1"'
    f" 200 - 1 1 1 1 {ending}"
    for i, ending in enumerate(AGENT_ENDINGS)
]


def _corpus(folder: Path) -> int:
    """Write the corpus as log objects the loader accepts; return the number of lines."""
    rng = random.Random(20261127)
    lines = [line for line, _ in synth.lines(rng, 6_000, dt.datetime(2026, 2, 1), ["b1", "b2"])]
    lines += [_mutate(rng, rng.choice(lines)) for _ in range(3_000)]
    lines += EDGE_LINES + QUOTED_AGENT_LINES + HOST_ID_LINES + PINNED_LINES
    lines = [line.replace("\n", " ").replace("\r", " ") for line in lines]
    # The loader strips one trailing CR: a second one reaches the raw table (the parser's to strip)
    lines += [EDGE_LINES[0] + "\r", EDGE_LINES[0] + "\r\r"]
    folder.mkdir(parents=True)
    for index in range(0, len(lines), 1_000):
        name = f"logs/2026-02-01-00-00-{index // 1000:02d}-CONFORMANCE{index:06d}"
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines[index : index + 1_000]) + "\n", encoding="utf-8")
    return sum(1 for line in lines if line)  # the loader skips empty lines, like Snowflake


def _takes_fast_path(line: str) -> bool:
    try:
        return parser._parse_fast(line) is not None
    except parser._Reject:
        return False


def _parsed(project: DbtProject, native: bool) -> list[tuple]:
    project.dbt(
        "run",
        "--select",
        "int_s3_access_logs__parsed",
        "--full-refresh",
        "--vars",
        f"{{s3logs_native_parse: {str(native).lower()}}}",
    )
    return project.query(
        "select file_name, file_row_number, raw, "
        f"{COLUMNS} from int_s3_access_logs__parsed order by file_name, file_row_number"
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("conformance")
    expected_lines = _corpus(base / "logs")
    project = copy_project(base / "project")
    loader.load_logs(str(base / "logs"), str(project.database))
    project.dbt("run", "--select", "stg_s3logs__raw_lines")
    raw = dict(
        ((f, n), r)
        for f, n, r in project.query(
            "select file_name, file_row_number, raw from s3_access_logs_raw"
        )
    )
    python_rows = _parsed(project, native=False)
    native_rows = _parsed(project, native=True)
    return {
        "raw": raw,
        "python": python_rows,
        "native": native_rows,
        "lines": expected_lines,
        "native_verdicts": _native_verdicts(project),
    }


def _native_verdicts(project: DbtProject) -> int:
    """How many lines the native classifier of the last compiled parse model took itself."""
    compiled = next(
        (project.root / "target" / "compiled").rglob("int_s3_access_logs__parsed.sql")
    ).read_text()
    verdict = compiled[compiled.index("quotes_split as (") : compiled.index("native_fields as (")]
    sql = (
        "with new_lines as (select * from main.stg_s3logs__raw_lines), "
        + verdict.rstrip().rstrip(",")
        + " select count(*) filter (where is_native) from classified"
    )
    return project.query(sql)[0][0]


def test_native_split_and_python_parser_give_identical_rows(built: dict) -> None:
    assert len(built["python"]) == built["lines"] == len(built["raw"])
    differences = [(p, n) for p, n in zip(built["python"], built["native"], strict=True) if p != n]
    assert differences == []


def test_python_function_in_duckdb_equals_the_parser_called_directly(built: dict) -> None:
    mismatches = []
    for row in built["python"]:
        file_name, row_number, _raw_kept, *values = row
        line = built["raw"][(file_name, row_number)]
        expected = list(parser.parse_row(line))
        if values != expected:
            mismatches.append((line, values, expected))
    assert mismatches == []


def test_corpus_exercises_both_paths_and_rejections(built: dict) -> None:
    errors = [row for row in built["python"] if row[-1] is not None]
    assert errors, "the corpus must contain rejected lines"
    assert len(errors) < len(built["python"]) // 2
    assert built["native_verdicts"] > 5_000, "the native SQL split must take most lines itself"
    assert built["native_verdicts"] < len(built["raw"]), "and leave the tricky ones to Python"
    fast = [_takes_fast_path(line) for line in built["raw"].values()]
    assert sum(fast) > 5_000, "most lines should have the common shape the native split takes"
    assert len(fast) - sum(fast) > 500, "and many should need the general parser"


def test_native_split_keeps_the_pinned_behaviours(built: dict) -> None:
    """What the corpus's hand-written lines must give, checked on the native build itself."""
    rows = {
        built["raw"][(r[0], r[1])]: dict(zip(parser.OUTPUT_COLUMNS, r[3:], strict=True))
        for r in built["native"]
    }
    assert [rows[line]["extra_fields"] for line in PINNED_LINES[:3]] == [
        "e1 e2", "e1 - e3 e4", "- -"
    ]  # fmt: skip
    empty = [rows[line]["parse_error"] for line in PINNED_LINES[3:17]]
    columns = [c for c in parser.CONTRACT_COLUMNS[9:15]] + ["turnaround_time_ms"]
    assert empty == [f"malformed record: {c} field is empty" for c in columns * 2]
    kinds = [rows[line]["requester_type"] for line in PINNED_LINES[17:]]
    assert kinds == ["canonical_user"] + ["other"] * 5
    assert rows[HOST_ID_LINES[0]]["host_id"] == "AKIAIOSFODNN7EXAMPLE aGk="
    assert rows[HOST_ID_LINES[0]]["tls_version"] == "TLSv1.2"
    assert rows[HOST_ID_LINES[6]]["host_id"] == "aGk="  # SigV5 after it: one token
    assert rows[HOST_ID_LINES[-3]]["extra_fields"] == "acl_required=Required"
