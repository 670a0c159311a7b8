"""Golden tests for `bootstrap.parser`, one per edge case of the S3 server access log format.

Every line here is written by hand from AWS's documented field list (27 fields: bucket owner,
bucket, time, remote IP, requester, request ID, operation, key, request-URI, HTTP status, error
code, bytes sent, object size, total time, turn-around time, referer, user-agent, version id,
host id, signature version, cipher suite, authentication type, host header, TLS version, access
point ARN, aclRequired, source region), and every expectation is written by hand from that
documentation and the field contract in DESIGN.md, never by running the parser.
Each test compares the whole output (every column), so a field that shifts is always caught.
"""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest

from bootstrap.parser import (
    CONTRACT_COLUMNS,
    DERIVED_COLUMNS,
    OUTPUT_COLUMNS,
    Rejection,
    _parse_fast,
    _parse_general,
    _Reject,
    derive,
    parse_line,
    parse_row,
    requester_kind,
)

OWNER = "3f1c9a7e5b2d4c6a8e0f1b3d5c7a9e2f4b6d8c0a1e3f5b7d9c2a4e6f8b0d1c3a"
HOST_ID = "Wm9vYmFyYmF6cXV1eEV4YW1wbGVIb3N0SWQxMjM0NTY3ODkw+/AbCdEfGh="
AGENT = "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.79 exe/x86_64 command/s3.cp"

# The 27 documented fields of one record, as they appear in the log, in order.
FIELDS_27 = [
    OWNER,
    "acme-data-lake",
    "[14/Mar/2024:09:26:53 +0000]",
    "203.0.113.45",
    "arn:aws:iam::111122223333:user/carol",
    "9K2X7QW3ZP1M4N8B",
    "REST.GET.OBJECT",
    "reports/2024/q1%20summary.pdf",
    '"GET /reports/2024/q1%20summary.pdf?partNumber=1 HTTP/1.1"',
    "206",
    "-",
    "524288",
    "1048576",
    "87",
    "12",
    '"https://console.aws.amazon.com/s3/buckets/acme-data-lake"',
    f'"{AGENT}"',
    "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
    HOST_ID,
    "SigV4",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "AuthHeader",
    "acme-data-lake.s3.eu-west-1.amazonaws.com",
    "TLSv1.2",
    "arn:aws:s3:eu-west-1:111122223333:accesspoint/analytics-ap",
    "Yes",
    "eu-west-1",
]
LINE_27 = " ".join(FIELDS_27)

EXPECTED_27 = {
    "bucket_owner": OWNER,
    "bucket": "acme-data-lake",
    "requested_at": dt.datetime(2024, 3, 14, 9, 26, 53),
    "remote_ip": "203.0.113.45",
    "requester": "arn:aws:iam::111122223333:user/carol",
    "request_id": "9K2X7QW3ZP1M4N8B",
    "operation": "REST.GET.OBJECT",
    "key": "reports/2024/q1%20summary.pdf",
    "request_uri": "GET /reports/2024/q1%20summary.pdf?partNumber=1 HTTP/1.1",
    "http_status": 206,
    "error_code": None,
    "bytes_sent": 524288,
    "object_size": 1048576,
    "total_time_ms": 87,
    "turnaround_time_ms": 12,
    "referer": "https://console.aws.amazon.com/s3/buckets/acme-data-lake",
    "user_agent": AGENT,
    "version_id": "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
    "host_id": HOST_ID,
    "signature_version": "SigV4",
    "cipher_suite": "ECDHE-RSA-AES128-GCM-SHA256",
    "auth_type": "AuthHeader",
    "host_header": "acme-data-lake.s3.eu-west-1.amazonaws.com",
    "tls_version": "TLSv1.2",
    "access_point_arn": "arn:aws:s3:eu-west-1:111122223333:accesspoint/analytics-ap",
    "acl_required": True,
    "source_region": "eu-west-1",
    "extra_fields": None,
}
DERIVED_27 = {
    "object_key": "reports/2024/q1 summary.pdf",
    "http_method": "GET",
    "request_path": "/reports/2024/q1%20summary.pdf",
    "request_query": "partNumber=1",
    "http_version": "HTTP/1.1",
    "requester_type": "iam_user",
    "requester_account_id": "111122223333",
    "operation_interface": "REST",
    "operation_verb": "GET",
    "operation_resource": "OBJECT",
}
ROW_27 = {**EXPECTED_27, **DERIVED_27, "parse_error": None}


def with_fields(**changes: str) -> str:
    """LINE_27 with some fields (by contract column name) replaced by other raw text."""
    fields = list(FIELDS_27)
    for name, raw in changes.items():
        fields[CONTRACT_COLUMNS.index(name)] = raw
    return " ".join(fields)


