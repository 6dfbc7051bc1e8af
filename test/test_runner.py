"""`python -m echonest.runner` (what `make run` calls): starts everything, stops everything."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from servers import ROOT, eventually, stop_process, wait_healthy

from echonest.engine import free_port


def _children(pid: int) -> dict[int, str]:
    """Direct children of ``pid`` → their command line."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            found[int(entry.name)] = cmdline
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _start_runner(tmp_path: Path, **env: str) -> tuple[subprocess.Popen, int, Path]:
    port = free_port()
    log = tmp_path / "runner.log"
    full_env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1",
                "DATA_DIR": str(tmp_path / "data"), "WEB_PROCESSES": "2", "REDIS_URL": "",
                "SECRET_KEY": "", "PYTHONPATH": str(ROOT), **env}
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "echonest.runner"], cwd=ROOT,
                                env=full_env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc)
    except Exception:
        stop_process(proc)
        raise
    return proc, port, log


def test_runner_starts_engine_web_and_player_then_stops_them_all_on_ctrl_c(tmp_path):
    proc, port, log = _start_runner(tmp_path)
    try:
        assert eventually(lambda: f"http://localhost:{port}" in log.read_text())
        children = _children(proc.pid)
        kinds = sorted(
            "engine" if "valkey-server" in cmd else "web" if "echonest.web.server" in cmd
            else "player" if "master_player" in cmd else cmd
            for cmd in children.values())
        assert kinds == ["engine", "player", "web", "web"]
        assert (tmp_path / "data" / "secret_key").exists()

        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
        assert not [pid for pid in children if _alive(pid)]
        assert any((tmp_path / "data").glob("appendonly*"))  # the engine persisted under DATA_DIR
    finally:
        stop_process(proc)


def test_runner_with_redis_url_starts_no_engine_and_stops_when_a_child_dies(tmp_path, redis_url):
    proc, _, log = _start_runner(tmp_path, REDIS_URL=redis_url, WEB_PROCESSES="1")
    try:
        children = _children(proc.pid)
        assert not any("valkey-server" in cmd for cmd in children.values())
        assert len(children) == 2
        player = next(pid for pid, cmd in children.items() if "master_player" in cmd)
        os.kill(player, signal.SIGKILL)
        # No silent restart: the runner says so, stops the rest and fails.
        assert proc.wait(30) == 1
        assert "player exited" in log.read_text()
        assert not [pid for pid in children if _alive(pid)]
    finally:
        stop_process(proc)


def test_sigkill_of_the_runner_leaves_no_child_running(tmp_path):
    proc, _, log = _start_runner(tmp_path)
    try:
        children = _children(proc.pid)
        assert len(children) == 4
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        # The kernel tells every child (the engine included) that its parent died.
        assert eventually(lambda: not [pid for pid in children if _alive(pid)], timeout=40)
        assert "Traceback" not in log.read_text()
    finally:
        stop_process(proc)
        for pid in _children(proc.pid):
            os.kill(pid, signal.SIGKILL)


def test_a_stop_signal_never_raises_inside_the_runner():
    from config import CONF
    from echonest.runner import Runner

    runner = Runner(CONF)
    runner.request_stop(signal.SIGTERM)
    runner.request_stop(signal.SIGINT)  # make's forwarded second signal: changes nothing
    assert runner.stop_requested == "SIGTERM"
