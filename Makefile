# Two set-up commands on a fresh machine: `make run` (the whole system, locally) and `make test`.
# Each creates .venv and installs what it needs from the package registry first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)

.PHONY: run test lint typecheck unit bench clean scan

# checkov pins boto3==1.35.49, packaging<24 and networkx<2.7; the dev extra needs newer ones (moto,
# cfn-lint, build), so the scanner lives in its own venv and never shares packages with the project.
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)

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

$(CHECKOV_STAMP):
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet 'checkov==$(CHECKOV_VERSION)'
	rm -f $(CHECKOV_VENV)/.installed-*
	touch $(CHECKOV_STAMP)

# The generated template must pass the IaC scanner; every skipped check carries its reason in the
# resource's Metadata (infra/template_builder.py). --skip-download: no network at test time.
scan: $(CHECKOV_STAMP)
	$(CHECKOV_VENV)/bin/checkov --file infra/template.yaml --framework cloudformation --compact --quiet --skip-download

test: lint typecheck scan
	TZ=UTC $(BIN)/pytest -n 2 -q

bench: $(STAMP)
	TZ=UTC $(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .local-stack .mypy_cache .ruff_cache .pytest_cache .hypothesis
