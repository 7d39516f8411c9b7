# Two set-up commands on a fresh machine: `make run` (the whole system, locally) and `make test`.
# Each creates .venv and installs what it needs from the package registry first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)

.PHONY: run test drift lint typecheck unit bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m sandbox

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck
	TZ=UTC $(BIN)/pytest -n 2 -q

# The committed Mattermost contract against the published OpenAPI file beside this checkout (CI runs it).
drift: $(STAMP)
	TZ=UTC $(BIN)/pytest -q -rs -p no:cacheprovider tests/emulator/test_contract_drift.py

bench: $(STAMP)
	TZ=UTC $(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .local-stack .mypy_cache .ruff_cache .pytest_cache .hypothesis
