"""The Snowflake UDTF handler, called exactly as Snowflake calls it.

Snowflake creates one handler instance per partition and calls `process(line)` once per input
row; each call returns an iterable of output tuples whose width and order are the UDTF's
declared `RETURNS TABLE` (OUTPUT_COLUMNS, typed by COLUMN_TYPES). A SQL NULL arrives as None.
The handler's module source is the UDTF body, so it must also run on its own, outside the
package, with the standard library only.
"""

from __future__ import annotations

import ast
import datetime as dt
import sys
from pathlib import Path

import pytest

from bootstrap import parser
from bootstrap.parser import COLUMN_TYPES, OUTPUT_COLUMNS, S3AccessLogParser

SOURCE = Path(parser.__file__)

OWNER = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
LINE = (
    f"{OWNER} finance-reports [02/Jan/2025:17:04:11 -0500] 198.51.100.7 "
    "arn:aws:sts::210987654321:assumed-role/Auditor/sam@example.org 5F6G7H8J9K0L1M2N "
    'REST.PUT.OBJECT 2025/ledger%2Bq4.xlsx "PUT /2025/ledger%2Bq4.xlsx HTTP/1.1" 200 - 0 '
    '88213 154 38 "-" "Boto3/1.34.69 Python/3.12.2" - aGVsbG8taG9zdC1pZA== SigV4 '
    "TLS_AES_128_GCM_SHA256 AuthHeader finance-reports.s3.us-east-2.amazonaws.com TLSv1.3 - - "
    "us-east-2"
)
EXPECTED_ROW = {
    "bucket_owner": OWNER,
    "bucket": "finance-reports",
    "requested_at": dt.datetime(2025, 1, 2, 22, 4, 11),
    "remote_ip": "198.51.100.7",
    "requester": "arn:aws:sts::210987654321:assumed-role/Auditor/sam@example.org",
    "request_id": "5F6G7H8J9K0L1M2N",
    "operation": "REST.PUT.OBJECT",
    "key": "2025/ledger%2Bq4.xlsx",
    "request_uri": "PUT /2025/ledger%2Bq4.xlsx HTTP/1.1",
    "http_status": 200,
    "error_code": None,
    "bytes_sent": 0,
    "object_size": 88213,
    "total_time_ms": 154,
    "turnaround_time_ms": 38,
    "referer": None,
    "user_agent": "Boto3/1.34.69 Python/3.12.2",
    "version_id": None,
    "host_id": "aGVsbG8taG9zdC1pZA==",
    "signature_version": "SigV4",
    "cipher_suite": "TLS_AES_128_GCM_SHA256",
    "auth_type": "AuthHeader",
    "host_header": "finance-reports.s3.us-east-2.amazonaws.com",
    "tls_version": "TLSv1.3",
    "access_point_arn": None,
    "acl_required": None,
    "source_region": "us-east-2",
    "extra_fields": None,
    "object_key": "2025/ledger+q4.xlsx",
    "http_method": "PUT",
    "request_path": "/2025/ledger%2Bq4.xlsx",
    "request_query": None,
    "http_version": "HTTP/1.1",
    "requester_type": "assumed_role",
    "requester_account_id": "210987654321",
    "operation_interface": "REST",
    "operation_verb": "PUT",
    "operation_resource": "OBJECT",
    "parse_error": None,
}

_PY_TYPES = {
    "varchar": str,
    "timestamp": dt.datetime,
    "integer": int,
    "bigint": int,
    "boolean": bool,
}


def call_like_snowflake(handler, line):
    """One `process` call: Snowflake iterates what it returns, each item one output row."""
    out = handler.process(line)
    rows = list(out)
    for r in rows:
        assert isinstance(r, tuple)
        assert len(r) == len(OUTPUT_COLUMNS)
    return rows


def test_declared_columns_and_types_line_up():
    assert tuple(COLUMN_TYPES) == OUTPUT_COLUMNS
    assert OUTPUT_COLUMNS[-1] == "parse_error"
    assert set(COLUMN_TYPES.values()) <= set(_PY_TYPES)


def test_process_returns_a_list_of_one_row_per_line():
    """A list, not a generator: Snowflake iterates either, and a generator costs more to
    create and resume than the row it holds (the bench measures the handler per line).

    Relied on, not shown by any stand-in: Snowflake's "Writing a UDTF in Python", section
    "Defining a process method" (https://docs.snowflake.com/en/developer-guide/udf/python/
    udf-python-tabular-functions), where `process` hands its output rows back as tuples,
    either yielded one by one or returned together in a list. Not run on a Snowflake
    account."""
    handler = S3AccessLogParser()
    assert type(handler.process(LINE)) is list
    rows = call_like_snowflake(handler, LINE)
    assert len(rows) == 1
    assert dict(zip(OUTPUT_COLUMNS, rows[0], strict=True)) == EXPECTED_ROW


def test_output_values_have_the_declared_sql_types():
    (row,) = call_like_snowflake(S3AccessLogParser(), LINE + " extra-1")
    for name, value in zip(OUTPUT_COLUMNS, row, strict=True):
        if value is not None:
            expected = _PY_TYPES[COLUMN_TYPES[name]]
            assert isinstance(value, expected), (name, value)
            if expected is int:
                assert not isinstance(value, bool), name


def test_rejected_line_gives_nulls_and_the_parse_error():
    (row,) = call_like_snowflake(S3AccessLogParser(), "not a log line")
    assert row[:-1] == (None,) * (len(OUTPUT_COLUMNS) - 1)
    assert row[-1] == "no bracketed time field"


