# Every target creates .venv at the repo root and installs into it on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test bench lint docs install clean

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

lint: $(STAMP)
	$(BIN)/ruff check bootstrap tests
	$(BIN)/ruff format --check bootstrap tests
	$(BIN)/sqlfluff lint $(wildcard models analyses macros tests)

clean:
	rm -rf $(VENV) target logs data
