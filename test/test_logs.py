"""Request ids on every answer; LOG_FORMAT=json makes every log line one JSON object."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time

import requests
from servers import ROOT, child_env, stop_process, wait_healthy
from web_support import TOKEN, auth, make_app

from echonest.engine import free_port


def test_every_answer_carries_a_request_id_and_a_sane_client_id_is_kept(r):
    client = make_app(r, ECHONEST_API_TOKEN=TOKEN).test_client()
    ids = {client.get("/health").headers["X-Request-Id"] for _ in range(3)}
    assert len(ids) == 3 and all(len(i) >= 16 for i in ids)  # fresh per request
    # Error answers too (the gate's 401, an unknown route's 404).
    assert client.get("/api/nests").headers["X-Request-Id"]
    assert client.get("/api/nope", headers=auth()).headers["X-Request-Id"]
    kept = client.get("/health", headers={"X-Request-Id": "proxy-id-12345678"})
    assert kept.headers["X-Request-Id"] == "proxy-id-12345678"
    for hostile in ("<script>alert(1)</script>", "a" * 65, "short", "id with spaces 123",
                    "line\u2028break-123456"):
        answer = client.get("/health", headers={"X-Request-Id": hostile})
        assert answer.headers["X-Request-Id"] != hostile


def test_json_logs_from_a_real_server_carry_the_request_id(redis_url):
    port = free_port()
    with tempfile.TemporaryDirectory() as data, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "echonest.web.server", "--host", "127.0.0.1",
             "--port", str(port)], cwd=ROOT, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
            env=child_env(redis_url, DATA_DIR=data, LOG_FORMAT="json",
                          ECHONEST_API_TOKEN=TOKEN))
        try:
            base = f"http://127.0.0.1:{port}"
            wait_healthy(base, proc)
            answer = requests.get(f"{base}/api/nests/main/queue",
                                  headers={"X-Request-Id": "trace-me-0001", **auth()}, timeout=10)
            assert answer.status_code == 200
            assert answer.headers["X-Request-Id"] == "trace-me-0001"
            refused = requests.get(f"{base}/api/nests", timeout=10)
            assert refused.status_code == 401
            time.sleep(0.3)
        finally:
            stop_process(proc)
        err.seek(0)
        lines = [line for line in err.read().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line is JSON, none is plain text
    assert all({"time", "level", "logger", "message"} <= set(e) for e in entries)
    access = [e for e in entries if e["logger"] == "echonest.access"]
    traced = [e for e in access if e.get("request_id") == "trace-me-0001"]
    assert traced and traced[0]["path"] == "/api/nests/main/queue" and traced[0]["status"] == 200
    assert isinstance(traced[0]["ms"], float)
    assert any(e["path"] == "/api/nests" and e["status"] == 401 and e.get("request_id")
               for e in access)