@pytest.mark.parametrize("line", ["", "   "])
def test_empty_line_gives_nulls_and_the_parse_error(line):
    (row,) = call_like_snowflake(S3AccessLogParser(), line)
    assert row == (None,) * (len(OUTPUT_COLUMNS) - 1) + ("empty line",)


def test_sql_null_input_gives_one_row_with_a_parse_error():
    (row,) = call_like_snowflake(S3AccessLogParser(), None)
    assert row[:-1] == (None,) * (len(OUTPUT_COLUMNS) - 1)
    assert "not a text line" in row[-1]


def test_one_handler_instance_processes_a_whole_partition_in_order():
    handler = S3AccessLogParser()
    inputs = [LINE, None, "garbage", LINE.replace("-0500", "+0000"), ""]
    rows = [r for line in inputs for r in call_like_snowflake(handler, line)]
    assert len(rows) == len(inputs)
    assert [r[-1] is None for r in rows] == [True, False, False, True, False]
    assert rows[0][2] == dt.datetime(2025, 1, 2, 22, 4, 11)
    assert rows[3][2] == dt.datetime(2025, 1, 2, 17, 4, 11)


def test_parser_source_runs_standalone_as_the_udtf_body():
    """Snowflake gets the module source alone: exec it outside the package and call it."""
    namespace: dict = {"__name__": "s3logs_udtf"}
    exec(compile(SOURCE.read_text(encoding="utf-8"), "udtf_body.py", "exec"), namespace)
    handler = namespace["S3AccessLogParser"]()
    rows = list(handler.process(LINE))
    assert len(rows) == 1
    assert dict(zip(namespace["OUTPUT_COLUMNS"], rows[0], strict=True)) == EXPECTED_ROW


def test_parser_source_imports_only_the_standard_library():
    tree = ast.parse(SOURCE.read_text(encoding="utf-8"))
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative imports do not exist in a UDTF body"
            modules.add(node.module.split(".")[0])
    assert modules
    assert modules <= set(sys.stdlib_module_names) | {"__future__"}, modules


def test_parser_source_is_wrapped_for_jinja_and_never_ends_the_raw_block_early():
    lines = SOURCE.read_text(encoding="utf-8").rstrip("\n").split("\n")
    assert lines[0].startswith("#") and "{% raw %}" in lines[0]
    assert lines[-1].startswith("#") and "{% endraw %}" in lines[-1]
    body = "\n".join(lines[1:-1])
    assert "endraw" not in body


def test_host_id_of_two_tokens_reaches_the_warehouse_whole():
    """Records of 2019 with a two-token host id: every later column stays in place."""
    tail = LINE.split(" - aGVsbG8taG9zdC1pZA== ")[1]
    line = LINE.replace(" - aGVsbG8taG9zdC1pZA== ", " - AKIAIOSFODNN7EXAMPLE aGVsbG8taG9zdC1pZA== ")
    assert line != LINE and tail.startswith("SigV4 ")
    (row,) = call_like_snowflake(S3AccessLogParser(), line)
    expected = {**EXPECTED_ROW, "host_id": "AKIAIOSFODNN7EXAMPLE aGVsbG8taG9zdC1pZA=="}
    assert dict(zip(OUTPUT_COLUMNS, row, strict=True)) == expected


def test_unexpected_acl_required_value_keeps_the_row_and_the_value():
    line = LINE.replace("TLSv1.3 - - us-east-2", "TLSv1.3 - Maybe us-east-2 future-1")
    assert line != LINE
    (row,) = call_like_snowflake(S3AccessLogParser(), line)
    expected = {**EXPECTED_ROW, "extra_fields": "future-1 acl_required=Maybe"}
    assert dict(zip(OUTPUT_COLUMNS, row, strict=True)) == expected


def test_two_or_more_unknown_trailing_fields_all_reach_the_warehouse():
    (row,) = call_like_snowflake(S3AccessLogParser(), LINE + " future-1 - future-3")
    expected = {**EXPECTED_ROW, "extra_fields": "future-1 - future-3"}
    assert dict(zip(OUTPUT_COLUMNS, row, strict=True)) == expected


@pytest.mark.parametrize(
    ("fields", "column"),
    [("200 - 0  154 38", "object_size"), (" - 0 88213 154 38", "http_status")],
)
def test_empty_status_bytes_or_time_field_gives_the_parse_error_naming_it(fields, column):
    line = LINE.replace("200 - 0 88213 154 38", fields)
    assert line != LINE
    (row,) = call_like_snowflake(S3AccessLogParser(), line)
    assert row == (None,) * (len(OUTPUT_COLUMNS) - 1) + (
        f"malformed record: {column} field is empty",
    )


@pytest.mark.parametrize(
    ("requester", "kind"),
    [(OWNER, "canonical_user"), (OWNER + "f", "other"), (OWNER[:-1], "other")],
)
def test_canonical_user_is_exactly_64_lowercase_hex_digits(requester, kind):
    line = LINE.replace("arn:aws:sts::210987654321:assumed-role/Auditor/sam@example.org", requester)
    (row,) = call_like_snowflake(S3AccessLogParser(), line)
    assert dict(zip(OUTPUT_COLUMNS, row, strict=True)) == {
        **EXPECTED_ROW,
        "requester": requester,
        "requester_type": kind,
        "requester_account_id": None,
    }
