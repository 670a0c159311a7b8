"""Parser behaviours that survived `make mutation`: each test fails on a plausible regression
that the rest of the suite let through (docs/testing.md lists them).

They go through the public functions (`parse_line`, `parse_row`, `derive`, `requester_kind`,
`format_line`, `Rejection`), so that they hold however the parser is reorganised inside.
"""

from __future__ import annotations

from bootstrap.parser import Rejection


def test_rejections_are_equal_exactly_when_their_reasons_are() -> None:
    assert Rejection("empty line") == Rejection("empty line")
    assert Rejection("empty line") != Rejection("no bracketed time field")
    assert Rejection("empty line") != "empty line"
    assert Rejection("x") != type("Fake", (), {"reason": "x"})()
