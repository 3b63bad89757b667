# Two commands do all the set-up on a fresh machine (Python 3.11, Node.js/npm, no Azure account):
#   make demo   the offline main job: the app's real handlers against the local Azure simulator and Azurite
#   make test   lint, format check, type check, and the whole test suite (CI runs this via .ci/run)

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck pytest bench setup clean

demo: setup
	$(BIN)/python -m tools.offline_run

test: setup lint typecheck pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy .

pytest: setup
	CHECKOV=$(CURDIR)/.venv-checkov/bin/checkov $(BIN)/python -m pytest

bench: setup
	$(BIN)/python -m bench

setup: $(VENV)/.installed .venv-checkov/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found; set PYTHON=...)"; exit 1; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

.venv-checkov/.installed: requirements-checkov.txt
	test -d .venv-checkov || $(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/python -m pip install --quiet -r requirements-checkov.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

clean:
	rm -rf $(VENV) .venv-checkov node_modules .mypy_cache .ruff_cache .pytest_cache .hypothesis
