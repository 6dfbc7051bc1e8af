"""Real server processes for tests: web servers, player workers, guests, WebSocket/SSE clients.

Every process runs against the test engine (fixture ``redis_url``) on a free port and is
stopped by the test that started it (use the context managers).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
import websocket

from echonest.engine import free_port

ROOT = Path(__file__).resolve().parent.parent
TEST_SECRET = "test-secret-key-shared-by-every-test-server"
START_TIMEOUT = 30.0
WAIT = 15.0  # how long a test waits for something that should happen promptly

_CSRF = re.compile(r"""name=["']csrf_token["'][^>]*?value=["']([^"']+)["']|"""
                   r"""value=["']([^"']+)["'][^>]*?name=["']csrf_token["']""")


def child_env(redis_url: str, **extra: str) -> dict[str, str]:
    env = {**os.environ, "REDIS_URL": redis_url, "SECRET_KEY": TEST_SECRET,
           "PYTHONPATH": str(ROOT), "GUEST_LOGIN": "true", "ECHONEST_API_TOKEN": "",
           "ANDRE_API_TOKEN": ""}
    env.update(extra)
    return env


class ServerProcess:
    """``python -m echonest.web.server`` on 127.0.0.1:<free port>."""

    def __init__(self, redis_url: str, conf: dict[str, Any] | None = None, **env: str):
        self.port = free_port()
        self.data_dir = tempfile.TemporaryDirectory(prefix="echonest-test-web-")
        overrides = {"SSE_KEEPALIVE_SECONDS": 1, **(conf or {})}
        # --parent-pid: a test run killed mid-way takes its servers with it (no orphans).
        argv = [sys.executable, "-m", "echonest.web.server", "--host", "127.0.0.1",
                "--port", str(self.port), "--parent-pid", str(os.getpid())]
        for key, value in overrides.items():
            argv += ["--conf", f"{key}={json.dumps(value)}"]
        self.proc = subprocess.Popen(
            argv, cwd=ROOT, env=child_env(redis_url, DATA_DIR=self.data_dir.name, **env),
            stdin=subprocess.DEVNULL)
        try:
            wait_healthy(self.url, self.proc)
        except Exception:
            self.stop()
            raise

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def stop(self) -> None:
        stop_process(self.proc)
        self.data_dir.cleanup()


def stop_process(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_healthy(url: str, proc: subprocess.Popen | None = None,
                 timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before /health answered")
        try:
            if requests.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url}/health did not answer in {timeout} s")


@contextmanager
def web_server(redis_url: str, conf: dict[str, Any] | None = None,
               **env: str) -> Iterator[ServerProcess]:
    server = ServerProcess(redis_url, conf, **env)
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def player_worker(redis_url: str, **env: str) -> Iterator[subprocess.Popen]:
    proc = subprocess.Popen([sys.executable, "-m", "master_player", "--parent-pid",
                             str(os.getpid())], cwd=ROOT,
                            env=child_env(redis_url, **env), stdin=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        stop_process(proc)


# --- clients -------------------------------------------------------------------------------
class Guest:
    """A signed-in guest: a requests session plus the raw Cookie header for WebSockets."""

    def __init__(self, base_url: str, name: str):
        self.base_url = base_url
        self.http = requests.Session()
        page = self.http.get(f"{base_url}/login/", timeout=10)
        match = _CSRF.search(page.text)
        assert match, "login page has no csrf_token field"
        token = match.group(1) or match.group(2)
        resp = self.http.post(f"{base_url}/login/guest",
                              data={"name": name, "csrf_token": token, "next": "/"},
                              allow_redirects=False, timeout=10)
        assert resp.status_code in (302, 303), resp.text[:300]
        # Session cookies are Secure outside DEBUG; these tests speak plain HTTP on loopback.
        for cookie in self.http.cookies:
            cookie.secure = False
        self.cookie = "; ".join(f"{c.name}={c.value}" for c in self.http.cookies)

    def use(self, base_url: str) -> Guest:
        """The same signed-in user against another web process (shared SECRET_KEY)."""
        other = object.__new__(Guest)
        other.base_url, other.cookie = base_url, self.cookie
        other.http = requests.Session()
        other.http.headers["Cookie"] = self.cookie
        return other

    def post_json(self, path: str, body: dict | None = None) -> requests.Response:
        return self.http.post(f"{self.base_url}{path}", json=body or {}, timeout=10)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.http.get(f"{self.base_url}{path}", timeout=10, **kwargs)

    def create_nest(self, name: str | None = None) -> str:
        resp = self.post_json("/api/nests", {"name": name} if name else {})
        assert resp.status_code == 200, resp.text
        return resp.json()["code"]


class WSClient:
    """A real WebSocket client. Frames read while waiting for another one stay pending, so
    the order an ack and an event arrive in never matters."""

    def __init__(self, ws_url: str, path: str = "/socket", cookie: str | None = None,
                 timeout: float = WAIT):
        headers = [f"Cookie: {cookie}"] if cookie else []
        self.ws = websocket.create_connection(f"{ws_url}{path}", header=headers, timeout=timeout)
        self.frames: list[dict] = []    # everything read so far
        self.pending: list[dict] = []   # read but not yet matched by wait_for

    def send(self, action: Any, args: Any = None, ref: Any = None) -> None:
        self.ws.send(json.dumps({"action": action, "args": {} if args is None else args,
                                 "ref": ref}))

    def _read(self, timeout: float) -> dict:
        self.ws.settimeout(timeout)
        frame = json.loads(self.ws.recv())
        self.frames.append(frame)
        return frame

    def wait_for(self, predicate, timeout: float = WAIT) -> dict:
        for frame in self.pending:
            if predicate(frame):
                self.pending.remove(frame)
                return frame
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no matching frame; got {self.frames}")
            frame = self._read(remaining)
            if predicate(frame):
                return frame
            self.pending.append(frame)

    def event(self, name: str, timeout: float = WAIT, **data: Any) -> dict:
        return self.wait_for(lambda f: f.get("event") == name and all(
            f.get("data", {}).get(k) == v for k, v in data.items()), timeout)

    def reply(self, ref: Any, timeout: float = WAIT) -> dict:
        return self.wait_for(lambda f: f.get("event") in ("ack", "error") and f.get("ref") == ref,
                             timeout)

    def initial_state(self, timeout: float = WAIT) -> tuple[dict, dict]:
        return self.event("queue_update", timeout), self.event("now_playing", timeout)

    def close_code(self, timeout: float = WAIT) -> int:
        """Read until the server's close frame; its status code."""
        self.ws.settimeout(timeout)
        while True:
            opcode, data = self.ws.recv_data(control_frame=True)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                return struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1005
            if opcode == websocket.ABNF.OPCODE_TEXT:
                self.frames.append(json.loads(data))

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:  # noqa: S110 - the server may have closed first
            pass

    def drop(self) -> None:
        """Vanish without a close frame, like a phone losing its network."""
        try:
            self.ws.sock.shutdown(socket.SHUT_RDWR)
        except (OSError, AttributeError):
            pass  # already gone (the server closed it, or a failed read closed it here)
        try:
            self.ws.sock.close()
        except (OSError, AttributeError):
            pass


class SSEClient:
    """A streaming GET parsed into events (and comment lines) as they arrive."""

    def __init__(self, http: requests.Session, url: str, headers: dict | None = None):
        self.resp = http.get(url, stream=True, timeout=(5, WAIT), headers=headers or {})
        self.status = self.resp.status_code
        self.headers = self.resp.headers
        self._lines = self.resp.iter_lines(decode_unicode=True) if self.status == 200 else None
        self.comments: list[str] = []
        self.events: list[dict] = []

    def next_item(self) -> dict:
        """The next event ({event, id, data}) or comment ({"comment": text})."""
        event: dict[str, Any] = {}
        for line in self._lines:
            if line is None:
                continue
            if line == "":
                if "data" in event:
                    event["data"] = json.loads(event["data"])
                    self.events.append(event)
                    return event
                event = {}
                continue
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
                return {"comment": line[1:].strip()}
            field, _, value = line.partition(":")
            event[field] = value[1:] if value.startswith(" ") else value
        raise AssertionError("the event stream ended")

    def wait_for(self, name: str, predicate=lambda e: True, limit: int = 200) -> dict:
        for _ in range(limit):
            item = self.next_item()
            if item.get("event") == name and predicate(item):
                return item
        raise AssertionError(f"no {name} event in {limit} items")

    def wait_comment(self, limit: int = 200) -> str:
        for _ in range(limit):
            item = self.next_item()
            if "comment" in item:
                return item["comment"]
        raise AssertionError(f"no comment line in {limit} items")

    def close(self) -> None:
        self.resp.close()


def eventually(check, timeout: float = WAIT, interval: float = 0.05) -> Any:
    """Poll until ``check()`` is truthy (processes act asynchronously); returns its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def offline_track_uris(count: int = 3) -> list[str]:
    """A few real URIs from the bundled offline catalog (the default provider)."""
    from echonest.catalog import get_catalog
    from echonest.store import default_client

    catalog = get_catalog(None, default_client())
    found: list[str] = []
    for query in ("love", "the", "a", "night", "rock"):
        for track in catalog.search(query, limit=10):
            if track.uri not in found:
                found.append(track.uri)
        if len(found) >= count:
            return found[:count]
    raise AssertionError("offline catalog search found too few tracks")