def row(line: str) -> dict:
    """The full output row of `line` as {column: value}; checks the row's width first."""
    values = parse_row(line)
    assert len(values) == len(OUTPUT_COLUMNS)
    return dict(zip(OUTPUT_COLUMNS, values, strict=True))


def contract(line: str) -> dict:
    result = parse_line(line)
    assert not isinstance(result, Rejection), result
    assert len(result) == len(CONTRACT_COLUMNS)
    return dict(zip(CONTRACT_COLUMNS, result, strict=True))


def rejection_reason(line: str) -> str:
    """The reason `line` is rejected; also checks that its output row is all nulls + reason."""
    result = parse_line(line)
    assert isinstance(result, Rejection), f"expected a rejection, got {result!r}"
    assert result.reason
    assert row(line) == {**dict.fromkeys(OUTPUT_COLUMNS), "parse_error": result.reason}
    return result.reason


# --- record shapes --------------------------------------------------------------------------


def test_documented_27_field_record_parses_every_field():
    assert row(LINE_27) == ROW_27


def test_27_fields_without_unknown_trailing_fields_have_null_extra_fields():
    assert contract(LINE_27)["extra_fields"] is None


def test_oldest_17_field_record_ends_at_the_user_agent():
    line = " ".join(FIELDS_27[:17])
    assert line.endswith(f'"{AGENT}"')
    later = dict.fromkeys(CONTRACT_COLUMNS[17:])
    assert row(line) == {**ROW_27, **later}


@pytest.mark.parametrize("count", range(18, 27))
def test_records_with_18_to_26_fields_have_null_later_fields(count):
    line = " ".join(FIELDS_27[:count])
    later = dict.fromkeys(CONTRACT_COLUMNS[count:])
    assert row(line) == {**ROW_27, **later}


def test_26_field_record_ends_at_acl_required():
    line = " ".join(FIELDS_27[:26])
    assert contract(line) == {**EXPECTED_27, "source_region": None}


def test_unknown_trailing_fields_are_kept_verbatim_in_extra_fields():
    line = LINE_27 + " arn:aws:kms:eu-west-1:111122223333:key/1a2b S3Express -"
    assert row(line) == {
        **ROW_27,
        "extra_fields": "arn:aws:kms:eu-west-1:111122223333:key/1a2b S3Express -",
    }


@pytest.mark.parametrize(
    "extra", ["a b", "a b c", "a - b", "- -", "-  x", "f1 f2 f3 f4 f5 f6 f7 f8 f9 f10 f11 f12"]
)
def test_every_one_of_two_or_more_unknown_trailing_fields_is_kept_on_both_paths(extra):
    """AWS appends fields (it added one in 2026): two or more of them, all kept verbatim."""
    line = f"{LINE_27} {extra}"
    assert row(line) == {**ROW_27, "extra_fields": extra}
    fast = _parse_fast(line)
    assert fast is not None and fast[-1] == extra
    assert fast == _parse_general(line)
    general = with_fields(referer='"a "quoted" page"') + " " + extra
    with contextlib.suppress(_Reject):
        assert _parse_fast(general) is None
    assert row(general) == {**ROW_27, "referer": 'a "quoted" page', "extra_fields": extra}


def test_single_unknown_trailing_field_is_kept_in_extra_fields():
    assert row(LINE_27 + " future-value") == {**ROW_27, "extra_fields": "future-value"}


def test_dash_as_only_unknown_trailing_field_is_null_on_both_paths():
    """One unknown field `-`: null like any `-` field, and fast and general paths agree."""
    line = LINE_27 + " -"
    fast = _parse_fast(line)
    assert fast is None or fast == _parse_general(line)
    assert row(line) == ROW_27


def test_crlf_line_ending_is_not_part_of_the_last_field():
    assert row(LINE_27 + "\r\n") == ROW_27


# --- nulls ----------------------------------------------------------------------------------


def test_dash_and_quoted_dash_are_null_in_every_field():
    line = '- - [14/Mar/2024:09:26:53 +0000] - - - - - "-" - - - - - - "-" "-" - - - - - - - - - -'
    expected = {
        **dict.fromkeys(OUTPUT_COLUMNS),
        "requested_at": dt.datetime(2024, 3, 14, 9, 26, 53),
    }
    expected["requester_type"] = "anonymous"
    assert row(line) == expected


