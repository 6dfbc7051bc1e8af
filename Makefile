# EchoNest — the two commands that matter are `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo-music run test test-nests test-quick test-all lint bench clean

# Idempotent: rebuilds the venv only when pyproject.toml changed, installs Debian's
# chromium (for the browser tests) only when it is missing.
install: $(STAMP) demo-music

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@scripts/install_chromium.sh
	@touch $(STAMP)

# Original demo songs so a fresh clone has music: into DEMO_MUSIC_DIR (default data/demo-music),
# a no-op once generated, skipped when DEMO_MUSIC is false.
demo-music: $(STAMP)
	@$(BIN)/python -m echonest.demo_music

run: install
	$(BIN)/python -m echonest.runner

test: install
	SKIP_SPOTIFY_PREFETCH=1 $(BIN)/python -m pytest -q

test-nests: install
	scripts/test_nests.sh

test-quick: install
	SKIP_SPOTIFY_PREFETCH=1 $(BIN)/python -m pytest -q test/test_nests.py

test-all: test

lint: install
	$(BIN)/ruff check .

bench: install
	$(BIN)/python bench/bench_tick.py

clean:
	rm -rf $(VENV) .pytest_cache
