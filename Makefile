# EchoNest — the two commands that matter are `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test test-nests test-quick test-all test-fuzz lint bench clean

# Idempotent: rebuilds the venv only when pyproject.toml changed, installs Debian's
# chromium (for the browser tests) only when it is missing.
install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@scripts/install_chromium.sh
	@touch $(STAMP)

run: install
	$(BIN)/python -m echonest.runner

test: install
	SKIP_SPOTIFY_PREFETCH=1 $(BIN)/python -m pytest -q

test-nests: install
	scripts/test_nests.sh

test-quick: install
	SKIP_SPOTIFY_PREFETCH=1 $(BIN)/python -m pytest -q test/test_nests.py

test-all: test

# Schemathesis against a real server from docs/openapi.yaml (bounded, ~3 min; not in `make test`).
test-fuzz: install
	SKIP_SPOTIFY_PREFETCH=1 $(BIN)/python -m pytest -q -m fuzz test/test_fuzz_api.py

lint: install
	$(BIN)/ruff check .

bench: install
	$(BIN)/python bench/bench_tick.py

clean:
	rm -rf $(VENV) .pytest_cache