def test_dash_fields_are_null_not_empty_strings_in_service_delivery():
    """A lifecycle expiration: no remote IP, no request-URI, no client; dashes everywhere."""
    line = (
        f"{OWNER} acme-data-lake [14/Mar/2024:00:41:07 +0000] - svc:s3.amazonaws.com "
        "7QH2M1X9V0B3C4D5 S3.EXPIRE.OBJECT tmp/old.csv "
        '"-" - - - 2048 - - "-" "-" - ' + HOST_ID + " - - - - - - - -"
    )
    assert row(line) == {
        **dict.fromkeys(OUTPUT_COLUMNS),
        "bucket_owner": OWNER,
        "bucket": "acme-data-lake",
        "requested_at": dt.datetime(2024, 3, 14, 0, 41, 7),
        "requester": "svc:s3.amazonaws.com",
        "request_id": "7QH2M1X9V0B3C4D5",
        "operation": "S3.EXPIRE.OBJECT",
        "key": "tmp/old.csv",
        "object_size": 2048,
        "host_id": HOST_ID,
        "object_key": "tmp/old.csv",
        "requester_type": "aws_service",
        "operation_interface": "S3",
        "operation_verb": "EXPIRE",
        "operation_resource": "OBJECT",
    }


def test_empty_quoted_fields_are_null_not_empty_strings():
    line = with_fields(request_uri='""', referer='""', user_agent='""')
    expected = {**ROW_27, "request_uri": None, "referer": None, "user_agent": None}
    expected.update(http_method=None, request_path=None, request_query=None, http_version=None)
    assert row(line) == expected


def test_unquoted_dash_in_quoted_field_positions_is_null():
    line = with_fields(request_uri="-", referer="-", user_agent="-")
    expected = {**ROW_27, "request_uri": None, "referer": None, "user_agent": None}
    expected.update(http_method=None, request_path=None, request_query=None, http_version=None)
    assert row(line) == expected


# --- unescaped quotes in client-controlled fields -------------------------------------------


def test_unescaped_quotes_in_request_uri_stay_in_the_uri():
    uri = 'GET /reports/a"%20b?q=" HTTP/1.1'
    line = with_fields(request_uri=f'"{uri}"')
    assert row(line) == {
        **ROW_27,
        "request_uri": uri,
        "request_path": '/reports/a"%20b',
        "request_query": 'q="',
    }


def test_unescaped_quotes_in_referer_stay_in_the_referer():
    referer = 'https://app.example.com/"quoted"/page?x="1"'
    line = with_fields(referer=f'"{referer}"')
    assert row(line) == {**ROW_27, "referer": referer}


def test_unescaped_quote_in_user_agent_keeps_following_fields():
    agent = 'Mozilla/5.0 "Bot" (compatible; "x" 1.0) "'
    line = with_fields(user_agent=f'"{agent}"')
    assert row(line) == {**ROW_27, "user_agent": agent}


def test_user_agent_that_looks_like_log_syntax_keeps_following_fields():
    agent = 'curl/8.5.0" 200 - 1 2 3 4 "https://evil.example/" "spoofed'
    line = with_fields(user_agent=f'"{agent}"')
    assert row(line) == {**ROW_27, "user_agent": agent}


def test_user_agent_that_looks_like_log_syntax_in_oldest_shape():
    agent = 'x" 200 - 1 2 3 4 "-" "y" - - SigV4'
    line = " ".join([*FIELDS_27[:16], f'"{agent}"'])
    later = dict.fromkeys(CONTRACT_COLUMNS[17:])
    assert row(line) == {**ROW_27, **later, "user_agent": agent}


def test_user_agent_log_syntax_after_dash_referer():
    agent = 'evil" "-" 403 AccessDenied 0 0 1 1 "'
    line = with_fields(referer='"-"', user_agent=f'"{agent}"')
    assert row(line) == {**ROW_27, "referer": None, "user_agent": agent}


# --- remote IP, requester -------------------------------------------------------------------


def test_dash_remote_ip_is_null():
    assert row(with_fields(remote_ip="-")) == {**ROW_27, "remote_ip": None}


@pytest.mark.parametrize(
    "ip",
    ["2001:db8:85a3::8a2e:370:7334", "::1", "::ffff:192.0.2.128", "2600:1f18:4a3:6900::1f"],
)
def test_ipv6_remote_ip_is_kept_as_logged(ip):
    assert row(with_fields(remote_ip=ip)) == {**ROW_27, "remote_ip": ip}


def test_requester_arn_with_at_sign_is_an_assumed_role_of_its_account():
    arn = "arn:aws:sts::444455556666:assumed-role/DataEngineer/jane.doe@example.com"
    assert row(with_fields(requester=arn)) == {
        **ROW_27,
        "requester": arn,
        "requester_type": "assumed_role",
        "requester_account_id": "444455556666",
    }


