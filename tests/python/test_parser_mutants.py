"""Parser behaviours that survived `make mutation`: each test fails on a plausible regression
that the rest of the suite let through (docs/testing.md lists them).

They go through the public functions (`parse_line`, `parse_row`, `derive`, `requester_kind`,
`format_line`, `Rejection`), so that they hold however the parser is reorganised inside.
"""

from __future__ import annotations

import datetime as dt

import pytest

from bootstrap import parser
from bootstrap.parser import (
    CONTRACT_COLUMNS,
    OUTPUT_COLUMNS,
    Rejection,
    derive,
    format_line,
    parse_line,
    parse_row,
    requester_kind,
)


def test_rejections_are_equal_exactly_when_their_reasons_are() -> None:
    assert Rejection("empty line") == Rejection("empty line")
    assert Rejection("empty line") != Rejection("no bracketed time field")
    assert Rejection("empty line") != "empty line"
    assert Rejection("x") != type("Fake", (), {"reason": "x"})()


def _with_uri(uri: str) -> str:
    return (
        "79a5 acme-web [02/Mar/2026:10:15:00 +0000] 192.0.2.1 - REQ1 REST.GET.OBJECT k "
        f'"{uri}" 200 - 5 5 1 1 "-" "curl/8.0" -'
    )


@pytest.mark.parametrize(
    ("uri", "path", "query"),
    [
        ("GET /a  b HTTP/1.1", "/a  b", None),  # two raw spaces stay two
        ("GET /a\tb?x=1 HTTP/1.1", "/a\tb", "x=1"),  # a tab is part of the target
        ("GET  /a HTTP/1.1", " /a", None),  # an empty token after the method is kept too
    ],
)
def test_request_target_keeps_its_raw_whitespace(uri: str, path: str, query) -> None:
    record = parse_line(_with_uri(uri))
    assert not isinstance(record, Rejection), record
    method, request_path, request_query, version = derive(record)[1:5]
    assert (method, request_path, request_query, version) == ("GET", path, query, "HTTP/1.1")


# --- the field count in a rejection (`N fields, at least 17 needed`) ---------------------------

# A record whose bucket owner and bucket are missing (a line cut at its start): 16 fields, the
# bracketed time counting as one.
_HEADLESS = (
    "[06/Feb/2019:00:00:38 +0000] 192.0.2.3 - 3E57427F3EXAMPLE REST.GET.VERSIONING - "
    '"GET /b?versioning HTTP/1.1" 200 - 113 - 7 - "-" "S3Console/0.4" -'
)


@pytest.mark.parametrize(
    ("line", "fields"),
    [
        (_HEADLESS, 16),  # starts with the bracket: the time is one field
        (_HEADLESS.replace('"-"', '""'), 16),  # an empty quoted referer is one field
        # the second half of a record broken in two: starts with the quoted request-URI
        ('"GET /k HTTP/1.1" 200 - 5 5 1 1 "" "curl/8.0" - [06/Feb/2019:00:00:38 +0000]', 11),
        # the time ends at its own `]`, not at one in the user-agent
        (_HEADLESS.replace('"S3Console/0.4"', '"S3Console/0.4 [en]"'), 16),
        # a record cut after the first of the six fields that follow the request-URI
        (_HEADLESS.split(" 113 ")[0].replace("[", "o b [", 1), 11),
    ],
)
def test_a_fragment_is_rejected_with_its_field_count(line: str, fields: int) -> None:
    assert parse_line(line) == Rejection(f"{fields} fields, at least 17 needed")
    assert parse_row(line)[-1] == f"{fields} fields, at least 17 needed"


# --- parse_row strips the line end and nothing else, as parse_line does ------------------------

_LINE_19 = (
    "79a5 acme-web [02/Mar/2026:10:15:00 +0000] 192.0.2.1 - REQ1 REST.GET.OBJECT k "
    '"GET /k HTTP/1.1" 200 - 5 5 1 1 "-" "curl/8.0" 3HL4kqtJ {}'
)


@pytest.mark.parametrize("host_id", ["aGk=X", "aGk=\t", "aGk= "])
@pytest.mark.parametrize("end", ["", "\n", "\r\n"])
def test_parse_row_keeps_the_last_field_whole(host_id: str, end: str) -> None:
    line = _LINE_19.format(host_id) + end
    expected = host_id.rstrip(" ") or None  # a trailing space ends the field, as everywhere
    row = parse_row(line)
    assert row[CONTRACT_COLUMNS.index("host_id")] == expected
    assert row[:28] == parse_line(line)


# --- a bug in the parser costs one line, never the batch ---------------------------------------


