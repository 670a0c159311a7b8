"""Parser behaviours that survived `make mutation`: each test fails on a plausible regression
that the rest of the suite let through (docs/testing.md lists them).

They go through the public functions (`parse_line`, `parse_row`, `derive`, `requester_kind`,
`format_line`, `Rejection`), so that they hold however the parser is reorganised inside.
"""

from __future__ import annotations

import pytest

from bootstrap.parser import Rejection, derive, parse_line


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