def test_anonymous_requester_is_null_and_typed_anonymous():
    assert row(with_fields(requester="-")) == {
        **ROW_27,
        "requester": None,
        "requester_type": "anonymous",
        "requester_account_id": None,
    }


@pytest.mark.parametrize(
    ("requester", "expected"),
    [
        (None, ("anonymous", None)),
        ("arn:aws:iam::111122223333:user/carol", ("iam_user", "111122223333")),
        ("arn:aws:iam::111122223333:user/team/ops/bob@example.com", ("iam_user", "111122223333")),
        (
            "arn:aws:sts::111122223333:assumed-role/etl-runner/i-0abc123",
            ("assumed_role", "111122223333"),
        ),
        (
            "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0a1b/ops@example.com",
            ("assumed_role", "111122223333"),
        ),
        ("arn:aws:sts::111122223333:federated-user/alice", ("federated_user", "111122223333")),
        ("arn:aws:iam::111122223333:root", ("root", "111122223333")),
        ("arn:aws-cn:iam::111122223333:user/li", ("iam_user", "111122223333")),
        ("arn:aws-us-gov:iam::111122223333:root", ("root", "111122223333")),
        ("svc:s3.amazonaws.com", ("aws_service", None)),
        ("svc:logging.s3.amazonaws.com", ("aws_service", None)),
        ("delivery.logs.amazonaws.com", ("aws_service", None)),
        (OWNER, ("canonical_user", None)),
        ("arn:aws:iam::111122223333:role/NotAssumed", ("other", "111122223333")),
        ("arn:aws:iam::111122223333", ("other", None)),
        ("Anonymous", ("other", None)),
    ],
)
def test_requester_kind_classifies_every_requester_type(requester, expected):
    assert requester_kind(requester) == expected


@pytest.mark.parametrize(
    ("requester", "kind"),
    [
        (OWNER, "canonical_user"),  # exactly 64 lowercase hex digits
        (OWNER + "0", "other"),  # 65
        (OWNER + OWNER, "other"),  # 128
        (OWNER[:63], "other"),  # 63
        (OWNER.upper(), "other"),  # canonical ids are lowercase
        (OWNER[:63] + "g", "other"),  # not hex
    ],
)
def test_canonical_user_id_is_exactly_64_lowercase_hex_digits_on_both_paths(requester, kind):
    line = with_fields(requester=requester)
    expected = {**ROW_27, "requester": requester, "requester_type": kind}
    expected["requester_account_id"] = None
    assert requester_kind(requester) == (kind, None)
    assert row(line) == expected
    assert both_paths(line)["requester"] == requester
    general = with_fields(requester=requester, referer='"a "quoted" page"')
    assert row(general) == {**expected, "referer": 'a "quoted" page'}


# --- time -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stamp", "utc"),
    [
        ("[14/Mar/2024:09:26:53 +0000]", dt.datetime(2024, 3, 14, 9, 26, 53)),
        ("[14/Mar/2024:09:26:53 -0000]", dt.datetime(2024, 3, 14, 9, 26, 53)),
        ("[14/Mar/2024:09:26:53 +0530]", dt.datetime(2024, 3, 14, 3, 56, 53)),
        ("[14/Mar/2024:23:30:00 -0800]", dt.datetime(2024, 3, 15, 7, 30, 0)),
        ("[01/Jan/2024:02:00:00 +0530]", dt.datetime(2023, 12, 31, 20, 30, 0)),
        ("[31/Dec/2023:20:15:59 -0345]", dt.datetime(2024, 1, 1, 0, 0, 59)),
        ("[29/Feb/2024:23:59:59 -0100]", dt.datetime(2024, 3, 1, 0, 59, 59)),
        ("[01/Mar/2024:00:00:00 +0100]", dt.datetime(2024, 2, 29, 23, 0, 0)),
    ],
)
def test_time_with_any_offset_is_converted_to_naive_utc(stamp, utc):
    assert row(with_fields(requested_at=stamp)) == {**ROW_27, "requested_at": utc}


# --- operations -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "interface", "verb", "resource"),
    [
        ("REST.PUT.OBJECT_LOCK_CONFIGURATION", "REST", "PUT", "OBJECT_LOCK_CONFIGURATION"),
        ("REST.POST.MULTI_OBJECT_DELETE", "REST", "POST", "MULTI_OBJECT_DELETE"),
        ("BATCH.DELETE.OBJECT", "BATCH", "DELETE", "OBJECT"),
        ("S3.CREATE.DELETEMARKER", "S3", "CREATE", "DELETEMARKER"),
        ("S3.TRANSITION_SIA.OBJECT", "S3", "TRANSITION_SIA", "OBJECT"),
        # a dotted 4-part name: the resource keeps everything after the verb
        ("S3.CREATE.DELETEMARKER.VERSION", "S3", "CREATE", "DELETEMARKER.VERSION"),
        ("REST.PUT.BUCKET.OWNERSHIP_CONTROLS", "REST", "PUT", "BUCKET.OWNERSHIP_CONTROLS"),
        ("WEBSITE.GET.OBJECT", "WEBSITE", "GET", "OBJECT"),
    ],
)
def test_operation_is_split_into_interface_verb_and_resource(operation, interface, verb, resource):
    assert row(with_fields(operation=operation)) == {
        **ROW_27,
        "operation": operation,
        "operation_interface": interface,
        "operation_verb": verb,
        "operation_resource": resource,
    }