def test_an_error_in_the_fast_path_becomes_the_lines_parse_error(monkeypatch) -> None:
    def broken(line):
        raise ValueError("boom")

    monkeypatch.setattr(parser, "_fast_row", broken)
    line = _LINE_19.format("aGk=")
    assert parse_row(line) == (None,) * 38 + ("internal parser error: ValueError: boom",)
    assert parse_line(line) == Rejection("internal parser error: ValueError: boom")


def test_an_error_deriving_columns_becomes_the_lines_parse_error(monkeypatch) -> None:
    def broken(record):
        raise KeyError("boom")

    monkeypatch.setattr(parser, "derive", broken)
    line = _LINE_19.format("aGk=").replace("GET /k", 'GET /k"x')  # the general path's shape
    assert parse_row(line) == (None,) * 38 + ("internal parser error: KeyError: 'boom'",)


def test_text_glued_to_the_time_counts_as_a_field() -> None:
    """17 fields, one of them (`-`) glued to the time's `]`: enough fields, a malformed record."""
    line = (
        "79a5 acme-web [02/Mar/2026:10:15:00 +0000]- REQ1 REST.GET.OBJECT k "
        '"GET /k HTTP/1.1" 200 - 5 5 1 1 "-" "curl/8.0" -'
    )
    assert parse_line(line) == Rejection("malformed record: no field after the time")


# --- a value quoted in a rejection is clipped to 40 characters ---------------------------------


@pytest.mark.parametrize(
    ("digits", "quoted"), [(40, "9" * 40), (41, "9" * 40 + "…"), (60, "9" * 40 + "…")]
)
def test_a_long_value_in_a_rejection_is_clipped_to_40_characters(digits, quoted) -> None:
    line = _LINE_19.format("aGk=").replace(" 200 - 5 ", f" 200 - {'9' * digits} ")
    assert parse_line(line) == Rejection(f"bytes_sent {quoted!r} is out of range")


# --- input that is not text ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kind"), [(None, "NoneType"), (b"o b [x]", "bytes"), (17, "int")]
)
def test_input_that_is_not_text_is_rejected_naming_its_type(value, kind) -> None:
    assert parse_line(value) == Rejection(f"not a text line ({kind})")
    assert parse_row(value) == (None,) * 38 + (f"not a text line ({kind})",)


# --- the largest numbers that fit their column, on the general path ------------------------------


def test_numbers_of_9_and_18_digits_fit_their_columns_on_every_path() -> None:
    """integer columns take 9 digits, bigint 18; a quote in the request-URI sends the line to
    the general path, which must accept what the fast path accepts."""
    mid = " 200 - 123456789012345678 123456789012345678 999999999 999999999 "
    for uri in ("GET /k HTTP/1.1", 'GET /k"x HTTP/1.1'):
        line = (
            _LINE_19.format("aGk=").replace(" 200 - 5 5 1 1 ", mid).replace("GET /k HTTP/1.1", uri)
        )
        row = dict(zip(OUTPUT_COLUMNS, parse_row(line), strict=True))
        assert row["parse_error"] is None, row["parse_error"]
        assert (row["bytes_sent"], row["object_size"]) == (123456789012345678,) * 2
        assert (row["total_time_ms"], row["turnaround_time_ms"]) == (999999999,) * 2


# --- operations of two parts; bounded caches -----------------------------------------------------


def test_an_operation_of_two_parts_has_a_verb_and_no_resource() -> None:
    line = _LINE_19.format("aGk=").replace("REST.GET.OBJECT", "REST.GET")
    row = dict(zip(OUTPUT_COLUMNS, parse_row(line), strict=True))
    verb = (row["operation_interface"], row["operation_verb"], row["operation_resource"])
    assert verb == ("REST", "GET", None)


def test_every_cache_stays_within_its_bound(monkeypatch) -> None:
    monkeypatch.setattr(parser, "_CACHE_MAX", 3)
    monkeypatch.setattr(parser, "_TIME_CACHE_MAX", 3)
    for i in range(10):
        line = (
            f"79a5 acme-web [02/Mar/2026:10:{i:02d}:00 +0000] 192.0.2.1 user{i} REQ1 "
            f'REST.GET.OBJECT{i} k "GET /k HTTP/1.1" 200 - 5 5 1 1 "-" "curl/8.0" - aGk= '
            f"SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader b{i}.s3.amazonaws.com TLSv1.2 - Yes"
        )
        assert parse_row(line)[-1] is None
        caches = (parser._TAILS, parser._REQUESTERS, parser._OPERATIONS)
        assert all(len(cache) <= 3 for cache in caches)
        assert len(parser._MINUTE_CACHE) <= 3
        assert len(parser._UTC_MINUTES) <= 3
        # a +0000 stamp is stored under two keys after the size check: one over at most
        assert len(parser._TIME_CACHE) <= 3 + 1


