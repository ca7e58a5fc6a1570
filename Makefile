# Two commands set up everything on a fresh machine:
#   make demo   run the robot on its embedded defaults
#   make test   run the whole test suite (what CI runs)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_SCRIPT := dialogs/en-US/generic.yaml

# Debian packages: espeak-ng speaks Korean test audio for the Vosk tests; sip-tester is SIPp,
# the real SIP peer the call tests dial; kamailio is the registrar for the registration test;
# openssl makes the throwaway certificates for the SIP-over-TLS test; postgresql is the shared
# store's server: the tests start a throwaway one of their own (initdb + pg_ctl as the postgres
# user, in a temporary directory, on a free port; tests/postgres.py), never the system's;
# chromium and chromium-driver are the headless browser the console's browser tests drive
# (through Playwright, pointed at /usr/bin/chromium: Playwright's own download is never used),
# and fonts-wqy-zenhei lets it draw the pages' Chinese in the screenshots. A package counts as
# there only when it is installed: one removed with its config files left ("rc") is installed again.
APT_PACKAGES := espeak-ng sip-tester kamailio openssl postgresql chromium chromium-driver fonts-wqy-zenhei
HTMX_VERSION := 2.0.11

.PHONY: setup system-packages test lint demo chat-demo check bench console-assets vendor-mermaid screenshots

system-packages:
	@missing=""; for p in $(APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

setup: system-packages $(BIN)/.installed

lint: setup
	$(BIN)/ruff check robot tests
	$(BIN)/mypy robot

check: setup
	$(BIN)/robot dialogs check dialogs

test: lint check
	$(BIN)/pytest

# Speech engines, warning-to-dial and dial rate, calls at 1 to 48 at once, then floods and
# hostile input (about 43 minutes in all); writes bench/results/*.json and docs/benchmarks.md.
bench: setup
	$(BIN)/python bench/speech.py
	$(BIN)/python bench/dialer.py
	$(BIN)/python bench/calls.py --engine pocketsphinx --calls 1,4,16,32,48 --urgent 8
	$(BIN)/python bench/calls.py --engine vosk-ko --calls 1,4,16,32,48 --urgent 8
	$(BIN)/python bench/security.py
	$(BIN)/python bench/understanding/run.py
	$(BIN)/python bench/machine.py
	$(BIN)/python bench/report.py

# The main job on embedded defaults: the daemon, a call worker and simulated citizens on loopback.
demo: setup
	$(BIN)/robot demo

# The dialog script alone, in text, against the callee personas (no speech, no SIP).
chat-demo: check
	@for persona in dialogs/en-US/personas/*.txt; do \
		echo; echo "=== callee persona: $$(basename $$persona .txt)"; \
		$(BIN)/robot dialogs chat $(DEMO_SCRIPT) --var name=Alex < $$persona || exit 1; \
	done

# The README's screenshots of the console (queue, warning, dashboard, scripts), made by the browser
# tests in Debian's Chromium and written into docs/screenshots/ (a plain test run keeps them in its
# temporary directory, leaving the working tree as it was). Commit the new PNGs after looking at them.
screenshots: setup
	ROBOT_UPDATE_SCREENSHOTS=1 $(BIN)/pytest -q tests/console/test_browser.py tests/console/test_supervisor_in_browser.py

# The console's vendored script, from the npm package (committed: nothing is fetched when the
# robot is installed or run). Run on purpose to upgrade; then update robot/console/static/VENDORED.md.
console-assets:
	@tmp=$$(mktemp -d) && cd $$tmp && npm pack --silent htmx.org@$(HTMX_VERSION) >/dev/null && tar xzf htmx.org-$(HTMX_VERSION).tgz && \
		cp package/dist/htmx.min.js $(CURDIR)/robot/console/static/htmx.min.js && \
		cp package/LICENSE $(CURDIR)/robot/console/static/htmx.LICENSE && \
		sha256sum $(CURDIR)/robot/console/static/htmx.min.js && rm -rf $$tmp

# The scripts page draws each script's diagram with Mermaid, vendored from npm (its minified
# build and licence, committed under robot/console/static/vendor/): nothing comes from a CDN or
# is fetched at run time. Run this only to change the version; npm checks the package's integrity.
MERMAID_VERSION := 12.3.0
VENDOR_DIR := robot/console/static/vendor
vendor-mermaid:
	@work=$$(mktemp -d) && trap 'rm -rf "$$work"' EXIT && \
	cd "$$work" && npm pack --silent mermaid@$(MERMAID_VERSION) >/dev/null && \
	tar xzf mermaid-$(MERMAID_VERSION).tgz package/dist/mermaid.min.js package/LICENSE && \
	cd - >/dev/null && mkdir -p $(VENDOR_DIR) && \
	cp "$$work/package/dist/mermaid.min.js" $(VENDOR_DIR)/mermaid.min.js && \
	cp "$$work/package/LICENSE" $(VENDOR_DIR)/mermaid.LICENSE && \
	printf 'mermaid %s (npm), dist/mermaid.min.js sha256 %s\n' $(MERMAID_VERSION) \
		"$$(sha256sum $(VENDOR_DIR)/mermaid.min.js | cut -d' ' -f1)" > $(VENDOR_DIR)/mermaid.VERSION && \
	cat $(VENDOR_DIR)/mermaid.VERSION