# --- keys -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("logged", "decoded"),
    [
        ("photos/a%20b.jpg", "photos/a b.jpg"),
        ("math/1%2B1%3D2.txt", "math/1+1=2.txt"),
        # URL-encoding (RFC 3986), not form encoding: a logged `+` is a plus sign
        ("plus/a+b.txt", "plus/a+b.txt"),
        ("%C3%A9v%C3%A9nement/%E6%97%A5%E6%9C%AC.csv", "événement/日本.csv"),
        ("q%3Fx%3D1%26y.txt", "q?x=1&y.txt"),
        ("literal?mark&amp.txt", "literal?mark&amp.txt"),
        ("%2525%2520twice", "%25%20twice"),  # decoded exactly once
        ("dir/", "dir/"),
        ("日本/データ.csv", "日本/データ.csv"),
        ("%22quoted%22%20%5Bkey%5D", '"quoted" [key]'),
    ],
)
def test_key_is_kept_as_logged_and_object_key_is_url_decoded(logged, decoded):
    assert row(with_fields(key=logged)) == {**ROW_27, "key": logged, "object_key": decoded}


def test_key_and_request_path_keep_their_own_encodings():
    line = with_fields(
        key="photos/a%2Bb%20c.jpg",
        request_uri='"PUT /photos/a+b%20c.jpg?x-id=PutObject HTTP/1.1"',
    )
    assert row(line) == {
        **ROW_27,
        "key": "photos/a%2Bb%20c.jpg",
        "request_uri": "PUT /photos/a+b%20c.jpg?x-id=PutObject HTTP/1.1",
        "object_key": "photos/a+b c.jpg",
        "http_method": "PUT",
        "request_path": "/photos/a+b%20c.jpg",
        "request_query": "x-id=PutObject",
    }


# --- derived HTTP columns -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "method", "path", "query", "version"),
    [
        ("GET /a/k?versionId=abc&x=1 HTTP/1.1", "GET", "/a/k", "versionId=abc&x=1", "HTTP/1.1"),
        ("GET /acme?list-type=2&prefix=a%2F HTTP/1.1", "GET", "/acme", "list-type=2&prefix=a%2F",
         "HTTP/1.1"),
        ("HEAD /k.txt HTTP/2.0", "HEAD", "/k.txt", None, "HTTP/2.0"),
        ("DELETE /k.txt? HTTP/1.1", "DELETE", "/k.txt", None, "HTTP/1.1"),
        ("GET /k.txt?a=1?b=2 HTTP/1.1", "GET", "/k.txt", "a=1?b=2", "HTTP/1.1"),
        ("POST /?delete HTTP/1.1", "POST", "/", "delete", "HTTP/1.1"),
        ("GET /k.txt", "GET", "/k.txt", None, None),
    ],
)  # fmt: skip
def test_request_uri_gives_method_path_query_and_version(uri, method, path, query, version):
    assert row(with_fields(request_uri=f'"{uri}"')) == {
        **ROW_27,
        "request_uri": uri,
        "http_method": method,
        "request_path": path,
        "request_query": query,
        "http_version": version,
    }


def test_request_uri_with_raw_spaces_still_gives_method_and_version():
    """Clients control the request line; a target with raw spaces still has a method first and
    an HTTP version last."""
    uri = 'GET /search?q="annual report" HTTP/1.1'
    assert row(with_fields(request_uri=f'"{uri}"')) == {
        **ROW_27,
        "request_uri": uri,
        "http_method": "GET",
        "request_path": "/search",
        "request_query": 'q="annual report"',
        "http_version": "HTTP/1.1",
    }


def test_derive_of_a_record_gives_the_documented_derived_columns():
    record = tuple(EXPECTED_27.values())
    assert dict(zip(DERIVED_COLUMNS, derive(record), strict=True)) == DERIVED_27


@pytest.mark.parametrize(("raw", "value"), [("Yes", True), ("-", None)])
def test_acl_required_yes_is_true_and_dash_is_null(raw, value):
    assert row(with_fields(acl_required=raw)) == {**ROW_27, "acl_required": value}


