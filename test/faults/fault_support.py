"""A real ``make run`` set under test: the runner, what it starts, and how to find survivors.

Every runner starts in its own session (as make, systemd or docker would start it) and carries
a marker in its environment, so "no process of ours survives" is checked by scanning /proc for
that session or that marker, whatever the process renamed itself to.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import redis
from servers import ROOT, TEST_SECRET, eventually, wait_healthy

from echonest.engine import free_port

MARK = "ECHONEST_FAULT_MARK"
GONE_TIMEOUT = 40.0  # a stop is at most STOP_TIMEOUT + the engine's save; generous on 2 cores


def _stat(pid: str) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def survivors(mark: str, session: int) -> dict[int, str]:
    """Live (non-zombie) processes in ``session`` or carrying ``mark`` → command line."""
    needle = f"{MARK}={mark}".encode()
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        fields = _stat(entry.name)
        if fields is None or fields[0] in ("Z", "X"):
            continue
        ours = int(fields[3]) == session  # field 6 of stat: the session id
        if not ours:
            try:
                ours = needle in (entry / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
        if ours:
            try:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
            except OSError:
                cmd = "?"
            found[int(entry.name)] = cmd
    return found


class Run:
    """``python -m echonest.runner`` (or ``make run``) as its own session, logging to a file."""

    def __init__(self, tmp: Path, data_dir: Path | None = None, *, make: bool = False,
                 name: str = "run", **env: str):
        self.mark = uuid.uuid4().hex
        self.port = free_port()
        self.data_dir = data_dir or tmp / "data"
        self.log_path = tmp / f"{name}-{self.mark[:8]}.log"
        full_env = {**os.environ, "PORT": str(self.port), "HOST": "127.0.0.1",
                    "DATA_DIR": str(self.data_dir), "WEB_PROCESSES": "2", "REDIS_URL": "",
                    "SECRET_KEY": TEST_SECRET, "GUEST_LOGIN": "true", "PYTHONPATH": str(ROOT),
                    "ECHONEST_API_TOKEN": "", "ANDRE_API_TOKEN": "", MARK: self.mark,
                    **env}
        self.env = full_env  # what a second worker of this same deployment is started with
        argv = ["make", "--no-print-directory", "run"] if make else \
            [sys.executable, "-m", "echonest.runner"]
        with self.log_path.open("w") as out:
            self.proc = subprocess.Popen(argv, cwd=ROOT, env=full_env, stdout=out,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        self.session = self.proc.pid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_healthy(self) -> Run:
        try:
            wait_healthy(self.url, self.proc, timeout=60)
        except Exception:
            self.kill_all()
            raise AssertionError(f"runner did not start:\n{self.log()}") from None
        return self

    def engine_client(self) -> redis.Redis:
        """A client of the embedded engine, with the password the runner generated."""
        found = re.search(r"embedded Valkey on ([\d.]+):(\d+)", self.log())
        assert found, self.log()
        password = (self.data_dir / "engine_password").read_text().strip()
        return redis.Redis(host=found.group(1), port=int(found.group(2)), password=password,
                           decode_responses=True)

    def children(self) -> dict[int, str]:
        return {pid: cmd for pid, cmd in survivors(self.mark, self.session).items()
                if pid != self.proc.pid}

    def group_signal(self, signum: int = signal.SIGTERM) -> None:
        os.killpg(self.session, signum)

    def all_gone(self) -> bool:
        self.proc.poll()
        return not survivors(self.mark, self.session)

    def wait_all_gone(self) -> dict[int, str]:
        """Waits (bounded) for every process of this run to end; returns any left over."""
        eventually(self.all_gone, timeout=GONE_TIMEOUT, interval=0.2)
        return survivors(self.mark, self.session)

    def kill_all(self) -> None:
        """Clean-up after a failed test: SIGKILL whatever of this run is left."""
        for pid in survivors(self.mark, self.session):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc) -> None:
        if self.proc.poll() is None:
            try:
                self.group_signal(signal.SIGTERM)
                self.proc.wait(30)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if not self.wait_all_gone_quietly():
            self.kill_all()

    def wait_all_gone_quietly(self) -> bool:
        return bool(eventually(self.all_gone, timeout=GONE_TIMEOUT, interval=0.2))


# --- the truth a fault must not change --------------------------------------------------------
def track_uris(count: int, skip: int = 0) -> list[str]:
    """Distinct real offline-catalog URIs, longest first (nothing finishes during a test)."""
    from echonest.catalog.offline.loader import load

    tracks = sorted(load().tracks, key=lambda t: (-t.duration, t.uri))
    return [t.uri for t in tracks[skip:skip + count]]


def nest_state(guest, code: str = "main") -> tuple[dict[str, dict], str | None]:
    """The nest's queue by URI and the playing URI, as any listener would see them."""
    queue = guest.get(f"/api/nests/{code}/queue")
    playing = guest.get(f"/api/nests/{code}/playing")
    assert queue.status_code == 200 and playing.status_code == 200, (queue.text, playing.text)
    return {item["uri"]: item for item in queue.json()["queue"]}, playing.json().get("uri")


def member_count(guest, code: str = "main") -> int:
    return guest.get(f"/api/nests/{code}").json()["member_count"]
