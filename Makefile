# EchoNest — the two commands that matter are `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test test-cluster test-nests test-quick test-all lint bench bench-cluster clean

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
	SKIP_SPOTIFY_PREFETCH=1 $(BIN)/python -m pytest -q -m "not cluster"

# The same engine/nest/player/web tests against a real 3+3 Valkey Cluster on loopback, plus the
# failover test (test/test_cluster.py). Slower: CI runs it as its own step (.ci/run).
test-cluster: install
	SKIP_SPOTIFY_PREFETCH=1 $(BIN)/python -m pytest -q -m cluster

test-nests: install
	scripts/test_nests.sh

test-quick: install
	SKIP_SPOTIFY_PREFETCH=1 $(BIN)/python -m pytest -q test/test_nests.py

test-all: test

lint: install
	$(BIN)/ruff check .

bench: install
	$(BIN)/python bench/bench_tick.py

bench-cluster: install
	$(BIN)/python bench/bench_cluster.py

clean:
	rm -rf $(VENV) .pytest_cache