def test_acl_required_no_is_false():
    assert row(with_fields(acl_required="No")) == {**ROW_27, "acl_required": False}


def both_paths(line: str) -> dict:
    """The contract values of `line`, checked equal on the fast path and the general path."""
    fast = _parse_fast(line)
    assert fast is not None, "this line has the common shape the fast path takes"
    assert fast == _parse_general(line)
    return contract(line)


@pytest.mark.parametrize("raw", ["Maybe", "yes", "true", "1", "Required"])
def test_unexpected_acl_required_value_is_null_and_kept_in_extra_fields(raw):
    """AWS may write a value it has not documented yet: the record is kept, the value too."""
    line = with_fields(acl_required=raw)
    assert row(line) == {**ROW_27, "acl_required": None, "extra_fields": f"acl_required={raw}"}
    assert both_paths(line)["extra_fields"] == f"acl_required={raw}"


def test_unexpected_acl_required_value_comes_after_the_unknown_trailing_fields():
    line = with_fields(acl_required="Maybe") + " future-1 future-2"
    extra = "future-1 future-2 acl_required=Maybe"
    expected = {**ROW_27, "acl_required": None, "extra_fields": extra}
    assert row(line) == expected
    assert both_paths(line) == {k: expected[k] for k in CONTRACT_COLUMNS}


def test_unexpected_acl_required_value_on_the_general_path():
    line = with_fields(referer='"a "quoted" page"', acl_required="Maybe")
    with contextlib.suppress(_Reject):
        assert _parse_fast(line) is None
    assert row(line) == {
        **ROW_27,
        "referer": 'a "quoted" page',
        "acl_required": None,
        "extra_fields": "acl_required=Maybe",
    }


@pytest.mark.parametrize(
    ("column", "raw"),
    [
        ("signature_version", "SigV4A"),
        ("auth_type", "BearerToken"),
        ("tls_version", "TLSv1.4"),
        ("cipher_suite", "TLS_AEGIS_256_SHA512"),
    ],
)
def test_unknown_value_of_a_text_field_is_kept_as_logged(column, raw):
    """Fields typed as text take any value AWS may add to their vocabulary, as logged."""
    line = with_fields(**{column: raw})
    assert row(line) == {**ROW_27, column: raw}
    assert both_paths(line)[column] == raw


# --- host id in two tokens (records written in 2019) ----------------------------------------

KEY_ID = "AKIAIOSFODNN7EXAMPLE"


def two_token_host_id(count: int = 27, **changes: str) -> str:
    """A record of `count` fields whose host id is written as two tokens."""
    fields = list(FIELDS_27)
    for name, raw in changes.items():
        fields[CONTRACT_COLUMNS.index(name)] = raw
    fields = fields[:count]
    fields[18] = f"{KEY_ID} {fields[18]}"
    return " ".join(fields)


@pytest.mark.parametrize("count", [23, 24, 25, 26, 27])  # host header on
def test_host_id_of_two_tokens_is_kept_whole_and_later_fields_stay_in_place(count):
    line = two_token_host_id(count)
    later = dict.fromkeys(CONTRACT_COLUMNS[count:])
    expected = {**ROW_27, **later, "host_id": f"{KEY_ID} {HOST_ID}"}
    assert row(line) == expected
    assert both_paths(line) == {k: expected[k] for k in CONTRACT_COLUMNS}


@pytest.mark.parametrize(
    "changes",
    [
        {"signature_version": "SigV2", "tls_version": "-"},
        {"signature_version": "-", "cipher_suite": "-", "auth_type": "-"},
        {"cipher_suite": "TLS_AES_128_GCM_SHA256", "auth_type": "QueryString"},
        {"access_point_arn": "-", "acl_required": "-", "source_region": "-"},
        {"host_header": "[2001:db8::1]:443", "version_id": "-"},
    ],
)
def test_host_id_of_two_tokens_with_any_documented_tail_values(changes):
    line = two_token_host_id(**changes)
    values = {k: (None if v == "-" else v) for k, v in changes.items()}
    expected = {**ROW_27, **values, "host_id": f"{KEY_ID} {HOST_ID}"}
    assert row(line) == expected
    assert both_paths(line) == {k: expected[k] for k in CONTRACT_COLUMNS}


def test_host_id_of_two_tokens_with_unknown_trailing_fields_keeps_them():
    line = two_token_host_id() + " future-1"
    expected = {**ROW_27, "host_id": f"{KEY_ID} {HOST_ID}", "extra_fields": "future-1"}
    assert row(line) == expected
    assert both_paths(line) == {k: expected[k] for k in CONTRACT_COLUMNS}


