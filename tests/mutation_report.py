"""Print the result of `make mutation`: the score per mutated file and every surviving mutant.

mutmut keeps one result per mutant in `mutants/<file>.meta`; this reads them (run it from the
repository root after `mutmut run`). A mutant is *killed* when a test failed or timed out on it;
the score of a file is killed / (mutants tried). Survivors and mutants that no selected test
reaches are listed with the line they change, so each can be killed or explained
(docs/testing.md). Exit code 1 when there are no results.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from mutmut.configuration import config
from mutmut.mutation.diff_apply import get_diff_for_mutant
from mutmut.stats import status_by_exit_code

KILLED = {"killed", "timeout"}
NOT_KILLED = {"survived", "no tests", "suspicious", "segfault"}


def results(path: Path) -> dict[str, str]:
    """mutant name -> status, for one mutated source file ({} before a run)."""
    meta = Path("mutants") / f"{path}.meta"
    if not meta.exists():
        return {}
    codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
    return {name: status_by_exit_code[code] for name, code in codes.items()}


def changed_lines(name: str, path: Path) -> list[str]:
    """The lines a mutant removes (-) and adds (+), without the diff's headers."""
    diff = get_diff_for_mutant(name, path=path)
    return [
        line
        for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def main() -> int:
    paths = [Path(p) for p in config().only_mutate]
    total = Counter()
    for path in paths:
        statuses = results(path)
        counts = Counter(statuses.values())
        total.update(counts)
        tried = sum(n for status, n in counts.items() if status != "not checked")
        killed = sum(counts[s] for s in KILLED)
        score = f"{100 * killed / tried:.1f}%" if tried else "n/a"
        detail = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        print(f"{path}: score {score} ({killed} killed of {tried} tried; {detail or 'no results'})")
        if not tried:
            continue  # not part of this run (make mutation MUTANTS=...)
        for name, status in sorted(statuses.items(), key=lambda item: _natural(item[0])):
            if status in NOT_KILLED:
                print(f"  {status}: {name}")
                for line in changed_lines(name, path):
                    print(f"      {line}")
    tried = sum(n for status, n in total.items() if status != "not checked")
    killed = sum(total[s] for s in KILLED)
    if not tried:
        print("no results: run `make mutation` first")
        return 1
    if len(paths) > 1:
        print(f"all: score {100 * killed / tried:.1f}% ({killed} killed of {tried} tried)")
    if total["not checked"]:
        print(f"{total['not checked']} not checked (a run narrowed by MUTANTS, or cut short)")
    return 0


def _natural(name: str) -> tuple[str, int]:
    """Order x_f__mutmut_9 before x_f__mutmut_10."""
    stem, _, number = name.rpartition("_")
    return (stem, int(number)) if number.isdigit() else (name, 0)


if __name__ == "__main__":
    sys.exit(main())
