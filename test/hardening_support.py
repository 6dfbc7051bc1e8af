"""Helpers for the hardening tests: a real web process whose log the test reads afterwards."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import requests
from servers import ROOT, START_TIMEOUT, child_env, stop_process, wait_healthy

from echonest.engine import free_port


@contextmanager
def logged_server(redis_url, log_path: Path, *, storage_up: bool = True, **conf):
    """A web process whose stderr (its log) the test can read afterwards.

    ``storage_up=False``: Redis is expected to be unreachable, so ready means /health answers
    at all (503 "degraded")."""
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
                if storage_up:
                    wait_healthy(f"http://127.0.0.1:{port}", proc)
                else:
                    _wait_answering(f"http://127.0.0.1:{port}", proc)
                yield port, log_path
            finally:
                stop_process(proc)


def _wait_answering(url: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            requests.get(f"{url}/health", timeout=5)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"{url}/health did not answer in {START_TIMEOUT} s")
