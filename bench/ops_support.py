"""What every bench_ops scenario shares: the private web processes, signed-in guests, the
catalog's track ids, percentiles, CPU accounting and Valkey's MONITOR counts."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "test"), str(ROOT / "bench")]

import psutil  # noqa: E402
import redis  # noqa: E402
import requests  # noqa: E402

SECRET = "bench-secret-key-0123456789abcdef0123456789"
BASE_PORT = 5140
_CSRF = re.compile(r"""name=["']csrf_token["'][^>]*?value=["']([^"']+)["']""")


# --- processes -----------------------------------------------------------------------------
@contextmanager
def web_servers(redis_url: str, count: int, data_dir: str, **conf):
    overrides = {"RATE_LIMITS": {}, "USE_BENDER": False, "HTTP_MAX_CONNECTIONS_PER_IP": 0,
                 "REDIS_MAX_CONNECTIONS": 400, **conf}
    env = {**os.environ, "REDIS_URL": redis_url, "SECRET_KEY": SECRET, "PYTHONPATH": str(ROOT),
           "GUEST_LOGIN": "true", "DATA_DIR": data_dir, "SKIP_SPOTIFY_PREFETCH": "1",
           "MUSIC_DIR": "", "DEMO_MUSIC": "false", "CATALOG": "offline"}
    procs, urls = [], []
    for n in range(count):
        port = BASE_PORT + n
        argv = [sys.executable, "-m", "echonest.web.server", "--host", "127.0.0.1",
                "--port", str(port)]
        for key, value in overrides.items():
            argv += ["--conf", f"{key}={json.dumps(value)}"]
        procs.append(subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        urls.append(f"http://127.0.0.1:{port}")
    WATCH["web"] = [p.pid for p in procs]
    try:
        for url in urls:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if requests.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{url} did not start")
                time.sleep(0.2)
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
    return base_url.replace("http://", "ws://") + "/socket"


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

WATCH: dict[str, list[int]] = {"web": [], "redis": []}  # pids whose CPU time is charged per op


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
