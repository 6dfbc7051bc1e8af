# EchoNest — the two commands that matter are `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: install install-test demo-music run test test-faults test-fuzz test-cluster test-nests test-quick test-all lint bench bench-cluster bench-ops clean

# Idempotent: rebuilds the venv only when pyproject.toml changed. `install` is what running
# needs (and the demo songs); `install-test` adds the test tools and Debian's chromium (browser
# tests) when missing.
install: $(STAMP) demo-music

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

# Original demo songs so a fresh clone has music: into DEMO_MUSIC_DIR (default data/demo-music),
# a no-op once generated, skipped when DEMO_MUSIC is false.
demo-music: $(STAMP)
	@$(BIN)/python -m echonest.demo_music

run: install
	$(BIN)/python -m echonest.runner

test: install-test
	SKIP_SPOTIFY_PREFETCH=1 $(BIN)/python -m pytest -q

# The same engine/nest/player/web tests against a real 3+3 Valkey Cluster on loopback, plus the
# failover test (test/test_cluster.py; marker `cluster`, left out of `make test`). CI runs it
# as its own step (.ci/run).
test-cluster: install-test
	SKIP_SPOTIFY_PREFETCH=1 $(BIN)/python -m pytest -q -m cluster

# Kills, restarts and bursts against real processes (test/faults, marker `faults`); minutes.
test-faults: install-test
	SKIP_SPOTIFY_PREFETCH=1 $(BIN)/python -m pytest -q -m faults test/faults

test-nests: install-test
	scripts/test_nests.sh

test-quick: install-test
	SKIP_SPOTIFY_PREFETCH=1 $(BIN)/python -m pytest -q test/test_nests.py

test-all: test

# Schemathesis against a real server from docs/openapi.yaml (bounded, ~3 min; not in `make test`).
test-fuzz: install-test
	SKIP_SPOTIFY_PREFETCH=1 $(BIN)/python -m pytest -q -m fuzz test/test_fuzz_api.py

lint: install-test
	$(BIN)/ruff check .

bench: install-test
	$(BIN)/python bench/bench_tick.py

bench-cluster: install
	$(BIN)/python bench/bench_cluster.py

# Queue ops, fan-out, idle listeners, close, reconnect burst (docs/performance.md); ~10 min.
bench-ops: install-test
	$(BIN)/python bench/bench_ops.py

clean:
	rm -rf $(VENV) .pytest_cache
