# {% macro s3logs_parser_source() %}{% raw %}
"""The S3 server access log parser: the single source of parsing rules for every engine.

This file is used three ways, unchanged:
- imported by the `s3logs` CLI, the local loader and the DuckDB UDF (`bootstrap.duckdb_udf`);
- read by dbt as the macro `s3logs_parser_source()` (through the symlink
  `macros/s3logs_parser_source.sql`; the first and last lines are Jinja wrapped in Python
  comments), which becomes the body of the Snowflake UDTF, so that UDTF runs this very code;
- exercised by pytest, including `S3AccessLogParser.process` exactly as Snowflake calls it.

It therefore depends on the standard library only and must never contain the Jinja end-raw tag.

Format facts honoured here (AWS documents the fields; the traps come from parsers that got them
wrong): fields are space separated; the time is bracketed and contains a space; request-URI,
referer and user-agent are quoted and may contain spaces and *unescaped* double quotes; any field
may be `-` (quoted fields `"-"`); the oldest records end at the user-agent (17 fields) and AWS
appends new fields at the end, so everything after the user-agent is optional and anything past
the 27 known fields is kept verbatim in `extra_fields`.
"""

from __future__ import annotations

import codecs as _codecs
import datetime as _dt
import re as _re
from urllib.parse import unquote as _unquote

# Output columns, in order. Types are the contract's; see models/ for their documentation.
CONTRACT_COLUMNS: tuple[str, ...] = (
    "bucket_owner",
    "bucket",
    "requested_at",
    "remote_ip",
    "requester",
    "request_id",
    "operation",
    "key",
    "request_uri",
    "http_status",
    "error_code",
    "bytes_sent",
    "object_size",
    "total_time_ms",
    "turnaround_time_ms",
    "referer",
    "user_agent",
    "version_id",
    "host_id",
    "signature_version",
    "cipher_suite",
    "auth_type",
    "host_header",
    "tls_version",
    "access_point_arn",
    "acl_required",
    "source_region",
    "extra_fields",
)

DERIVED_COLUMNS: tuple[str, ...] = (
    "object_key",
    "http_method",
    "request_path",
    "request_query",
    "http_version",
    "requester_type",
    "requester_account_id",
    "operation_interface",
    "operation_verb",
    "operation_resource",
)

# SQL types of every column the UDTF / UDF returns, in order (parse_error last).
COLUMN_TYPES: dict[str, str] = {
    **{name: "varchar" for name in CONTRACT_COLUMNS + DERIVED_COLUMNS},
    "requested_at": "timestamp",
    "http_status": "integer",
    "bytes_sent": "bigint",
    "object_size": "bigint",
    "total_time_ms": "integer",
    "turnaround_time_ms": "integer",
    "acl_required": "boolean",
}
OUTPUT_COLUMNS: tuple[str, ...] = (*CONTRACT_COLUMNS, *DERIVED_COLUMNS, "parse_error")
COLUMN_TYPES["parse_error"] = "varchar"

MIN_FIELDS = 17  # the oldest record shape ends at the user-agent
KNOWN_FIELDS = 27  # fields 0-26; anything after goes to extra_fields

_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    )
}
_ACL = {"Yes": True, "No": False}
# Two-token host ids (see _host_id_tokens): what the fields after the host id look like.
_SIGNATURES = frozenset(("SigV2", "SigV4", "-"))
_AUTH_TYPES = frozenset(("AuthHeader", "QueryString", "-"))
_CIPHER = _re.compile(r"-|[A-Z0-9]+(?:[-_][A-Z0-9]+)+")
_INT_FIELDS = {9: "http_status", 11: "bytes_sent", 12: "object_size"}
_INT_FIELDS.update({13: "total_time_ms", 14: "turnaround_time_ms"})
_MAX_DIGITS = {9: 9, 11: 18, 12: 18, 13: 9, 14: 9}  # integer columns: 9 digits; bigint: 18
_NULL_TAIL = (None,) * (KNOWN_FIELDS - MIN_FIELDS + 1)  # fields 17-26 and extra_fields
_TIME_CACHE: dict[str, _dt.datetime] = {}
_MINUTE_CACHE: dict[str, _dt.datetime] = {}
_SECONDS = [_dt.timedelta(seconds=i) for i in range(60)]
# The minutes of +0000 stamps by their first 18 characters (`[dd/Mon/yyyy:HH:MM`), and the
# seconds by their text (`:00` .. `:59`): see _utc_time.
_UTC_MINUTES: dict[str, _dt.datetime] = {}
_SECOND_TEXT = {f":{i:02d}": _dt.timedelta(seconds=i) for i in range(60)}
_TIME_CACHE_MAX = 4096


