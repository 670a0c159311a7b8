"""Check a claim that a surviving parser mutant is equivalent: compare it with the real parser.

Usage, from the repository root after `mutmut run` has written `mutants/`:

    python tests/mutation_equivalence.py bootstrap.parser.x__fast_row__mutmut_12 [...]

For each mutant this runs the public functions of the mutated `bootstrap/parser.py` (`parse_row`,
`parse_line`, `derive`, `requester_kind`, `format_line`, the UDTF's `process`) and those of the
real file over one corpus, once with empty caches and once with warm ones, and prints
`same` or the first line whose output differs. The corpus is every line the tests write by hand
(golden tests), synthetic lines of every shape (plain, heavily escaped, malformed), and lines
drawn from the property tests' own strategies (any line, valid records, near-valid edits).
It also counts the lines the fast path (`_fast_row`) takes: a mutant that makes the fast path
give up more often is equivalent in output but slower, which the report says.

This is evidence, not proof: `same` means no difference on this corpus. Read the mutant's
diff as well (`mutmut show NAME`) before calling it equivalent (docs/testing.md).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.util
import os
import random
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def corpus(examples: int) -> list:
    """Lines to compare on: hand-written, synthetic, and drawn from the property strategies."""
    from hypothesis import HealthCheck, given, settings

    from bootstrap import synth

    golden = _load(REPO / "tests/python/test_parser_golden.py", "_golden")
    props = _load(REPO / "tests/python/test_parser_properties.py", "_props")
    fuzz = _load(REPO / "tests/python/test_parser_fuzz.py", "_fuzz")
    out: list[str] = []
    for module in (golden, props, fuzz):
        for value in vars(module).values():  # every string constant and list of them
            if isinstance(value, str) and "[" in value:
                out.append(value)
            elif isinstance(value, (list, tuple)):
                out += [v for v in value if isinstance(v, str)]
                out += [v[0] for v in value if isinstance(v, tuple) and v and isinstance(v[0], str)]
    out += _parametrized_lines(golden) + _parametrized_lines(fuzz)
    out += [None, 17, b"o b [14/Mar/2024:09:26:53 +0000] - - - - -", bytearray(b"x")]  # no text
    rng = random.Random(18)
    start = dt.datetime(2026, 3, 1)
    plain = [line for line, _ in synth.lines(rng, 4000, start, ["b1", "b-2.x"])]
    out += plain
    out += [line for line, _ in synth.escaped_lines(rng, 1500, start, ["b1"])]
    out += [synth.malformed(rng, line) for line in plain[:1500]]
    out += [line + "\r\n" for line in plain[:50]]
    out += [line.replace(" ", "  ", 3) for line in plain[:200]]  # empty fields
    strategies = (props.any_line, props.lines_from_records(), props.edited_lines())
    for strategy in strategies:

        @settings(
            max_examples=examples,
            database=None,
            derandomize=True,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(strategy)
        def collect(line):
            out.append(line)

        collect()
    return out


def _parametrized_lines(module) -> list[str]:
    """String arguments of the module's parametrized tests (their hand-written lines)."""
    lines = []
    for value in vars(module).values():
        for mark in getattr(value, "pytestmark", []):
            if mark.name != "parametrize":
                continue
            for case in mark.args[1]:
                values = getattr(case, "values", case)
                values = values if isinstance(values, (tuple, list)) else (values,)
                lines += [v for v in values if isinstance(v, str)]
    return lines


def outputs(parser, lines: list[str]) -> tuple[list[str], int]:
    """Everything a user sees for each line, as text, and how many lines the fast path took."""
    results = []
    fast = 0
    for line in lines:
        row = parser.parse_row(line)
        record = parser.parse_line(line)
        seen = [row, record, list(parser.S3AccessLogParser().process(line))]
        if not isinstance(record, parser.Rejection):
            seen += [parser.derive(record), parser.requester_kind(record[4])]
            seen += [parser.format_line(record), parser.format_line(record, 17)]
        # a _Reject (or a mutant's error) there: the general path decides
        with contextlib.suppress(Exception):
            fast += parser._fast_row(line.rstrip("\r\n")) is not None
        results.append(repr(seen))
    return results, fast


def main(names: list[str]) -> int:
    if not names:
        print(__doc__)
        return 2
    sys.path.insert(0, str(REPO / "mutants"))  # `bootstrap` is the mutated copy
    os.environ["MUTANT_UNDER_TEST"] = ""
    import bootstrap.parser as mutated

    assert Path(mutated.__file__).resolve().parent.parent == REPO / "mutants", mutated.__file__
    original = _load(REPO / "bootstrap/parser.py", "_original_parser")
    # the caches the tests empty before each test (one list, checked by test_mutation_config)
    caches = _load(REPO / "tests/python/conftest.py", "_conftest").PARSER_CACHES
    lines = corpus(int(os.environ.get("EQUIVALENCE_EXAMPLES", "3000")))
    expected = []
    for _ in range(2):  # cold caches, then warm
        result, expected_fast = outputs(original, lines)
        expected.append(result)
    print(f"corpus: {len(lines)} lines; fast path takes {expected_fast}")
    status = 0
    for name in names:
        os.environ["MUTANT_UNDER_TEST"] = name
        for cache in caches:
            getattr(mutated, cache).clear()
        verdict = "same"
        for run in range(2):
            try:
                got, fast = outputs(mutated, lines)
            except Exception as exc:  # a mutant that raises differs
                verdict, status = f"differs: raises {type(exc).__name__}: {exc}", 1
                break
            pairs = enumerate(zip(got, expected[run], strict=True))
            diff = next((i for i, (a, b) in pairs if a != b), None)
            if diff is not None:
                which = "cold" if run == 0 else "warm"
                verdict = (
                    f"differs ({which} caches) on {lines[diff]!r}:\n"
                    f"    mutant: {got[diff]}\n    real:   {expected[run][diff]}"
                )
                status = 1
                break
        if verdict == "same" and fast != expected_fast:
            verdict += f" (fast path takes {fast} lines, not {expected_fast})"
        print(f"{name}: {verdict}")
    os.environ["MUTANT_UNDER_TEST"] = ""
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
