"""What every bench_ops scenario shares: the private web processes, signed-in guests, the
catalog's track ids, percentiles, CPU accounting and Valkey's MONITOR counts."""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "test"), str(ROOT / "bench")]

import psutil  # noqa: E402
import redis  # noqa: E402
import requests  # noqa: E402
from servers import wait_healthy  # noqa: E402

SECRET = "bench-secret-key-0123456789abcdef0123456789"
BASE_PORT = 5140
_CSRF = re.compile(r"""name=["']csrf_token["'][^>]*?value=["']([^"']+)["']""")


# --- processes -----------------------------------------------------------------------------
@contextmanager
def web_servers(redis_url: str, count: int, data_dir: str, **conf):
    overrides = {"RATE_LIMITS": {}, "USE_BENDER": False, "HTTP_MAX_CONNECTIONS_PER_IP": 0,
                 "REDIS_MAX_CONNECTIONS": 400, **conf}
    # BENCH_SERVER_ROOT: serve another checkout's code (e.g. `git archive` of an older commit)
    # with this harness, for before/after rows measured the same way.
    server_root = os.environ.get("BENCH_SERVER_ROOT") or str(ROOT)
    env = {**os.environ, "REDIS_URL": redis_url, "SECRET_KEY": SECRET, "PYTHONPATH": server_root,
           "GUEST_LOGIN": "true", "DATA_DIR": data_dir, "SKIP_SPOTIFY_PREFETCH": "1",
           "MUSIC_DIR": "", "DEMO_MUSIC": "false", "CATALOG": "offline"}
    procs, urls = [], []
    for n in range(count):
        port = BASE_PORT + n
        argv = [sys.executable, "-m", "echonest.web.server", "--host", "127.0.0.1",
                "--port", str(port)]
        for key, value in overrides.items():
            argv += ["--conf", f"{key}={json.dumps(value)}"]
        procs.append(subprocess.Popen(argv, cwd=server_root, env=env, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        urls.append(f"http://127.0.0.1:{port}")
    WATCH["web"] = [p.pid for p in procs]
    pin_web_processes(WATCH["web"])
    try:
        for url, proc in zip(urls, procs, strict=True):
            wait_healthy(url, proc, timeout=30)
        yield urls, procs
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def guest_cookie(base_url: str, name: str) -> str:
    http = requests.Session()
    page = http.get(f"{base_url}/login/", timeout=10)
    token = _CSRF.search(page.text).group(1)
    http.post(f"{base_url}/login/guest", data={"name": name, "csrf_token": token, "next": "/"},
              allow_redirects=False, timeout=10)
    return "; ".join(f"{c.name}={c.value}" for c in http.cookies)


def ws_url(base_url: str) -> str:
    """The page's socket: it asks for queue patches (docs/api.md, "queue_patch")."""
    return base_url.replace("http://", "ws://") + "/socket?patches=1"


def track_uris(client: redis.Redis) -> list[str]:
    from echonest.catalog import get_catalog

    catalog = get_catalog(None, client)
    seen: dict[str, None] = {}
    for query in "abcdefghijklmnopqrstuvwxyz":
        for track in catalog.search(query, limit=50):
            seen[track.uri] = None
    return list(seen)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


_VERSION = re.compile(r'"version":\s*(\d+)')


def _body_version(raw: str) -> int:
    found = _VERSION.search(raw)
    return int(found.group(1)) if found else 0

_VERSION_B = re.compile(rb'"version":\s*(\d+)')
_QUEUE_PREFIX = b'{"event":"queue_'  # queue_update or queue_patch: both lead with "version"


# --- lean clients: the harness must not be what limits a run ---------------------------------
# websocket-client validates the UTF-8 of every frame and unmasks/decodes it in Python, and
# requests costs ~1 ms of client CPU per call: with 32 clients that are also listeners of a
# 100 KB queue, the client processes, not the server, set the pace. These speak the same
# protocols on the wire (a real handshake, real frames, HTTP/1.1 keep-alive) with none of that.
def _connect(host: str, port: int, timeout: float) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class RawWS:
    """A minimal WebSocket client: real handshake (cookie, no Origin, like websocket-client),
    text frames masked with a zero key (the payload goes out unchanged; the server unmasks as
    for any key), replies to pings. ``recv()`` returns an int (the body's "version") for a
    queue_update or queue_patch frame — found by a bytes regex in place, never decoded — else
    the payload."""

    def __init__(self, url: str, cookie: str, timeout: float = 30):
        parts = urlsplit(url)
        self.sock = _connect(parts.hostname, parts.port, timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {parts.path or '/'}{'?' + parts.query if parts.query else ''} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                           f"Cookie: {cookie}\r\n\r\n").encode())
        self.buf = bytearray()
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, _, rest = bytes(self.buf).partition(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(f"handshake refused: {head[:200]!r}")
        self.buf = bytearray(rest)

    def settimeout(self, seconds: float) -> None:
        self.sock.settimeout(seconds)

    def _fill(self) -> None:
        chunk = self.sock.recv(262144)
        if not chunk:
            raise ConnectionError("closed")
        self.buf += chunk

    def send(self, payload: bytes, opcode: int = 0x1) -> None:
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        self.sock.sendall(head + b"\0\0\0\0" + payload)

    def recv(self) -> int | bytes:
        parts: list[bytes] = []
        while True:
            buf = self.buf
            while len(buf) < 2:
                self._fill()
            fin, opcode, n = buf[0] & 0x80, buf[0] & 0x0F, buf[1] & 0x7F
            start = 2
            if n == 126:
                start = 4
            elif n == 127:
                start = 10
            while len(buf) < start:
                self._fill()
            if n == 126:
                n = struct.unpack_from("!H", buf, 2)[0]
            elif n == 127:
                n = struct.unpack_from("!Q", buf, 2)[0]
            end = start + n
            while len(buf) < end:
                self._fill()
            if opcode == 0x9:  # ping
                payload = bytes(buf[start:end])
                del buf[:end]
                self.send(payload, 0xA)
                continue
            if opcode == 0x8:
                raise ConnectionError("close frame")
            if opcode == 0xA:
                del buf[:end]
                continue
            if fin and not parts and buf.startswith(_QUEUE_PREFIX, start):
                found = _VERSION_B.search(buf, start, end)
                version = int(found.group(1)) if found else 0  # before the buffer moves
                del buf[:end]
                return version
            parts.append(bytes(buf[start:end]))
            del buf[:end]
            if fin:
                payload = b"".join(parts)
                if payload.startswith(_QUEUE_PREFIX):
                    found = _VERSION_B.search(payload)
                    return int(found.group(1)) if found else 0
                return payload

    def close(self) -> None:
        try:
            self.send(struct.pack("!H", 1000), 0x8)
        except OSError:
            pass
        self.sock.close()


class RawHTTP:
    """HTTP/1.1 keep-alive over one socket, requests pre-built as bytes; ``post`` returns the
    status. Reads the whole response by Content-Length (reconnects if the server closes)."""

    def __init__(self, base_url: str, cookie: str, timeout: float = 30):
        parts = urlsplit(base_url)
        self.addr, self.netloc, self.cookie, self.timeout = \
            (parts.hostname, parts.port), parts.netloc, cookie, timeout
        self.sock = _connect(*self.addr, timeout)
        self.buf = bytearray()

    def build(self, path: str, body: dict) -> bytes:
        data = json.dumps(body).encode()
        return (f"POST {path} HTTP/1.1\r\nHost: {self.netloc}\r\nCookie: {self.cookie}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
                ).encode() + data

    def post(self, raw: bytes) -> int:
        self.sock.sendall(raw)
        buf = self.buf
        while (cut := buf.find(b"\r\n\r\n")) < 0:
            self._fill()
        head = bytes(buf[:cut]).lower()
        status = int(head[9:12])
        found = _CONTENT_LENGTH.search(head)
        end = cut + 4 + (int(found.group(1)) if found else 0)
        while len(buf) < end:
            self._fill()
        del buf[:end]
        if b"\r\nconnection: close" in head:
            self.sock.close()
            self.sock, self.buf = _connect(*self.addr, self.timeout), bytearray()
        return status

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        self.buf += chunk

    def close(self) -> None:
        self.sock.close()


_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)")

WATCH: dict[str, list[int]] = {"web": [], "redis": []}  # pids whose CPU time is charged per op


def pin_web_processes(web_pids: list[int]) -> None:
    """With BENCH_PIN_WEB=1 (``bench_ops.py --pin-web``): the web processes get the last CPU to
    themselves and this harness, its client processes (forked later) and the engine the others,
    as if the clients were phones elsewhere. On a 2-core box the 32 client threads otherwise
    take turns on the server's core, and their scheduling shows up in its percentiles."""
    cpus = sorted(os.sched_getaffinity(0))
    if os.environ.get("BENCH_PIN_WEB") != "1" or len(cpus) < 2:
        return
    web, rest = {cpus[-1]}, set(cpus[:-1])
    for pid in web_pids:
        os.sched_setaffinity(pid, web)
    for pid in (os.getpid(), *WATCH["redis"]):
        os.sched_setaffinity(pid, rest)


def cpu_seconds(kind: str) -> float:
    total = 0.0
    for pid in WATCH[kind]:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


# --- Redis accounting ----------------------------------------------------------------------
class Monitor:
    """MONITOR lines while active: top-level commands (round trips) vs commands run by Lua."""

    def __init__(self, url):
        self.conn = redis.Redis.from_url(url)
        self.lines: list[str] = []
        self._stop = threading.Event()

    def __enter__(self):
        self._m = self.conn.monitor()
        self._m.__enter__()
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()
        time.sleep(0.2)
        return self

    def _read(self):
        while not self._stop.is_set():
            try:
                cmd = self._m.next_command()
            except Exception:
                return
            self.lines.append(f"{cmd['client_type']} {cmd['command'][:120]}")

    def __exit__(self, *exc):
        time.sleep(0.3)
        self._stop.set()
        try:
            self._m.__exit__(*exc)
        except Exception:
            pass

    def counts(self):
        top = [line for line in self.lines if not line.startswith("lua")]
        return len(top), len(self.lines)
