"""LOG_FORMAT=json covers the runner too: every line ``make run`` prints is one JSON object."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from servers import ROOT, eventually, stop_process, wait_healthy

from config import CONF
from echonest import runner
from echonest.engine import free_port

EVERY_INTERFACE = "0.0.0.0"  # noqa: S104 - a setting read, nothing binds it


def _entries(text: str) -> list[dict]:
    lines = [line for line in text.splitlines() if line.strip()]
    return [json.loads(line) for line in lines]  # raises on any plain-text line


def test_every_line_a_json_mode_run_prints_is_json_start_to_stop(tmp_path: Path):
    port = free_port()
    log = tmp_path / "run.log"
    env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1", "DATA_DIR": str(tmp_path / "d"),
           "WEB_PROCESSES": "1", "REDIS_URL": "", "SECRET_KEY": "", "LOG_FORMAT": "json",
           "PYTHONPATH": str(ROOT)}
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "echonest.runner"], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc)
        assert eventually(lambda: "EchoNest is running" in log.read_text())
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    finally:
        stop_process(proc)
    entries = _entries(log.read_text())
    mine = {e["message"].split(" (")[0].split(":")[0]: e for e in entries
            if e["logger"] == "echonest.runner"}
    assert {"embedded Valkey on 127.0.0.1", "EchoNest is running", "stopping EchoNest"} <= set(mine)
    assert mine["EchoNest is running"]["url"] == f"http://localhost:{port}"
    assert mine["stopping EchoNest"]["signal"] == "SIGINT"
    assert all({"time", "level", "logger", "message"} <= set(e) for e in entries)


def test_json_mode_announces_the_lan_links_as_one_line_without_the_qr_code(capsys, monkeypatch):
    monkeypatch.setattr(runner, "lan_urls", lambda conf: ["http://192.168.1.20:8080"])
    conf = CONF.copy(LOG_FORMAT="json", HOST=EVERY_INTERFACE, PORT=8080)
    runner.announce_lan(runner.Runner(conf))
    out = capsys.readouterr().out
    [entry] = _entries(out)
    assert entry["lan_urls"] == ["http://192.168.1.20:8080"]
    assert "http://192.168.1.20:8080" in entry["message"]
    assert not any(block in out for block in "▀▄█")


def test_text_mode_keeps_the_banner_for_people(capsys, monkeypatch):
    monkeypatch.setattr(runner, "print_lan_banner", lambda conf: print("QR-HERE"))
    runner.announce_lan(runner.Runner(CONF.copy(LOG_FORMAT="text", HOST=EVERY_INTERFACE, PORT=8080)))
    out = capsys.readouterr().out.splitlines()
    assert out == ["listening on every interface: phones on your network can join", "QR-HERE"]
