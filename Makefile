# Two commands set up everything on a fresh machine:
#   make demo   run the robot on its embedded defaults
#   make test   run the whole test suite (what CI runs)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_SCRIPT := dialogs/en-US/generic.yaml

.PHONY: setup test lint demo check

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

setup: $(BIN)/.installed

lint: setup
	$(BIN)/ruff check robot tests
	$(BIN)/mypy robot

check: setup
	$(BIN)/robot dialogs check dialogs

test: lint check
	$(BIN)/pytest

demo: check
	@for persona in dialogs/en-US/personas/*.txt; do \
		echo; echo "=== callee persona: $$(basename $$persona .txt)"; \
		$(BIN)/robot dialogs chat $(DEMO_SCRIPT) --var name=Alex < $$persona || exit 1; \
	done
