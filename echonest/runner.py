"""``make run``: the embedded engine (unless REDIS_URL), the web processes and a player worker.

One supervisor, no silent restarts: if any child dies the whole set stops with a message, and
Ctrl-C/SIGTERM stops every child and then the engine. Web processes share one socket bound
here and inherited by each child, so several of them serve one port.

Stopping cannot be cut short: the signal handler only records that a stop was asked for (it
never raises), and the supervision loop, the health wait and the engine's start-up poll that
flag. A second SIGTERM (make forwards one when its process group is signalled) therefore lands
in a handler that does nothing new. Every child also dies with the runner: the kernel sends it
SIGTERM when the runner dies, even by SIGKILL (``echonest.parent_watch``), and the Python
children poll their parent pid as a fallback.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import redis
import requests

from echonest import logs
from echonest.engine import EngineError
from echonest.parent_watch import die_with_parent
from echonest.share_links import lan_urls, print_lan_banner

log = logging.getLogger("echonest.runner")

STOP_TIMEOUT = 8.0
HEALTH_TIMEOUT = 30.0


class Runner:
    """Owns every process ``make run`` starts; ``stop()`` is safe to call more than once."""

    def __init__(self, conf: Any):
        self.conf = conf
        self.engine = None
        self.children: list[tuple[str, subprocess.Popen]] = []
        self.listener: socket.socket | None = None
        self.redis_url = str(conf.REDIS_URL or "")
        self.stop_requested: str | None = None  # the signal's name once one arrived

    def request_stop(self, signum: int, _frame: Any = None) -> None:
        """The SIGTERM/SIGINT handler: remembers the first signal, never raises."""
        if self.stop_requested is None:
            self.stop_requested = signal.Signals(signum).name

    def say(self, message: str, *, level: int = logging.INFO, **fields: Any) -> None:
        """Every line the runner itself prints: plain, or JSON with LOG_FORMAT json."""
        logs.say(self.conf, log, message, level=level, **fields)

    # --- start ---------------------------------------------------------------------------
    def start(self) -> None:
        data_dir = data_path(self.conf)
        if self.conf.REDIS_CLUSTER and not self.redis_url:
            # A cluster is the operator's (docs/deploy.md): no embedded engine stands in for it.
            raise OSError("REDIS_CLUSTER is set: REDIS_URL must name a node of the cluster")
        if not self.redis_url:
            from echonest.engine import EmbeddedEngine

            # Kept before start() so a Ctrl-C during start-up still stops the engine.
            self.engine = EmbeddedEngine(data_dir, persist=True)
            self.engine.start(cancelled=lambda: self.stop_requested is not None)
            if self.stop_requested:
                return
            self.redis_url = self.engine.url
            self.say(f"embedded Valkey on {self.engine.address} (data in {data_dir})",
                     engine=self.engine.address, data_dir=str(data_dir))
        self._ensure_main()
        # Made once here: web processes starting together would race to create it.
        from app import secret_key

        secret_key(self.conf.copy(DATA_DIR=str(data_dir)))
        self.listener = bind(self.conf.HOST, int(self.conf.PORT))
        env = {**os.environ, "REDIS_URL": self.redis_url, "DATA_DIR": str(data_dir)}
        fd = self.listener.fileno()
        for n in range(max(1, int(self.conf.WEB_PROCESSES or 1))):
            if self.stop_requested:
                return
            self._spawn(f"web-{n + 1}", [sys.executable, "-m", "echonest.web.server",
                                         "--fd", str(fd), "--parent-pid", str(os.getpid())],
                        env, pass_fds=(fd,))
        self._spawn("player", [sys.executable, "-m", "master_player",
                               "--parent-pid", str(os.getpid())], env)

    def _ensure_main(self) -> None:
        from echonest.store import connect
        from nests import NestManager

        client = connect(self.redis_url)
        try:
            NestManager(client).ensure_main()
        finally:
            client.close()

    def _spawn(self, name: str, argv: list[str], env: dict, pass_fds: tuple = ()) -> None:
        # Own process group: a terminal Ctrl-C reaches only us, and we stop children in order.
        # The kernel still sends each one SIGTERM if we die without stopping them.
        proc = subprocess.Popen(argv, env=env, pass_fds=pass_fds, process_group=0,
                                stdin=subprocess.DEVNULL,
                                preexec_fn=die_with_parent(os.getpid()))
        self.children.append((name, proc))

    def wait_healthy(self, timeout: float = HEALTH_TIMEOUT) -> bool:
        url = f"http://{local_host(self.conf.HOST)}:{int(self.conf.PORT)}/health"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.dead_child() or self.stop_requested:
                return False
            try:
                if requests.get(url, timeout=1).status_code == 200:
                    return True
            except requests.RequestException:
                pass
            time.sleep(0.2)
        return False

    # --- supervise -----------------------------------------------------------------------
    def dead_child(self) -> tuple[str, int] | None:
        for name, proc in self.children:
            code = proc.poll()
            if code is not None:
                return name, code
        if self.engine and self.engine.process and self.engine.process.poll() is not None:
            return "engine", self.engine.process.returncode
        return None

    def stop(self) -> None:
        for _, proc in self.children:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for name, proc in self.children:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in time; killing it", name)
                proc.kill()
                proc.wait()
        self.children = []
        if self.listener is not None:
            self.listener.close()
            self.listener = None
        if self.engine is not None:
            self.engine.stop()  # after the children: they may still be writing on the way out
            self.engine = None


def data_path(conf: Any) -> Path:
    """DATA_DIR, relative paths read from the project root (as app.secret_key reads them)."""
    from config import ROOT

    path = Path(str(conf.DATA_DIR or "data"))
    return path if path.is_absolute() else ROOT / path


def bind(host: str, port: int) -> socket.socket:
    """The shared listening socket; children inherit it (no SO_REUSEPORT needed)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def local_host(host: str) -> str:
    if host in ("", "0.0.0.0", "::", "::1", "127.0.0.1"):  # noqa: S104
        return "localhost"
    return f"[{host}]" if ":" in host else host