# --- the reason given for each malformed shape of the general path ------------------------------

_HEAD = "79a5 acme-web [02/Mar/2026:10:15:00 +0000] 192.0.2.1 - REQ1 REST.GET.OBJECT"
# A request-URI holding an unescaped `" `: a reader counts it as four fields, so a record cut
# after it still has the 17 fields that make the parser say what is wrong, not count fields.
_CUT = _HEAD + ' k "GET /a" b c HTTP/1.1" 200 - 5 5 1 1'
# Bracketed text ends at its `]`, so a reader counts `[1][2]` as two fields.
_GLUED = "".join(f"[{i}]" for i in range(6))


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (_CUT, "malformed record: line ends before the referer"),
        (_CUT + ' "ref agent', "malformed record: referer quote is never closed"),
        (_CUT + ' "" "curl/8.0 -', "malformed record: user-agent quote is never closed"),
        (_CUT + ' - "curl/8.0 -', "malformed record: user-agent quote is never closed"),
        (_CUT + ' "ref"', "malformed record: no user-agent after the referer"),
        (_CUT + " -", "malformed record: no user-agent after the referer"),
        # an unquoted request-URI followed by three of the six fields
        (_HEAD + f" {_GLUED} - 200 - 5", "malformed record: line ends before the referer"),
        (
            _HEAD.split(" 192.")[0] + " " + _GLUED * 2 + "[12][13]",
            "malformed record: line ends before the request-URI",
        ),
        # 17 fields, but the bucket owner is missing and the version id is there
        (
            _HEAD.split(" ", 1)[1] + ' k "GET /k HTTP/1.1" 200 - 5 5 1 1 "-" "curl/8.0" -',
            "the bracketed time is not the third field (bucket owner or bucket missing?)",
        ),
        (_HEAD.replace("+0000]", "+0000"), "no bracketed time field: '[' is never closed"),
        # a request-URI that starts with a space: the six fields are read after its end
        (
            _HEAD + ' k " GET /k HTTP/1.1" x - 5 5 1 1 "-" "curl/8.0" -',
            "http_status 'x' is not a non-negative integer",
        ),
        # one that starts with a quote is never closed plainly
        (
            _HEAD + ' k ""GET /k" x - 5 5 1 1 "-" "curl/8.0" -',
            "malformed record: request-URI quote is never closed",
        ),
        (
            _HEAD + ' k "GET /k HTTP/1.1" 200 - 5 5 1 1 "-" "curl/8.0"x',
            "malformed record: text 'x' right after the user-agent quote",
        ),
    ],
)
def test_each_malformed_shape_is_rejected_with_its_reason(line: str, reason: str) -> None:
    assert parse_line(line) == Rejection(reason)
    assert parse_row(line)[-1] == reason


# --- referer and user-agent, each quoted or not, with and without the fields after ---------------


@pytest.mark.parametrize(
    ("ending", "expected"),
    [
        ('"ref" curl/8.0', ("ref", "curl/8.0", None, None)),
        ('"ref" curl/8.0 v1 aGk=', ("ref", "curl/8.0", "v1", "aGk=")),
        ('"" curl/8.0', (None, "curl/8.0", None, None)),
        ('- ""', (None, None, None, None)),
        ('- "" v1 aGk=', (None, None, "v1", "aGk=")),
        ('- "curl/8.0" v1 aGk=', (None, "curl/8.0", "v1", "aGk=")),
        ("- curl/8.0", (None, "curl/8.0", None, None)),
        ("- curl/8.0 v1 aGk=", (None, "curl/8.0", "v1", "aGk=")),
    ],
)
def test_referer_and_user_agent_of_every_quoting(ending: str, expected: tuple) -> None:
    line = _HEAD + ' k "GET /k HTTP/1.1" 200 - 5 5 1 1 ' + ending
    record = parse_line(line)
    assert not isinstance(record, Rejection), record
    assert record[15:19] == expected  # referer, user_agent, version_id, host_id
    assert parse_row(line)[:28] == record


def test_an_empty_quoted_request_uri_is_null_on_the_general_path() -> None:
    line = _HEAD + ' k "" 200 - 5 5 1 1 - "curl/8.0" -'  # an unquoted referer: general path
    record = parse_line(line)
    assert not isinstance(record, Rejection), record
    assert record[8:12] == (None, 200, None, 5)


