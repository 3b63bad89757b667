# Two commands do all the set-up on a fresh machine (Python 3.11, Node.js/npm, no Azure account):
#   make demo   the offline main job: the app's real handlers against the local Azure simulator and Azurite
#   make test   lint, format check, type check, and the whole test suite (CI runs this via .ci/run)
#   make sandbox  the simulator and Azurite with the demo scene, for the operator CLI (Ctrl-C stops)
#   make infra-check  compile and lint infra/main.bicep with the Azure CLI's Bicep (exits 2, saying
#                 so, when az is not installed: nothing was checked); pull requests run the same

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

# Each set-up step prints a line when it starts, progress every few seconds, and its duration.
STEP = $(PYTHON) -m tools.setup_step

.PHONY: demo sandbox test lint typecheck pytest bench setup app-setup clean infra-check

# The demo and the sandbox need the app's virtualenv and Azurite, not the tests' checkov.
demo: app-setup
	$(BIN)/python -m tools.offline_run

sandbox: app-setup
	$(BIN)/python -m tools.sandbox

test: setup lint typecheck pytest

lint: app-setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: app-setup
	$(BIN)/mypy .

pytest: app-setup .venv-checkov/.installed
	CHECKOV=$(CURDIR)/.venv-checkov/bin/checkov $(BIN)/python -m pytest

# Standard library only, so any Python 3 will do (the pull request workflow runs it too).
infra-check:
	python3 scripts/infra_check.py

bench: app-setup
	$(BIN)/python -m bench

setup: app-setup .venv-checkov/.installed
	@echo "setup: everything in place (.venv, node_modules, .venv-checkov)"

app-setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found; set PYTHON=...)"; exit 1; }
	@test -d $(VENV) || $(STEP) "create the virtualenv $(VENV)" -- $(PYTHON) -m venv $(VENV)
	@$(STEP) "upgrade pip in $(VENV)" -- $(BIN)/python -m pip install --progress-bar off --upgrade pip
	@$(STEP) "install the app's and the tools' packages (requirements-dev.txt) into $(VENV)" -- \
		$(BIN)/python -m pip install --progress-bar off -r requirements-dev.txt
	@touch $@

.venv-checkov/.installed: requirements-checkov.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found; set PYTHON=...)"; exit 1; }
	@test -d .venv-checkov || $(STEP) "create the virtualenv .venv-checkov (checkov, for the infra tests only)" -- $(PYTHON) -m venv .venv-checkov
	@$(STEP) "install checkov (requirements-checkov.txt) into .venv-checkov" -- \
		.venv-checkov/bin/python -m pip install --progress-bar off -r requirements-checkov.txt
	@touch $@

node_modules/.installed: package.json package-lock.json
	@$(STEP) "install Azurite (npm ci, from package-lock.json)" -- npm ci --no-audit --no-fund --loglevel=error
	@touch $@

clean:
	rm -rf $(VENV) .venv-checkov node_modules .mypy_cache .ruff_cache .pytest_cache .hypothesis
