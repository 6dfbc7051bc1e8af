"""Helpers for the hardening tests: a real web process whose log the test reads afterwards."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from servers import ROOT, child_env, stop_process, wait_healthy

from echonest.engine import free_port


@contextmanager
def logged_server(redis_url, log_path: Path, **conf):
    """A web process whose stderr (its log) the test can read afterwards."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="echonest-test-web-") as data_dir:
        argv = [sys.executable, "-m", "echonest.web.server", "--host", "127.0.0.1",
                "--port", str(port), "--conf", "USE_BENDER=false"]
        for key, value in conf.items():
            argv += ["--conf", f"{key}={json.dumps(value)}"]
        with log_path.open("wb") as log_file:
            proc = subprocess.Popen(argv, cwd=ROOT, env=child_env(redis_url, DATA_DIR=data_dir),
                                    stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file)
            try:
                wait_healthy(f"http://127.0.0.1:{port}", proc)
                yield port, log_path
            finally:
                stop_process(proc)
