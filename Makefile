# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ASSETS := src/apex_mediation/console/static/vendor/.built

.PHONY: install demo test serve lint typecheck services browser screenshots bench-auction bench-ingest bench-reports bench-console bench-ivt clean

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

demo: install
	$(BIN)/apex demo $(if $(APEX_PORT),--port $(APEX_PORT))

serve: install
	$(BIN)/apex serve

services:
	@scripts/ensure-services.sh

lint: install
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

browser:
	@scripts/ensure-browser.sh

test: install services browser
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/mypy
	$(BIN)/lint-imports
	@$(BIN)/pytest; status=$$?; if [ $$status -eq 5 ]; then echo "pytest collected no tests: the suite is broken"; exit 1; fi; exit $$status

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

# Detection on labelled traffic (fp_rate, givt_recall, sivt_recall), then the scoring's cost.
bench-ivt: install
	$(BIN)/python bench/ivt_scoring.py
	$(BIN)/python bench/ivt.py