@pytest.mark.parametrize(
    ("uri", "parts"),
    [
        ("GET /k", ("GET", "/k", None, None)),  # no HTTP version
        ("GET /k?", ("GET", "/k", None, None)),  # an empty query is null
        ("GET /k? HTTP/1.1", ("GET", "/k", None, "HTTP/1.1")),
    ],
)
def test_request_uri_of_two_or_three_parts(uri: str, parts: tuple) -> None:
    line = _HEAD + f' k "{uri}" 200 - 5 5 1 1 "-" "curl/8.0" -'
    row = dict(zip(OUTPUT_COLUMNS, parse_row(line), strict=True))
    assert (row["http_method"], row["request_path"], row["request_query"]) == parts[:3]
    assert row["http_version"] == parts[3]
    assert derive(parse_line(line))[1:5] == parts


# --- a host id of two tokens is joined only when every later field fits --------------------------

_TWO_TOKENS = [
    "AKIAIOSFODNN7EXAMPLE",
    "aGk=",
    "SigV4",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "AuthHeader",
    "b.s3.amazonaws.com",
    "TLSv1.2",
    "-",
    "Yes",
]


def _tail_with(index: int, value: str, length: int = 9) -> str:
    tokens = list(_TWO_TOKENS)
    tokens[index] = value
    return " ".join(tokens[:length])


@pytest.mark.parametrize(
    ("tail", "host_id"),
    [
        (" ".join(_TWO_TOKENS), "AKIAIOSFODNN7EXAMPLE aGk="),
        (" ".join(_TWO_TOKENS[:6]), "AKIAIOSFODNN7EXAMPLE aGk="),  # ends at the host header
        (" ".join(_TWO_TOKENS[:7]), "AKIAIOSFODNN7EXAMPLE aGk="),  # ends at the TLS version
        (_tail_with(3, "not-a-cipher"), "AKIAIOSFODNN7EXAMPLE"),
        (_tail_with(4, "Bogus"), "AKIAIOSFODNN7EXAMPLE"),  # no authentication type
        (_tail_with(0, "-"), None),  # a null first token
        (_tail_with(2, "SigV5"), "AKIAIOSFODNN7EXAMPLE"),  # no signature version after
        (_tail_with(1, ""), "AKIAIOSFODNN7EXAMPLE"),  # an empty second token
        (_tail_with(6, "Yes", 7), "AKIAIOSFODNN7EXAMPLE"),  # no TLS version, at the end
        (_tail_with(7, "Yes", 8), "AKIAIOSFODNN7EXAMPLE"),  # no access point ARN, at the end
    ],
)
def test_a_two_token_host_id_is_joined_only_when_the_fields_after_fit(tail, host_id) -> None:
    line = _HEAD + ' k "GET /k HTTP/1.1" 200 - 5 5 1 1 "-" "curl/8.0" v1 ' + tail
    general = line.replace("GET /k", 'GET /k"x')  # a quote in the URI: the general path
    for text in (line, general):
        row = dict(zip(OUTPUT_COLUMNS, parse_row(text), strict=True))
        assert row["parse_error"] is None, row["parse_error"]
        assert row["host_id"] == host_id
        assert parse_line(text)[18] == host_id


# --- times: every separator, sign and digit is checked --------------------------------------------

_STAMP = "02/Mar/2026:10:15:00 +0000"


@pytest.mark.parametrize(
    "stamp",
    [
        "02-Mar/2026:10:15:00 +0000",  # each separator in its place
        "02/Mar-2026:10:15:00 +0000",
        "02/Mar/2026-10:15:00 +0000",
        "02/Mar/2026:10-15:00 +0000",
        "02/Mar/2026:10:15-00 +0000",
        "02/Mar/2026:10:15:00 X0000",  # the offset's sign
        "02/Mar/2026:10:15:+0 +0000",  # a sign, a letter, a non-ASCII digit: `int` takes
        "02/Mar/2026:10:15:0a +0000",  # some of them, the format none
        "02/Mar/2026:10:15:4\u0660 +0000",
        "+2/Mar/2026:10:15:00 +0000",
        "02/Mar/+026:10:15:00 +0000",
        "02/Mar/2026:+1:15:00 +0000",
        "02/Mar/2026:10:+5:00 +0000",
        "02/Mar/2026:10:15:00 ++100",
        "02/Mar/2026:10:15:00 +2400",  # offsets up to 23 hours 59 minutes
        "02/Mar/2026:10:15:00 +0060",
    ],
)
def test_an_invalid_time_is_rejected(stamp: str) -> None:
    line = _HEAD.replace(_STAMP, stamp) + ' k "GET /k HTTP/1.1" 200 - 5 5 1 1 "-" "curl/8.0" -'
    reason = f"invalid time '[{stamp}]', expected [dd/Mon/yyyy:HH:MM:SS +hhmm]"
    assert parse_line(line) == Rejection(reason)
    assert parse_row(line)[-1] == reason


