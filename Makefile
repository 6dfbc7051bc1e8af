# EchoNest — the two commands that matter are `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: install install-test run test test-faults test-nests test-quick test-all lint bench clean

# Idempotent: rebuilds the venv only when pyproject.toml changed. `install` is what running
# needs; `install-test` adds the test tools and Debian's chromium (browser tests) when missing.
install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	@touch $(STAMP)

install-test: $(TEST_STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@scripts/install_chromium.sh
	@touch $(TEST_STAMP)

run: install
	$(BIN)/python -m echonest.runner

test: install-test
	SKIP_SPOTIFY_PREFETCH=1 $(BIN)/python -m pytest -q

# Kills, restarts and bursts against real processes (test/faults, marker `faults`); minutes.
test-faults: install-test
	SKIP_SPOTIFY_PREFETCH=1 $(BIN)/python -m pytest -q -m faults test/faults

test-nests: install-test
	scripts/test_nests.sh

test-quick: install-test
	SKIP_SPOTIFY_PREFETCH=1 $(BIN)/python -m pytest -q test/test_nests.py

test-all: test

lint: install-test
	$(BIN)/ruff check .

bench: install-test
	$(BIN)/python bench/bench_tick.py

clean:
	rm -rf $(VENV) .pytest_cache