def test_host_id_of_two_tokens_on_the_general_path():
    line = two_token_host_id(referer='"a "quoted" page"')
    with contextlib.suppress(_Reject):
        assert _parse_fast(line) is None
    assert row(line) == {**ROW_27, "referer": 'a "quoted" page', "host_id": f"{KEY_ID} {HOST_ID}"}


def test_host_id_followed_by_a_dash_signature_version_is_one_token():
    """The usual shape, unsigned: `-` after the host id is its signature version."""
    line = with_fields(signature_version="-", cipher_suite="-", auth_type="-")
    expected = {**ROW_27, "signature_version": None, "cipher_suite": None, "auth_type": None}
    assert row(line) == expected
    assert both_paths(line) == {k: expected[k] for k in CONTRACT_COLUMNS}


@pytest.mark.parametrize(
    "changes",
    [
        # an unknown signature version followed by a cipher suite: nothing shifted
        {"signature_version": "SigV5"},
        {"signature_version": "SigV5", "cipher_suite": "-"},
        # what follows a would-be second token does not line up as the later fields
        {"signature_version": "SigV5", "cipher_suite": "SigV4"},
        {"signature_version": "X", "cipher_suite": "-", "auth_type": "-", "host_header": "-"},
    ],
)
def test_a_token_that_is_no_signature_version_alone_does_not_join_the_host_id(changes):
    line = with_fields(**changes)
    values = {k: (None if v == "-" else v) for k, v in changes.items()}
    expected = {**ROW_27, **values}
    assert row(line) == expected
    assert both_paths(line) == {k: expected[k] for k in CONTRACT_COLUMNS}


def test_error_response_fields_are_typed():
    line = with_fields(http_status="403", error_code="AccessDenied", bytes_sent="243",
                       object_size="-", total_time_ms="3", turnaround_time_ms="-")  # fmt: skip
    assert row(line) == {
        **ROW_27,
        "http_status": 403,
        "error_code": "AccessDenied",
        "bytes_sent": 243,
        "object_size": None,
        "total_time_ms": 3,
        "turnaround_time_ms": None,
    }


# --- rejections -----------------------------------------------------------------------------


@pytest.mark.parametrize("line", ["", "   ", "\n", "\r\n", " \t "])
def test_empty_line_is_rejected_as_empty(line):
    assert rejection_reason(line) == "empty line"


def test_line_without_bracketed_time_is_rejected_for_it():
    reason = rejection_reason("this is not an S3 access log line at all")
    assert "no bracketed time field" in reason


def test_time_not_opened_by_a_bracket_is_rejected():
    line = with_fields(requested_at="(14/Mar/2024:09:26:53 +0000]")
    assert "bracketed time" in rejection_reason(line)


def test_time_bracket_never_closed_is_rejected_for_it():
    line = with_fields(requested_at="[14/Mar/2024:09:26:53 +0000").replace("]", "")
    reason = rejection_reason(line)
    assert "bracketed time" in reason
    assert "never closed" in reason


@pytest.mark.parametrize(
    ("count", "line"),
    [
        (8, " ".join(FIELDS_27[:8])),  # ends at the key
        (15, " ".join(FIELDS_27[:15])),  # ends at the turn-around time
        (16, " ".join(FIELDS_27[:16])),  # ends at the referer
        (9, " ".join(FIELDS_27[:9])),  # ends at the request-URI
    ],
)
def test_too_few_fields_is_rejected_with_the_field_count(count, line):
    assert rejection_reason(line) == f"{count} fields, at least 17 needed"


def test_time_in_the_wrong_position_is_not_reported_as_too_few_fields():
    """The bucket is missing, so the time is the second field, yet 26 fields are present."""
    line = " ".join([FIELDS_27[0], *FIELDS_27[2:]])
    reason = rejection_reason(line)
    assert "26 fields, at least 17 needed" not in reason
    assert "time" in reason


@pytest.mark.parametrize(
    "stamp",
    [
        "[14/Foo/2024:09:26:53 +0000]",  # no such month
        "[30/Feb/2024:09:26:53 +0000]",  # no such day
        "[14/Mar/2024:24:00:00 +0000]",  # no such hour
        "[14/Mar/2024:09:60:00 +0000]",  # no such minute
        "[14/Mar/2024:09:26:60 +0000]",  # no such second
        "[14/Mar/2024:09:26:53 *0000]",  # offset sign
        "[14-Mar-2024 09:26:53 +0000]",  # separators
        "[14/Mar/2024:09:26:53 +00:00]",  # offset with a colon
        "[14/mar/2024:09:26:53 +0000]",  # month names are capitalised
        "[١٤/Mar/2024:09:26:53 +0000]",  # non-ASCII digits
        "[14/Mar/2024:09:26:53 +0099]",  # offset minutes out of range
    ],
)
def test_invalid_time_is_rejected_as_invalid_time(stamp):
    reason = rejection_reason(with_fields(requested_at=stamp))
    assert "invalid time" in reason


