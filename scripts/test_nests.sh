#!/usr/bin/env bash
# Nest contract tests, then the regression suite (seed T0.2).
set -euo pipefail
cd "$(dirname "$0")/.."
export SKIP_SPOTIFY_PREFETCH=1
.venv/bin/python -m pytest -q test/test_nests.py
.venv/bin/python -m pytest -q --ignore=test/test_nests.py test
