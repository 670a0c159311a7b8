# Every target creates .venv at the repo root and installs into it on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test bench lint install clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m bootstrap.demo

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m bootstrap.bench

lint: $(STAMP)
	$(BIN)/ruff check bootstrap tests
	$(BIN)/ruff format --check bootstrap tests
	$(BIN)/sqlfluff lint $(wildcard models analyses macros tests)

clean:
	rm -rf $(VENV) target logs data
