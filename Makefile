# Two entry points for a fresh machine: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test soak dist lint typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m plexsync_actors.testing.demo

test: $(STAMP)
	$(BIN)/ruff check plexsync_actors tests bench release plexsync.py
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

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

clean:
	rm -rf $(VENV) build dist *.egg-info
