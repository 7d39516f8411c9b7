# Two set-up commands on a fresh machine: `make run` (the whole system, locally) and `make test`.
# Each creates .venv and installs what it needs from the package registry first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)
# The browser tests (tests/browser) drive Debian's Chromium through Playwright; Playwright's own
# browser download is never used. Point CHROMIUM elsewhere to use another build.
CHROMIUM ?= /usr/bin/chromium

.PHONY: run test lint typecheck unit bench clean chromium

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

chromium:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && apt-get install -y -qq chromium fonts-noto-color-emoji && test -x $(CHROMIUM); \
	  else \
	    echo "Chromium is missing at $(CHROMIUM): sudo apt-get install -y chromium fonts-noto-color-emoji"; exit 1; \
	  fi; }

test: lint typecheck chromium
	TZ=UTC JIT_CHROMIUM=$(CHROMIUM) $(BIN)/pytest -n 2 -q

bench: $(STAMP)
	TZ=UTC $(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .local-stack .mypy_cache .ruff_cache .pytest_cache .hypothesis
