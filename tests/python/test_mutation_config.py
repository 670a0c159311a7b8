"""`make mutation` is configured to mutate what it claims, with tests that exist.

The mutation run itself is slow and stays out of `make test` (docs/testing.md); these checks
are cheap and catch the ways its configuration silently rots: a renamed test file or test, a
moved source file, a pin that drifts from constraints.txt, a report that miscounts.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import warnings
from pathlib import Path

import pytest
import tomllib
from mutmut import configuration

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def _report_module():
    spec = importlib.util.spec_from_file_location(
        "mutation_report", REPO / "tests/mutation_report.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def mutmut_config(monkeypatch):
    """mutmut's own reading of pyproject.toml, as `mutmut run` sees it from the repo root."""
    monkeypatch.chdir(REPO)
    configuration.reset_config()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a deprecated or misspelt key warns: fail on it
        cfg = configuration.config()
    yield cfg
    configuration.reset_config()


def test_mutmut_mutates_exactly_the_parser_and_the_loader(mutmut_config) -> None:
    assert mutmut_config.source_paths == [Path("bootstrap")]
    mutated = sorted(
        str(path.relative_to(REPO))
        for path in (REPO / "bootstrap").rglob("*.py")
        if mutmut_config.should_mutate(str(path.relative_to(REPO)))
    )
    assert mutated == ["bootstrap/loader.py", "bootstrap/parser.py"]


def test_selected_test_files_exist_and_cover_both_files(mutmut_config) -> None:
    selection = mutmut_config.pytest_add_cli_args_test_selection
    assert selection
    for test_file in selection:
        assert (REPO / test_file).is_file(), test_file
    imports = set()
    for test_file in selection:
        tree = ast.parse((REPO / test_file).read_text(encoding="utf-8"))
        imports |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert {"bootstrap.parser", "bootstrap.loader"} <= imports


def test_deselected_tests_exist(mutmut_config) -> None:
    deselected = [
        arg.split("=", 1)[1]
        for arg in mutmut_config.pytest_add_cli_args
        if arg.startswith("--deselect=")
    ]
    assert deselected
    for node_id in deselected:
        file_name, _, test_name = node_id.partition("::")
        tree = ast.parse((REPO / file_name).read_text(encoding="utf-8"))
        names = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        assert test_name in names, node_id


def test_mutmut_pin_matches_constraints() -> None:
    pins = [p for p in PYPROJECT["project"]["optional-dependencies"]["dev"] if "mutmut" in p]
    constraints = (REPO / "constraints.txt").read_text(encoding="utf-8").splitlines()
    assert len(pins) == 1 and pins[0].startswith("mutmut==")
    assert pins[0] in constraints


def test_make_mutation_runs_mutmut_then_the_report_and_is_not_part_of_make_test() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^mutation: \$\(STAMP\)\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert recipe, "no mutation target that installs .venv first"
    lines = [line.strip() for line in recipe.group(1).splitlines()]
    assert lines[0] == "rm -rf mutants"
    assert "mutmut run" in lines[1]
    assert lines[1].startswith("S3LOGS_HYPOTHESIS_PROFILE=mutation nice ")
    assert lines[2] == "$(BIN)/python tests/mutation_report.py"
    assert (REPO / "tests" / "mutation_report.py").is_file()
    test_recipe = re.search(r"^test: .*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert "mutmut" not in test_recipe.group(1)
    assert "mutants/" in (REPO / ".gitignore").read_text(encoding="utf-8").splitlines()


def test_every_parser_cache_is_emptied_before_each_test() -> None:
    """Every module-level dict the parser fills while parsing is one the autouse fixture
    empties: a cache it missed would hide mutants of the function behind it (docs/testing.md)."""
    import datetime as dt
    import random

    from conftest import PARSER_CACHES, clear_parser_caches

    from bootstrap import parser, synth

    def sizes() -> dict[str, int]:
        return {k: len(v) for k, v in vars(parser).items() if isinstance(v, dict)}

    clear_parser_caches()
    before = sizes()
    lines = synth.lines(random.Random(18), 200, dt.datetime(2026, 3, 1), ["b1", "b2"])
    for line, _ in lines:
        parser.parse_row(line)
        parser.derive(parser.parse_line(line))
    grown = {k for k, n in sizes().items() if n > before[k]}
    assert grown == set(PARSER_CACHES)
    clear_parser_caches()
    assert all(len(getattr(parser, name)) == 0 for name in PARSER_CACHES)


def _property_settings(monkeypatch, profile: str | None):
    """The Hypothesis settings the parser's property tests run with under `profile`."""
    if profile is None:
        monkeypatch.delenv("S3LOGS_HYPOTHESIS_PROFILE", raising=False)
    else:
        monkeypatch.setenv("S3LOGS_HYPOTHESIS_PROFILE", profile)
    path = REPO / "tests/python/test_parser_properties.py"
    spec = importlib.util.spec_from_file_location("parser_properties_profile", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SETTINGS


def test_mutation_profile_runs_fewer_property_examples_than_make_test(monkeypatch) -> None:
    thorough = _property_settings(monkeypatch, None)
    mutation = _property_settings(monkeypatch, "mutation")
    assert thorough.max_examples == 300
    assert 0 < mutation.max_examples < thorough.max_examples
    assert mutation.database is None  # no example carried over from one mutant to the next
    assert mutation.deadline is None and thorough.deadline is None
    assert mutation.suppress_health_check == thorough.suppress_health_check
    with pytest.raises(Exception, match="no-such-profile"):
        _property_settings(monkeypatch, "no-such-profile")


def test_report_scores_each_file_and_lists_what_survived(tmp_path, monkeypatch, capsys) -> None:
    mutation_report = _report_module()
    monkeypatch.chdir(REPO)
    configuration.reset_config()
    configuration.config()  # read the real configuration before leaving the repo
    monkeypatch.chdir(tmp_path)
    meta = tmp_path / "mutants" / "bootstrap"
    meta.mkdir(parents=True)
    codes = {  # 1: a test failed, 36: timeout, 0: survived, 33: no test reaches it
        "bootstrap.parser.x_f__mutmut_1": 1,
        "bootstrap.parser.x_f__mutmut_2": 36,
        "bootstrap.parser.x_f__mutmut_10": 0,
        "bootstrap.parser.x_g__mutmut_1": 33,
    }
    (meta / "parser.py.meta").write_text(json.dumps({"exit_code_by_key": codes}))
    shown = []
    monkeypatch.setattr(
        mutation_report, "changed_lines", lambda name, path: shown.append(name) or ["-a", "+b"]
    )
    assert mutation_report.main() == 0
    out = capsys.readouterr().out
    assert "bootstrap/parser.py: score 50.0% (2 killed of 4 tried;" in out
    assert "bootstrap/loader.py: score n/a" in out
    assert shown == ["bootstrap.parser.x_f__mutmut_10", "bootstrap.parser.x_g__mutmut_1"]
    assert "  survived: bootstrap.parser.x_f__mutmut_10\n      -a\n      +b" in out
    configuration.reset_config()


def test_report_without_results_says_so(tmp_path, monkeypatch, capsys) -> None:
    mutation_report = _report_module()
    monkeypatch.chdir(REPO)
    configuration.reset_config()
    configuration.config()
    monkeypatch.chdir(tmp_path)
    assert mutation_report.main() == 1
    assert "run `make mutation` first" in capsys.readouterr().out
    configuration.reset_config()
