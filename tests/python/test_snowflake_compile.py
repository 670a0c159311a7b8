"""The Snowflake side of the dbt project, without a Snowflake account.

dbt compiles every model against fakesnow's server (a real dbt-snowflake connection over HTTP on
loopback), and the compiled SQL must parse as Snowflake SQL. The UDTF that parses on Snowflake
must carry bootstrap/parser.py itself as its body, and declare exactly the parser's columns.
What Snowflake alone can check (that it accepts the Python UDTF and runs it) is not verified
here; the handler is exercised as Snowflake calls it in test_udtf_handler.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from conftest import REPO, DbtProject, copy_project

from bootstrap import parser

PARSER_SOURCE = (REPO / "bootstrap" / "parser.py").read_text()
SQL_TYPES = {"timestamp": "timestamp_ntz"}


@pytest.fixture(scope="module")
def snowflake_project(
    tmp_path_factory: pytest.TempPathFactory, fakesnow_kwargs: dict[str, Any]
) -> DbtProject:
    project = copy_project(tmp_path_factory.mktemp("snowflake") / "project")
    project.env = {"S3LOGS_FAKESNOW_PORT": str(fakesnow_kwargs["port"])}
    return project


def _compile_inline(project: DbtProject, jinja: str) -> str:
    out = project.dbt("compile", "--target", "snowflake_fake", "--inline", jinja).stdout
    return out[out.index("Compiled inline node is:") + len("Compiled inline node is:") :]


def test_every_model_compiles_to_sql_snowflake_can_parse(snowflake_project: DbtProject) -> None:
    snowflake_project.dbt("compile", "--target", "snowflake_fake")
    compiled = sorted((snowflake_project.root / "target" / "compiled").rglob("*.sql"))
    models = [p for p in compiled if "/models/" in str(p)]
    assert {p.stem for p in models} >= {
        "stg_s3logs__raw_lines",
        "int_s3_access_logs__parsed",
        "s3_access_logs_v1",
        "s3_access_logs_v2",
        "s3_access_logs_quarantine",
        "s3_access_log_findings_v1",
        "int_s3_access_logs__hourly_activity",
    }
    # The detections are dbt Python models: compiled for Snowflake (their code with dbt's
    # Snowpark wrapper), they run only in Snowflake (fakesnow cannot), and on Snowpark's
    # local-testing session in tests/python/test_detections.py.
    python = {
        p.stem: p.read_text()
        for p in (snowflake_project.root / "target" / "compiled").rglob("*.py")
    }
    assert {name for name in python if name.startswith("detect_")} == {
        "detect_egress_anomaly",
        "detect_new_access_pattern",
        "detect_enumeration",
        "detect_destruction_tampering",
        "detect_weak_access",
    }
    for code in python.values():
        compile(code, "model", "exec")  # valid Python, wrapper included
        assert "def model(dbt, session)" in code and "meta_dict = " in code
    for path in compiled:
        sql = path.read_text()
        assert sqlglot.parse(sql, read="snowflake"), path
    parse_model = next(p for p in models if p.stem == "int_s3_access_logs__parsed").read_text()
    assert "s3logs_parse_access_log(src.raw)" in parse_model
    assert "string_split" not in parse_model  # the DuckDB native path stays on DuckDB


def test_udtf_body_is_the_parser_module_itself(snowflake_project: DbtProject) -> None:
    ddl = _compile_inline(snowflake_project, "{{ create_parser_udtf() }}")
    body = ddl[ddl.index("$$") + 2 : ddl.rindex("$$")]
    # The module's first and last lines are the Jinja that makes it a macro; the rest must be
    # reproduced verbatim, line for line.
    source_lines = PARSER_SOURCE.splitlines()
    assert source_lines[0].startswith("# {% macro s3logs_parser_source() %}{% raw %}")
    assert source_lines[-1] == "# {% endraw %}{% endmacro %}"
    body_lines = body.splitlines()
    start = body_lines.index(source_lines[1])
    assert body_lines[start : start + len(source_lines) - 2] == source_lines[1:-1]
    assert "$$" not in PARSER_SOURCE, "would end the UDTF body early"


def test_udtf_body_runs_as_the_parser(snowflake_project: DbtProject) -> None:
    ddl = _compile_inline(snowflake_project, "{{ create_parser_udtf() }}")
    namespace: dict = {"__name__": "udtf"}
    exec(compile(ddl[ddl.index("$$") + 2 : ddl.rindex("$$")], "udtf", "exec"), namespace)
    handler = namespace["S3AccessLogParser"]()
    lines = [
        'o b [06/Feb/2026:10:00:01 +0000] 192.0.2.3 - R REST.GET.OBJECT k "GET /b/k HTTP/1.1"'
        ' 200 - 5 5 1 1 "-" "ua" - H SigV4 C AuthHeader h TLSv1.3 - - -',
        "garbage",
        None,
    ]
    for line in lines:
        assert list(handler.process(line)) == [parser.parse_row(line)]


def test_udtf_declares_the_parser_columns_and_types(snowflake_project: DbtProject) -> None:
    ddl = _compile_inline(snowflake_project, "{{ create_parser_udtf() }}")
    returns = re.search(r"returns table \((.*?)\)\s*language python", ddl, re.S).group(1)
    declared = [tuple(part.split()) for part in returns.split(",")]
    expected = [
        (name, SQL_TYPES.get(parser.COLUMN_TYPES[name], parser.COLUMN_TYPES[name]))
        for name in parser.OUTPUT_COLUMNS
    ]
    assert declared == expected
    assert re.search(r"handler = 'S3AccessLogParser'", ddl)


def test_output_columns_macro_matches_the_parser() -> None:
    text = (REPO / "macros" / "parser_udtf.sql").read_text()
    pairs = re.findall(r'\("(\w+)", "(\w+)"\)', text)
    assert pairs == [(name, parser.COLUMN_TYPES[name]) for name in parser.OUTPUT_COLUMNS]


def test_macro_path_holds_the_parser_through_a_symlink() -> None:
    link = REPO / "macros" / "s3logs_parser_source.sql"
    assert link.is_symlink()
    assert Path(link.resolve()) == (REPO / "bootstrap" / "parser.py").resolve()


def test_string_literals_escape_backslashes_and_quotes_for_snowflake(
    snowflake_project: DbtProject,
) -> None:
    sql = _compile_inline(
        snowflake_project, "select '{{ dbt.escape_single_quotes(\"a\\\\b'c\") }}' as v"
    )
    statement = next(line for line in sql.splitlines() if line.strip())
    literal = sqlglot.parse_one(statement, read="snowflake").expressions[0].this
    assert literal.this == "a\\b'c"