def main() -> int:
    from config import CONF

    logging.basicConfig(level=logging.INFO, format="%(asctime)s runner %(levelname)s %(message)s")
    logs.configure(CONF)  # LOG_FORMAT json: the runner's own log lines are JSON too

    runner = Runner(CONF)
    signal.signal(signal.SIGTERM, runner.request_stop)
    signal.signal(signal.SIGINT, runner.request_stop)
    try:
        code = supervise(runner)
    finally:
        # No handler here can raise, so this always runs to the end: children first, then the
        # engine (they may still be writing on the way out).
        runner.stop()
        # Python resets its own handlers to the default (die) while exiting; a late signal
        # would then turn a clean stop into "killed by SIGTERM". Ignored ones stay ignored.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    return code


def supervise(runner: Runner) -> int:
    """Start everything and watch it until a stop is asked for or a child dies; the exit code."""
    conf = runner.conf
    try:
        runner.start()
        if runner.stop_requested:
            return _stopping(runner)
        if not runner.wait_healthy():
            if runner.stop_requested:
                return _stopping(runner)
            dead = runner.dead_child()
            runner.say(f"EchoNest did not start ({dead[0]} exited with {dead[1]})" if dead
                       else "EchoNest did not answer /health in time", level=logging.ERROR)
            return 1
        url = f"http://{local_host(conf.HOST)}:{int(conf.PORT)}"
        runner.say(f"EchoNest is running: {url}  (Ctrl-C to stop)", url=url)
        if conf.HOST in ("0.0.0.0", "::"):  # noqa: S104
            announce_lan(runner)
        while not runner.stop_requested:
            dead = runner.dead_child()
            if dead:
                runner.say(f"{dead[0]} exited with status {dead[1]}; stopping EchoNest",
                           level=logging.ERROR, child=dead[0], status=dead[1])
                return 1
            time.sleep(0.2)
        return _stopping(runner)
    except (OSError, EngineError, redis.RedisError) as exc:
        runner.say(f"could not start EchoNest: {exc}", level=logging.ERROR)
        return 1


def announce_lan(runner: Runner) -> None:
    """Where phones can join. Text mode: the links and a terminal QR code, for a person at the
    terminal. JSON mode: one line with the links and no QR code (a log collector cannot scan
    it, and its half-block rows would break one-object-per-line)."""
    conf = runner.conf
    if logs.is_json(conf):
        urls = lan_urls(conf)
        runner.say("listening on every interface: guests on this network can join at "
                   + "  ".join(urls), lan_urls=urls)
        return
    runner.say("listening on every interface: phones on your network can join")
    print_lan_banner(conf)


def _stopping(runner: Runner) -> int:
    runner.say(f"stopping EchoNest ({runner.stop_requested})…", signal=runner.stop_requested)
    return 0


if __name__ == "__main__":
    sys.exit(main())
