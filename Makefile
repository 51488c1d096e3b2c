# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ASSETS := src/apex_mediation/console/static/vendor/.built

.PHONY: install tools demo test serve lint typecheck services browser screenshots bench-auction bench-ingest bench-reports bench-console bench-ivt bench-backup clean

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is required"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

# The console's chart and htmx code, from the npm registry (console-assets/package-lock.json).
$(ASSETS): console-assets/package.json console-assets/package-lock.json scripts/build-assets.sh
	scripts/build-assets.sh
	@touch $(ASSETS)

install: $(STAMP) $(ASSETS)

# checkov scans the Terraform module (tests/deploy). It pins `packaging` below what the app's
# constraints require, so it lives in a venv of its own.
TOOLS := .venv-tools
CHECKOV := $(TOOLS)/bin/checkov
$(CHECKOV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --upgrade pip
	$(TOOLS)/bin/pip install --quiet "checkov==3.3.30"

tools: $(CHECKOV)

demo: install
	$(BIN)/apex demo $(if $(APEX_PORT),--port $(APEX_PORT))

serve: install
	$(BIN)/apex serve

# promtool runs the alert rules' unit tests (tests/deploy); Debian ships it in `prometheus`, whose
# server the install may start and enable: it is stopped and disabled, only promtool is wanted.
services:
	@scripts/ensure-services.sh
	@command -v promtool >/dev/null || { \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; } \
	    || { echo "promtool is needed for tests/deploy (apt-get install -y prometheus)"; exit 1; }; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends prometheus >/dev/null || exit 1; \
	  invoke-rc.d prometheus stop >/dev/null 2>&1; update-rc.d prometheus disable >/dev/null 2>&1; \
	  true; }

lint: install
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

browser:
	@scripts/ensure-browser.sh

test: install services browser tools
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/mypy
	$(BIN)/lint-imports
	@CHECKOV=$(CURDIR)/$(CHECKOV) $(BIN)/pytest; status=$$?; if [ $$status -eq 5 ]; then echo "pytest collected no tests: the suite is broken"; exit 1; fi; exit $$status

screenshots: install browser
	$(BIN)/python scripts/screenshots.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

bench-auction: install
	$(BIN)/python bench/auction.py

bench-ingest: install
	$(BIN)/python bench/ingest.py

bench-reports: install
	$(BIN)/python bench/reports.py

bench-console: install
	$(BIN)/python bench/console_pages.py

bench-backup: install
	$(BIN)/python bench/backup.py

# Detection on labelled traffic (fp_rate, givt_recall, sivt_recall), then the scoring's cost.
bench-ivt: install
	$(BIN)/python bench/ivt_scoring.py
	$(BIN)/python bench/ivt.py