def test_time_without_offset_is_rejected():
    line = with_fields(requested_at="[14/Mar/2024:09:26:53]")
    reason = rejection_reason(line)
    assert "time" in reason


@pytest.mark.parametrize(
    ("column", "raw"),
    [
        ("http_status", "2OO"),
        ("bytes_sent", "12k"),
        ("object_size", "-5"),
        ("total_time_ms", "1.5"),
        ("turnaround_time_ms", "0x1F"),
    ],
)
def test_non_integer_numeric_field_is_rejected_naming_the_field(column, raw):
    reason = rejection_reason(with_fields(**{column: raw}))
    assert column in reason


@pytest.mark.parametrize(
    ("column", "raw"),
    [
        ("http_status", "2147483648"),  # beyond a SQL integer
        ("total_time_ms", "99999999999"),
        ("turnaround_time_ms", "12345678901234"),
        ("bytes_sent", "99999999999999999999"),  # beyond a SQL bigint
        ("object_size", "18446744073709551616"),
    ],
)
def test_number_too_large_for_its_column_is_rejected_naming_the_field(column, raw):
    reason = rejection_reason(with_fields(**{column: raw}))
    assert column in reason


def test_largest_numbers_that_fit_their_columns_are_kept():
    line = with_fields(http_status="999", bytes_sent="999999999999999999",
                       object_size="100000000000000000", total_time_ms="999999999")  # fmt: skip
    assert row(line) == {
        **ROW_27,
        "http_status": 999,
        "bytes_sent": 999_999_999_999_999_999,
        "object_size": 100_000_000_000_000_000,
        "total_time_ms": 999_999_999,
    }


@pytest.mark.parametrize(
    "column",
    ["http_status", "error_code", "bytes_sent", "object_size", "total_time_ms",
     "turnaround_time_ms"],
)  # fmt: skip
@pytest.mark.parametrize("uri", ['"GET /reports/q1.pdf HTTP/1.1"', "-"])
def test_empty_status_bytes_or_time_field_is_rejected_naming_it(column, uri):
    """Two spaces in a row between the request-URI and the referer: an empty field is no `-`
    (null) and no number, so the line goes to quarantine saying which field is empty."""
    line = with_fields(request_uri=uri, **{column: ""})
    assert line.count("  ") == 1
    assert rejection_reason(line) == f"malformed record: {column} field is empty"


def test_request_uri_quote_never_closed_is_rejected_for_it():
    line = with_fields(request_uri='"GET /reports/q1.pdf HTTP/1.1')
    reason = rejection_reason(line)
    assert "request-URI" in reason
    assert "never closed" in reason


def test_user_agent_quote_never_closed_after_dash_referer_is_rejected_for_it():
    line = " ".join([*FIELDS_27[:15], "-", '"aws-cli/2.15.30 Python/3.11.8'])
    reason = rejection_reason(line)
    assert "user-agent" in reason
    assert "never closed" in reason


def test_user_agent_quote_never_closed_after_quoted_referer_is_rejected_for_it():
    line = " ".join([*FIELDS_27[:16], '"aws-cli/2.15.30 Python/3.11.8'])
    reason = rejection_reason(line)
    assert "user-agent" in reason
    assert "never closed" in reason


@pytest.mark.parametrize("value", [None, b"bytes line", 42])
def test_non_text_input_is_rejected_not_raised(value):
    result = parse_line(value)
    assert isinstance(result, Rejection)
    assert "not a text line" in result.reason


def test_fast_path_defers_on_a_line_it_does_not_handle():
    """Sanity for the other test files: the fast path takes quotes inside the user-agent only."""
    line = with_fields(referer='"a "quoted" page"')
    with contextlib.suppress(_Reject):  # a rejection also defers to the general path
        assert _parse_fast(line) is None
    assert contract(line)["referer"] == 'a "quoted" page'


@pytest.mark.parametrize("agent", ['"a "quoted" agent"', '"""', '"" "', '"x" "y" "z"', '"a" b" c"'])
def test_fast_path_takes_quotes_inside_the_user_agent_as_the_general_parser_does(agent):
    line = with_fields(user_agent=agent)
    fast = _parse_fast(line)
    assert fast is not None
    assert fast == _parse_general(line)
    assert contract(line)["user_agent"] == (agent[1:-1] or None)
