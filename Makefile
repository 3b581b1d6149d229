# Two entry points for a fresh machine: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test soak dist lint typecheck pytest bench clean chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m plexsync_actors.testing.demo

# The PlexSync page's browser test: Debian's chromium (no browser download) and the libraries
# Stash gives plugins, pinned in tests/ui/package-lock.json.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
UI_STAMP := tests/ui/node_modules/.installed

$(UI_STAMP): tests/ui/package-lock.json
	npm ci --prefix tests/ui --no-audit --no-fund --loglevel=error
	touch $(UI_STAMP)

chromium:
	@command -v chromium >/dev/null || { \
		echo "Installing Debian's chromium for the page's browser test"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium; }

test: $(STAMP) $(UI_STAMP) chromium
	$(BIN)/ruff check plexsync_actors tests bench release plexsync.py
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

# The chaos and fuzz tests, several times longer than in `make test`.
soak: $(STAMP)
	PLEXSYNC_SOAK=1 PLEXSYNC_FUZZ_EXAMPLES=5000 $(BIN)/python -m pytest -q tests/chaos

# The release: dist/PlexSync.zip (plugin + bundled dependencies) and dist/index.yaml.
dist: $(STAMP)
	$(BIN)/python release/build_dist.py

bench: $(STAMP)
	$(BIN)/python bench/hook_latency.py
	$(BIN)/python bench/e2e_latency.py
	$(BIN)/python bench/recovery.py
	$(BIN)/python bench/bucket_accuracy.py

clean:
	rm -rf $(VENV) build dist *.egg-info tests/ui/node_modules