@pytest.mark.parametrize(
    ("offset", "utc"),
    [("+2359", dt.datetime(2026, 3, 1, 10, 16)), ("-1030", dt.datetime(2026, 3, 2, 20, 45))],
)
def test_the_largest_offsets_are_applied(offset: str, utc: dt.datetime) -> None:
    line = _HEAD.replace("+0000", offset) + ' k "GET /k HTTP/1.1" 200 - 5 5 1 1 "-" "curl/8.0" -'
    assert parse_line(line)[2] == utc
    assert parse_row(line)[2] == utc


def test_the_time_cache_holds_at_most_one_more_than_its_bound(monkeypatch) -> None:
    """Two seconds of each minute: a new minute stores two keys, a known one a single key."""
    monkeypatch.setattr(parser, "_TIME_CACHE_MAX", 3)
    for minute in range(6):
        for second in ("00", "01"):
            stamp = f"02/Mar/2026:10:{minute:02d}:{second} +0000"
            line = _HEAD.replace(_STAMP, stamp) + ' k "GET /k HTTP/1.1" 200 - 5 5 1 1 "-" "-"'
            assert parse_row(line)[-1] is None
            assert len(parser._TIME_CACHE) <= 3 + 1


# --- numbers one digit too long for their column, on the fast path ------------------------------


@pytest.mark.parametrize(
    ("mid", "reason"),
    [
        (" 200 - 1234567890123456789 5 1 1 ", "bytes_sent '1234567890123456789' is out of range"),
        (" 200 - 5 1234567890123456789 1 1 ", "object_size '1234567890123456789' is out of range"),
        (" 200 - 5 5 1234567890 1 ", "total_time_ms '1234567890' is out of range"),
        (" 200 - 5 5 1 1234567890 ", "turnaround_time_ms '1234567890' is out of range"),
    ],
)
def test_a_number_one_digit_too_long_is_out_of_range(mid: str, reason: str) -> None:
    line = _HEAD + ' k "GET /k HTTP/1.1" 200 - 5 5 1 1 "-" "curl/8.0" -'
    assert parse_row(line.replace(" 200 - 5 5 1 1 ", mid))[-1] == reason


def test_parse_row_keeps_the_raw_whitespace_of_the_request_target() -> None:
    line = _with_uri("GET /a  b\tc HTTP/1.1")
    row = dict(zip(OUTPUT_COLUMNS, parse_row(line), strict=True))
    assert (row["http_method"], row["request_path"], row["http_version"]) == (
        "GET",
        "/a  b\tc",
        "HTTP/1.1",
    )


# --- requester types ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requester", "kind"),
    [
        ("arn:aws:iam::123456789012:user/a:b", ("iam_user", "123456789012")),  # `:` in the name
        ("arn:aws:iam::abc:user/x", ("iam_user", None)),  # an account id is 12 digits
        ("arn:aws:iam::\u0661\u0662:user/x", ("iam_user", None)),  # ASCII digits
        ("svc:example", ("aws_service", None)),
        ("X" * 64, ("other", None)),  # a canonical user id is 64 lowercase hex digits
        ("0" * 63 + "X", ("other", None)),
        ("0" * 63 + "f", ("canonical_user", None)),
    ],
)
def test_requester_kind_of_edge_cases(requester: str, kind: tuple) -> None:
    assert requester_kind(requester) == kind


# --- format_line writes as many fields as the record needs -------------------------------------

_LINE_17 = _HEAD + ' k "GET /k HTTP/1.1" 200 - 5 5 1 1 "-" "-"'


@pytest.mark.parametrize(
    "line",
    [
        _LINE_17,  # the oldest shape, its user-agent null
        _LINE_17[: -len('"-"')] + '"curl/8.0" v1 aGk=',  # ends at the host id
        _LINE_17 + " v1",  # ends at the version id: 18 fields
        _LINE_17 + " - - - - - - - - - eu-west-1",  # the last known field set
        _LINE_17 + " - - - - - - - - - - x y",  # extra fields alone
    ],
)
def test_format_line_writes_the_fields_the_record_needs(line: str) -> None:
    record = parse_line(line)
    assert not isinstance(record, Rejection), record
    assert format_line(record) == line
