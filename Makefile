# Every target creates .venv at the repo root and installs into it on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test bench lint docs install clean mutation

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m bootstrap.demo

test: $(STAMP)
	$(BIN)/python -m pytest

# the docs site of the demo database (make demo first), served on http://localhost:8080
docs: $(STAMP)
	$(BIN)/dbt docs generate
	$(BIN)/dbt docs serve --port 8080

bench: $(STAMP)
	$(BIN)/python -m bootstrap.bench

# Mutation testing of bootstrap/parser.py and bootstrap/loader.py (slow, not part of `make test`;
# see docs/testing.md). Starts from scratch so no result is reused from older code or tests.
# MUTANTS narrows the run, e.g. make mutation MUTANTS='bootstrap.parser.*'
MUTATION_JOBS ?= 2
MUTANTS ?=
mutation: $(STAMP)
	rm -rf mutants
	S3LOGS_HYPOTHESIS_PROFILE=mutation nice -n 10 $(BIN)/mutmut run --max-children $(MUTATION_JOBS) $(MUTANTS)
	$(BIN)/python tests/mutation_report.py

lint: $(STAMP)
	$(BIN)/ruff check bootstrap tests
	$(BIN)/ruff format --check bootstrap tests
	$(BIN)/sqlfluff lint $(wildcard models analyses macros tests)

clean:
	rm -rf $(VENV) target logs data mutants