class Rejection:
    """A line that cannot be parsed, with the reason a person can act on."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"Rejection({self.reason!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Rejection) and other.reason == self.reason

    __hash__ = None  # type: ignore[assignment]


class _Reject(Exception):
    """Internal: carries a rejection reason out of nested helpers."""


def parse_line(line: str) -> tuple | Rejection:
    """Parse one log line into the 28 contract values, or explain why it cannot be parsed.

    Never raises (whatever the input) and never returns empty strings: `-`, `"-"`, empty and
    absent fields are None. Timestamps are naive datetimes in UTC.
    """
    try:
        if not isinstance(line, str):
            return Rejection(f"not a text line ({type(line).__name__})")
        line = line.rstrip("\r\n")
        try:
            fast = _fast_row(line)
        except _Reject:
            fast = None  # the general parser decides, and words the reason
        return _parse_general(line) if fast is None else fast[:28]
    except _Reject as exc:
        return Rejection(str(exc))
    except Exception as exc:  # a bug must cost one line, never the batch
        return Rejection(f"internal parser error: {type(exc).__name__}: {exc}")


def _null(v: str) -> str | None:
    return None if v == "-" or not v else v


def _int(v: str, index: int) -> int | None:
    if v == "-" or not v:
        return None
    if not (v.isdigit() and v.isascii()):
        raise _Reject(f"{_INT_FIELDS[index]} {_clip(v)!r} is not a non-negative integer")
    if len(v) > _MAX_DIGITS[index]:  # must fit the SQL integer / bigint column
        raise _Reject(f"{_INT_FIELDS[index]} {_clip(v)!r} is out of range")
    return int(v)


def _clip(v: str, n: int = 40) -> str:
    return v if len(v) <= n else v[:n] + "…"


def _time(stamp: str) -> _dt.datetime:
    """`[06/Feb/2019:00:00:38 +0000]` (brackets included) to a naive UTC datetime.

    Lines cluster in time, so results are cached per second and, on a miss, per minute.
    """
    cached = _TIME_CACHE.get(stamp)
    if cached is not None:
        return cached
    s = stamp
    if (
        len(s) != 28
        or s[0] != "["
        or s[3] != "/"
        or s[7] != "/"
        or s[12] != ":"
        or s[15] != ":"
        or s[18] != ":"
        or s[21] != " "
        or s[27] != "]"
        or s[22] not in "+-"
        or not s[19:21].isdigit()
        or not s[19:21].isascii()
        or s[19:21] > "59"
    ):
        raise _Reject(_bad_time(stamp))
    minute_key = s[:19] + s[21:]
    minute = _MINUTE_CACHE.get(minute_key)
    if minute is None:
        try:
            digits = s[1:3] + s[8:12] + s[13:15] + s[16:18] + s[23:27]
            if not (digits.isdigit() and digits.isascii()) or s[23:25] > "23" or s[25:27] > "59":
                raise ValueError
            local = _dt.datetime(
                int(s[8:12]), _MONTHS[s[4:7]], int(s[1:3]), int(s[13:15]), int(s[16:18])
            )
            offset = _dt.timedelta(hours=int(s[23:25]), minutes=int(s[25:27]))
            minute = local - offset if s[22] == "+" else local + offset
        except (ValueError, KeyError, OverflowError):
            raise _Reject(_bad_time(stamp)) from None
        if len(_MINUTE_CACHE) >= _TIME_CACHE_MAX:
            _MINUTE_CACHE.clear()
        _MINUTE_CACHE[minute_key] = minute
    value = minute + _SECONDS[int(s[19:21])]
    if len(_TIME_CACHE) >= _TIME_CACHE_MAX:
        _TIME_CACHE.clear()
    # keyed by the whole stamp, and by its first half when the offset is +0000 (the fast
    # path looks that up without joining the two halves; the keys cannot collide)
    _TIME_CACHE[stamp] = value
    if s[22:] == "+0000]":
        _TIME_CACHE[s[:21]] = value
        if len(_UTC_MINUTES) >= _TIME_CACHE_MAX:
            _UTC_MINUTES.clear()
        _UTC_MINUTES[s[:18]] = minute
    return value


def _utc_time(first: str) -> _dt.datetime:
    """`_time(first + " +0000]")`, for the first half of a stamp whose offset is +0000
    (`[dd/Mon/yyyy:HH:MM:SS`), on a miss of the per-second cache.

    Most lines of a log object fall in a minute already seen: its datetime is looked up by the
    first 18 characters and the second added, no parsing. Only a key `_time` stored (a valid
    minute) and one of `:00` .. `:59` pass, so together they are a valid first half; anything
    else goes to `_time`, which validates it and caches the minute.
    """
    minute = _UTC_MINUTES.get(first[:18])
    second = _SECOND_TEXT.get(first[18:])
    if minute is None or second is None:
        return _time(first + " +0000]")
    value = minute + second
    if len(_TIME_CACHE) >= _TIME_CACHE_MAX:
        _TIME_CACHE.clear()
    _TIME_CACHE[first] = value
    return value


def _bad_time(stamp: str) -> str:
    return f"invalid time {_clip(stamp)!r}, expected [dd/Mon/yyyy:HH:MM:SS +hhmm]"


def _record(head: list[str], uri, mid: list[str], referer, agent, tail: list[str]) -> tuple:
    """Assemble and type the 28 values from the located pieces (all still raw strings)."""
    if tail:
        if _host_id_tokens(tail, 0) == 2:
            tail[1:3] = [tail[1] + " " + tail[2]]
        after_host = _tail_values(" ".join(tail[2:])) if len(tail) > 2 else _NULL_TAIL[2:]
        host = tail[1] if len(tail) > 1 else None
        tail = (_null(tail[0]), None if host is None else _null(host), *after_host)
    else:
        tail = _NULL_TAIL
    return (
        _null(head[0]),
        _null(head[1]),
        _time(head[2]),
        _null(head[3]),
        _null(head[4]),
        _null(head[5]),
        _null(head[6]),
        _null(head[7]),
        None if uri == "-" or not uri else uri,
        _int(mid[0], 9),
        _null(mid[1]),
        _int(mid[2], 11),
        _int(mid[3], 12),
        _int(mid[4], 13),
        _int(mid[5], 14),
        None if referer == "-" or not referer else referer,
        None if agent == "-" or not agent else agent,
        *tail,
    )


_NULLS = {"-": None, "": None}


def _host_id_tokens(tail: list[str], i: int) -> int:
    """How many space-separated tokens the host id of this record spans: 1, or 2.

    `tail` holds the fields after the user-agent, the version id at `i`. Some records
    written in 2019 hold a host id of two tokens (an access-key-id-like token, then the base64
    id), which shifts every later field by one. That shape is told by what follows: the token
    after the first host-id token is no signature version, the one after it is, and the fields
    after that line up as cipher suite, authentication type, host header and, when present,
    TLS version and access point ARN. A record of the usual shape whose signature version is
    `-` (or SigV2/SigV4) is therefore never joined. macros/parse_raw_lines.sql tests the same.
    """
    n = len(tail)
    if (
        n < i + 7
        or tail[i + 2] in _SIGNATURES
        or not tail[i + 2]
        or tail[i + 3] not in _SIGNATURES
        or tail[i + 1] in _NULLS
        or tail[i + 5] not in _AUTH_TYPES
        or ("." not in tail[i + 6] and ":" not in tail[i + 6])
        or _CIPHER.fullmatch(tail[i + 4]) is None
    ):
        return 1
    if n > i + 7 and tail[i + 7] != "-" and not tail[i + 7].startswith("TLSv"):
        return 1
    if n > i + 8 and tail[i + 8] != "-" and not tail[i + 8].startswith("arn:"):
        return 1
    return 2


def _unexpected(extra: str | None, column: str, value: str) -> str:
    """extra_fields with `column=value` appended: a value outside a typed field's vocabulary
    (AWS may extend it) leaves that column null and stays visible here."""
    note = f"{column}={value}"
    return note if extra is None else f"{extra} {note}"


def _tail_values(text: str) -> tuple:
    """Fields 19 onwards (signature version .. source region, then extra_fields), typed, from
    the text that follows the host id."""
    f = text.split(" ")
    if len(f) > 8:
        extra = " ".join(f[8:])
        extra = None if extra == "-" or not extra else extra
        f = [None if v == "-" or not v else v for v in f[:8]]
    else:
        f = [None if v == "-" or not v else v for v in f]
        f.extend(_NULL_TAIL[len(f) + 2 : 10])
        extra = None
    acl = f[6]
    if acl is not None:
        if acl in _ACL:
            f[6] = _ACL[acl]
        else:
            f[6], extra = None, _unexpected(extra, "acl_required", acl)
    f.append(extra)
    return tuple(f)


# Caches of what repeats across the lines of a log object: the fields after the host id, the
# requester's classification, the operation's parts (bounded: cleared when full, like _time's).
_TAILS: dict[str, tuple] = {}
_REQUESTERS: dict[str, tuple] = {}
_OPERATIONS: dict[str, tuple] = {}
_CACHE_MAX = 4096

# `-` and the numbers 0-9999 as text, to their values: statuses and milliseconds repeat, and a
# lookup costs less than validating and converting the digits (see _fast_row)
_SMALL_INTS = {"-": None, **{str(i): i for i in range(10_000)}}
_small_int = _SMALL_INTS.get
_NOT_SMALL = object()


def _digits(v: str, most: int) -> int:
    """`v` as a non-negative integer of at most `most` digits (what fits the SQL integer or
    bigint column), or _Reject: the general parser then decides, and words the reason."""
    if v.isdigit() and v.isascii() and len(v) <= most:
        return int(v)
    raise _Reject(v)


def _fast_row(line: str) -> tuple | None:
    """The common shape, contract and derived columns at once (OUTPUT_COLUMNS order, so
    parse_error last). None defers to `_parse_general`, then `derive`.

    It accepts only lines whose first four double quotes delimit a quoted request-URI and
    referer, followed by a space and the quote that opens the user-agent, which then ends at
    the line's last quote: `_parse_general`'s rules give the same split (the URI and referer
    hold no quote, so their first closing quote is the one), and the same result (property
    tests check that on fuzzed lines, and the conformance test on the whole corpus). The
    user-agent may hold quotes (1 in 100 lines in our synthetic corpus); most lines have
    exactly six. What repeats from line to line (the fields after the host id, requester,
    operation, time) is typed once and then looked up. `v != "-" and v or None` is the null
    rule inlined: `-` and `` become None.
    """
    p = line.split('"')
    if len(p) < 7 or p[4] != " ":
        return None
    h = p[0].split(" ")
    if len(h) != 10 or h[9]:
        return None
    # status, error code, bytes sent, object size, total time, turn-around time: between the
    # request-URI and the referer, each a space apart; `-` or ASCII digits that fit the column
    # (integer: 9, bigint: 18), the error code any ASCII but a space
    m = p[2].split(" ")
    if len(m) != 8 or m[0] or m[7]:
        return None
    _, status, error, sent, size, total, turn, _ = m
    if not error or not error.isascii():
        return None
    status = _small_int(status, _NOT_SMALL)
    if status is _NOT_SMALL:
        status = _digits(m[1], 9)
    if sent == "-":
        sent = None
    elif sent.isdigit() and sent.isascii() and len(sent) <= 18:
        sent = int(sent)
    else:
        return None
    if size == "-":
        size = None
    elif size.isdigit() and size.isascii() and len(size) <= 18:
        size = int(size)
    else:
        return None
    total = _small_int(total, _NOT_SMALL)
    if total is _NOT_SMALL:
        total = _digits(m[5], 9)
    turn = _small_int(turn, _NOT_SMALL)
    if turn is _NOT_SMALL:
        turn = _digits(m[6], 9)
    t = p[-1]
    if t:
        parts = t.split(" ", 3)
        if parts[0]:  # text glued to the closing quote of the user-agent
            return None
        if len(parts) == 4:
            host = parts[2]
            tail = _TAILS.get(parts[3])
            if tail is None:
                tail, host = _tail_after_host(parts[3], host, t)
        else:
            host = parts[2] if len(parts) == 3 else None
            tail = _NULL_TAIL[2:]
        version = parts[1]
        version = (version != "-" and version) or None
        host = (host != "-" and host) or None
    else:
        version = host = None
        tail = _NULL_TAIL[2:]
    # +0000 (as AWS writes it): looked up by the first half alone; a datetime is never false
    at = (
        (_TIME_CACHE.get(h[2]) or _utc_time(h[2])) if h[3] == "+0000]" else _time(h[2] + " " + h[3])
    )
    requester = h[5]
    kind = _REQUESTERS.get(requester) or _requester(requester)
    operation = h[7]
    op = _OPERATIONS.get(operation) or _operation(operation)
    v0, v1, _, _, v3, _, v5, _, key, _ = h
    if key == "-" or not key:
        key = object_key = None
    else:
        object_key = key if "%" not in key else _decode_key(key)
    uri = p[1]
    u = uri.split(" ")
    if len(u) == 3:  # METHOD TARGET VERSION, nearly always
        method, target, http = u
        path, sep, query = target.partition("?")
        method, path, http = method or None, path or None, http or None
        query = (sep and query) or None
    elif uri == "-" or not uri:
        uri = method = path = query = http = None
    else:
        method, path, query, http = _request_parts(u)
    referer = p[3]
    agent = p[5] if len(p) == 7 else '"'.join(p[5:-1])
    t19, t20, t21, t22, t23, t24, t25, t26, t27 = tail
    return (
        (v0 != "-" and v0) or None,
        (v1 != "-" and v1) or None,
        at,
        (v3 != "-" and v3) or None,
        kind[0],
        (v5 != "-" and v5) or None,
        op[0],
        key,
        uri,
        status,
        (error != "-" and error) or None,
        sent,
        size,
        total,
        turn,
        (referer != "-" and referer) or None,
        (agent != "-" and agent) or None,
        version,
        host,
        t19,
        t20,
        t21,
        t22,
        t23,
        t24,
        t25,
        t26,
        t27,
        object_key,
        method,
        path,
        query,
        http,
        kind[1],
        kind[2],
        op[1],
        op[2],
        op[3],
        None,
    )


def _request_parts(parts: list[str]) -> tuple:
    """(method, path, query, HTTP version) of a request-URI split at spaces: METHOD TARGET
    VERSION, where a target with raw spaces keeps them (the version is last)."""
    method, target, version = parts[0], None, None
    if len(parts) == 2:
        target = parts[1]
    elif len(parts) > 2:
        target = " ".join(parts[1:-1])
        version = parts[-1]
    path = query = None
    if target:
        path, sep, q = target.partition("?")
        query = q if sep and q else None
    return method or None, path or None, query, version or None


def _parse_fast(line: str) -> tuple | None:
    """The contract values of `_fast_row` (None when it defers): what the tests compare."""
    row = _fast_row(line)
    return None if row is None else row[:28]


def _tail_after_host(text: str, host: str, tail: str) -> tuple[tuple, str]:
    """(fields 19 onwards, host id) from the text after the host id's first token, on a
    cache miss. `tail` is all the text after the user-agent, for the two-token test."""
    first = text.partition(" ")[0]
    if first in _SIGNATURES:  # the usual shape: never a two-token host id, so cacheable
        values = _tail_values(text)
        if len(_TAILS) >= _CACHE_MAX:
            _TAILS.clear()
        _TAILS[text] = values
        return values, host
    if _host_id_tokens(tail.split(" "), 1) == 2:
        return _tail_values(text.partition(" ")[2]), host + " " + first
    return _tail_values(text), host


def _requester(requester: str) -> tuple:
    """(requester or None, requester_type, requester_account_id), cached."""
    value = None if requester == "-" or not requester else requester
    result = (value, *requester_kind(value))
    if len(_REQUESTERS) >= _CACHE_MAX:
        _REQUESTERS.clear()
    _REQUESTERS[requester] = result
    return result


def _operation(operation: str) -> tuple:
    """(operation or None, interface, verb, resource), cached."""
    value = None if operation == "-" or not operation else operation
    interface = verb = resource = None
    if value is not None:
        op = value.split(".", 2)
        interface = op[0] or None
        verb = op[1] if len(op) > 1 and op[1] else None
        resource = op[2] if len(op) > 2 and op[2] else None
    result = (value, interface, verb, resource)
    if len(_OPERATIONS) >= _CACHE_MAX:
        _OPERATIONS.clear()
    _OPERATIONS[operation] = result
    return result


def _decode_key(key: str) -> str:
    """`urllib.parse.unquote(key)` (UTF-8, invalid sequences replaced), in C for ASCII keys.

    An ASCII key with no backslash whose every `%` starts a two-digit hex escape is decoded
    by `codecs.escape_decode` after `%` becomes `\\x`, then as UTF-8 with replacement, exactly
    as unquote decodes its bytes (a property test checks the two agree). Anything else goes to
    unquote itself.
    """
    if "\\" not in key and key.isascii():
        try:  # an ASCII str is read as its bytes, with no copy
            raw = _escape_decode(key.replace("%", "\\x"))[0]
        except ValueError:  # a `%` without two hex digits (unquote keeps it)
            return _unquote(key)
        return raw.decode("utf-8", "replace")
    return _unquote(key)


_escape_decode = _codecs.escape_decode


def _parse_general(line: str) -> tuple | Rejection:
    """Every shape, including unescaped quotes inside quoted fields. Linear in the line length.

    Rules where a quote is ambiguous (documented in the README): the request-URI ends at the
    first quote followed by the six unquoted fields status..turn-around time; the user-agent
    ends at the last quote of the line (fields after it are never quoted); the referer ends at
    the first `" "` between them.
    """
    if not line.strip():
        return Rejection("empty line")
    head = line.split(" ", 2)
    if len(head) < 3 or head[2][:1] != "[":
        if "[" not in line:
            return Rejection("no bracketed time field")
        count = _count_fields(line)
        if count < MIN_FIELDS:
            return Rejection(f"{count} fields, at least {MIN_FIELDS} needed")
        return Rejection(
            "the bracketed time is not the third field (bucket owner or bucket missing?)"
        )
    close = head[2].find("]")
    if close < 0:
        return Rejection("no bracketed time field: '[' is never closed")
    stamp = head[2][: close + 1]
    after = head[2][close + 1 :]
    if not after.startswith(" "):
        return _too_few(line, "no field after the time")
    parts = after[1:].split(" ", 5)  # remote ip, requester, request id, operation, key, rest
    if len(parts) < 6:
        return _too_few(line, "line ends before the request-URI")
    uri, mid, rest = _take_uri(parts[5], line)
    if not rest:
        return _too_few(line, "line ends before the referer")
    referer, agent, tail = _take_referer_agent(rest, line)
    return _record([head[0], head[1], stamp, *parts[:5]], uri, mid, referer, agent, tail)


def _too_few(line: str, detail: str) -> Rejection:
    count = _count_fields(line)
    if count < MIN_FIELDS:
        return Rejection(f"{count} fields, at least {MIN_FIELDS} needed")
    return Rejection(f"malformed record: {detail}")


# status, error code, bytes sent, object size, total time, turn-around time: never quoted.
_MID = _re.compile(r"(-|[0-9]+) ([^ ]+) (-|[0-9]+) (-|[0-9]+) (-|[0-9]+) (-|[0-9]+)(?: |$)")


def _take_uri(rest: str, line: str) -> tuple[str, list[str], str]:
    """Split `"GET /k HTTP/1.1" 200 - 5 5 1 1 rest` into the URI, the six fields and the rest.

    Each candidate closing quote is tried once, and the text a failed try reads is bounded by
    the next space, so a hostile line costs linear time, not quadratic.
    """
    if rest[:1] != '"':
        uri, _, after = rest.partition(" ")
        m = _MID.match(after)
        if m is None:
            _diagnose_mid(after.split(" ", 6)[:6], line)
        return uri, list(m.groups()), after[m.end() :]
    start = 1
    first = rest.find('" ', start)
    while True:
        q = rest.find('" ', start)
        if q < 0:
            if first >= 0 and '"' not in rest[1:first]:
                # the URI is closed plainly, but what follows is not six valid fields
                _diagnose_mid(rest[first + 2 :].split(" ", 6)[:6], line)
            raise _Reject(_too_few(line, "request-URI quote is never closed").reason)
        m = _MID.match(rest, q + 2)
        if m is not None:
            return rest[1:q], list(m.groups()), rest[m.end() :]
        start = q + 1


def _diagnose_mid(tokens: list[str], line: str) -> None:
    """Raise the most specific reason why these are not status..turn-around time."""
    if len(tokens) < 6:
        raise _Reject(_too_few(line, "line ends before the referer").reason)
    for index, token in enumerate(tokens, 9):
        if not token:  # two spaces in a row: an empty field is no `-`, and no number
            raise _Reject(f"malformed record: {CONTRACT_COLUMNS[index]} field is empty")
        if index != 10:
            _int(token, index)
    raise _Reject("malformed record: status .. turn-around time fields are unreadable")


def _take_referer_agent(rest: str, line: str) -> tuple[str, str, list[str]]:
    """Split `"referer" "user agent" tail...` (either may be an unquoted `-`)."""
    last = rest.rfind('"')
    if rest[:1] == '"':
        if last <= 0:
            raise _Reject(_too_few(line, "referer quote is never closed").reason)
        split = rest.find('" "', 1, last)
        if split >= 0:
            return rest[1:split], rest[split + 3 : last], _tail(rest[last + 1 :], line)
        if last >= 3 and rest[last - 2 : last] == '" ':  # the last quote opens the user-agent
            raise _Reject(_too_few(line, "user-agent quote is never closed").reason)
        referer = rest[1:last]
        remainder = rest[last + 1 :]
        if not remainder.startswith(" "):
            raise _Reject(_too_few(line, "no user-agent after the referer").reason)
        if remainder[1:2] == '"':
            raise _Reject(_too_few(line, "user-agent quote is never closed").reason)
        agent, _, tail = remainder[1:].partition(" ")
        return referer, agent, _tail(" " + tail if tail else "", line)
    referer, _, rest = rest.partition(" ")
    if not rest:
        raise _Reject(_too_few(line, "no user-agent after the referer").reason)
    if rest[:1] == '"':
        if last <= len(referer) + 1:
            raise _Reject(_too_few(line, "user-agent quote is never closed").reason)
        return referer, rest[1 : last - len(referer) - 1], _tail(rest[last - len(referer) :], line)
    agent, _, tail = rest.partition(" ")
    return referer, agent, _tail(" " + tail if tail else "", line)


def _tail(text: str, line: str) -> list[str]:
    """Fields after the user-agent: `""` or ` f17 f18 ...`."""
    if not text:
        return []
    if text[0] != " ":
        raise _Reject(f"malformed record: text {_clip(text)!r} right after the user-agent quote")
    return text[1:].split(" ")


def _count_fields(line: str) -> int:
    """Count fields the way a reader would (quoted and bracketed fields count once)."""
    count = 0
    i = 0
    n = len(line)
    while i < n:
        while i < n and line[i] == " ":
            i += 1
        if i >= n:
            break
        count += 1
        if line[i] == '"':
            end = line.find('" ', i + 1)
            i = n if end < 0 else end + 1
        elif line[i] == "[":
            end = line.find("]", i)
            i = n if end < 0 else end + 1
        else:
            end = line.find(" ", i)
            i = n if end < 0 else end
    return count


def derive(record: tuple) -> tuple:
    """The derived columns (DERIVED_COLUMNS order) of a parsed record."""
    key = record[7]
    uri = record[8]
    request = (None,) * 4 if uri is None else _request_parts(uri.split(" "))
    requester = record[4]
    _, kind, account = _requester("-" if requester is None else requester)
    operation = record[6]
    _, interface, verb, resource = _operation("-" if operation is None else operation)
    return (
        _decode_key(key) if key is not None else None,
        *request,
        kind,
        account,
        interface,
        verb,
        resource,
    )


def requester_kind(requester: str | None) -> tuple[str, str | None]:
    """Classify a requester: (type, AWS account id or None).

    Types: anonymous, iam_user, assumed_role, federated_user, root, aws_service,
    canonical_user, other.
    """
    if requester is None:
        return "anonymous", None
    if requester.startswith("arn:"):
        parts = requester.split(":", 5)
        if len(parts) == 6:
            account = parts[4] if parts[4].isdigit() and parts[4].isascii() else None
            resource = parts[5]
            if resource == "root":
                return "root", account
            if resource.startswith("user/"):
                return "iam_user", account
            if resource.startswith("assumed-role/"):
                return "assumed_role", account
            if resource.startswith("federated-user/"):
                return "federated_user", account
            return "other", account
        return "other", None
    if requester.startswith("svc:") or requester.endswith(".amazonaws.com"):
        return "aws_service", None
    if len(requester) == 64 and all(c in "0123456789abcdef" for c in requester):
        return "canonical_user", None
    return "other", None


def parse_row(line: str) -> tuple:
    """One output row (OUTPUT_COLUMNS order) for any line: parsed, or nulls and parse_error."""
    if type(line) is str:
        try:
            row = _fast_row(line.rstrip("\r\n"))
        except _Reject:
            row = None  # the general parser decides, and words the reason
        except Exception as exc:  # a bug must cost one line, never the batch
            return _EMPTY_ROW + (f"internal parser error: {type(exc).__name__}: {exc}",)
        if row is not None:
            return row
    result = parse_line(line)
    if type(result) is Rejection:
        return _EMPTY_ROW + (result.reason,)
    try:
        return result + derive(result) + (None,)
    except Exception as exc:
        return _EMPTY_ROW + (f"internal parser error: {type(exc).__name__}: {exc}",)


_EMPTY_ROW = (None,) * (len(CONTRACT_COLUMNS) + len(DERIVED_COLUMNS))


def format_line(record: tuple, fields: int | None = None) -> str:
    """Write the 28 contract values back as a log line, the inverse of `parse_line`.

    `fields` is how many of fields 0-26 to write (17 for the oldest shape); by default as many
    as needed to keep every non-null value. extra_fields, when set, is appended verbatim.
    """
    values = list(record)
    if fields is None:
        fields = KNOWN_FIELDS
        while fields > MIN_FIELDS and values[fields - 1] is None and values[27] is None:
            fields -= 1
    at = values[2]
    out = []
    for i in range(fields):
        v = values[i]
        if i == 2:
            out.append(at.strftime("[%d/%b/%Y:%H:%M:%S +0000]"))
        elif i in (8, 15, 16):
            out.append('"-"' if v is None else f'"{v}"')
        elif i == 25:
            out.append("-" if v is None else ("Yes" if v else "No"))
        else:
            out.append("-" if v is None else str(v))
    if values[27] is not None:
        out.append(values[27])
    return " ".join(out)


class S3AccessLogParser:
    """Snowflake UDTF handler: one output row per input line (parsed, or nulls + parse_error).

    `process` returns that row in a list, which Snowflake iterates as it would a generator's
    rows; a generator costs more to create and resume, per line, than the list.
    """

    def process(self, line: str) -> list[tuple]:
        return [parse_row(line)]


# {% endraw %}{% endmacro %}
