# Two set-up commands on a fresh machine: `make run` (the whole system, locally) and `make test`.
# Each creates .venv and installs what it needs from the package registry first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)
# The browser tests (tests/browser) drive Debian's Chromium through Playwright; Playwright's own
# browser download is never used. Point CHROMIUM elsewhere to use another build.
CHROMIUM ?= /usr/bin/chromium

.PHONY: run test drift lint typecheck unit bench clean scan package chromium

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

# lint-imports: the layer contracts in pyproject.toml ([tool.importlinter]).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

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

# The package as users install it: wheel and sdist, then the wheel alone in fresh venvs with only
# the bot or only the admin extra (pip's cache keeps the second run quick).
WHEEL_CHECK := .venv-wheel
package: $(STAMP)
	rm -rf dist $(WHEEL_CHECK)-bot $(WHEEL_CHECK)-admin
	$(BIN)/python -m build --outdir dist . > /dev/null
	$(PYTHON) -m venv $(WHEEL_CHECK)-bot
	$(WHEEL_CHECK)-bot/bin/python -m pip install --quiet "$$(ls dist/*.whl)[bot]"
	$(WHEEL_CHECK)-bot/bin/jit-bot --help > /dev/null
	cd / && $(CURDIR)/$(WHEEL_CHECK)-bot/bin/python -c "$$WHEEL_BOT_PROBE"
	$(PYTHON) -m venv $(WHEEL_CHECK)-admin
	$(WHEEL_CHECK)-admin/bin/python -m pip install --quiet "$$(ls dist/*.whl)[admin]"
	$(WHEEL_CHECK)-admin/bin/jit-admin --help > /dev/null
	cd / && $(CURDIR)/$(WHEEL_CHECK)-admin/bin/python -c "$$WHEEL_ADMIN_PROBE"
	rm -rf $(WHEEL_CHECK)-bot $(WHEEL_CHECK)-admin
	@echo "package: wheel and sdist built; jit-bot and jit-admin run from fresh venvs"

# Outside the checkout: the server stack imports and the runbooks the bot posts from are installed.
define WHEEL_BOT_PROBE
import bot.app, bot.runtime
from bot.runbooks import default_runbooks_dir
names = sorted(p.name for p in default_runbooks_dir().glob("*.md"))
assert "01-monitoring-alarms.md" in names, names
print("installed runbooks:", names)
endef
export WHEEL_BOT_PROBE

# Every jit-admin command module imports with the admin extra alone.
define WHEEL_ADMIN_PROBE
import importlib, pkgutil, jitadmin
for module in pkgutil.iter_modules(jitadmin.__path__):
    importlib.import_module("jitadmin." + module.name)
endef
export WHEEL_ADMIN_PROBE

chromium:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && apt-get install -y -qq chromium fonts-noto-color-emoji && test -x $(CHROMIUM); \
	  else \
	    echo "Chromium is missing at $(CHROMIUM): sudo apt-get install -y chromium fonts-noto-color-emoji"; exit 1; \
	  fi; }

test: lint typecheck scan package chromium
	TZ=UTC JIT_CHROMIUM=$(CHROMIUM) $(BIN)/pytest -n 2 -q --cov --cov-report=term:skip-covered

# The committed Mattermost contract against the published OpenAPI file beside this checkout (CI runs it).
drift: $(STAMP)
	TZ=UTC $(BIN)/pytest -q -rs -p no:cacheprovider tests/emulator/test_contract_drift.py

bench: $(STAMP)
	TZ=UTC $(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) $(WHEEL_CHECK)-bot $(WHEEL_CHECK)-admin dist .local-stack .mypy_cache .ruff_cache .pytest_cache .hypothesis
