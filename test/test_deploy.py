"""The Docker deployment files say what the README promises (docker itself cannot run here)."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_compose_runs_a_private_durable_valkey_two_web_processes_and_a_worker():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert sorted(services) == ["valkey", "web-1", "web-2", "worker"]
    valkey = " ".join(services["valkey"]["command"])
    for flag in ("--appendonly yes", "--maxmemory-policy noeviction", "--requirepass"):
        assert flag in valkey
    assert "VALKEY_PASSWORD" in str(services["valkey"]["healthcheck"]["test"])
    for name in ("web-1", "web-2", "worker"):
        env = services[name]["environment"]
        assert env["REDIS_URL"].startswith("redis://:${VALKEY_PASSWORD")
        assert "SECRET_KEY" in env and services[name]["depends_on"]["valkey"]
    assert services["worker"]["command"] == ["python", "-m", "master_player"]
    ports = {services[n]["ports"][0] for n in ("web-1", "web-2")}
    assert len(ports) == 2  # two processes, two host ports


def test_the_image_installs_only_what_running_needs():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install -e ." in dockerfile and "[test]" not in dockerfile
    assert "USER echonest" in dockerfile
    assert "chromium" not in dockerfile.lower()
    makefile = (ROOT / "Makefile").read_text()
    run_deps = makefile.split("\nrun:", 1)[1].split("\n", 1)[0]
    assert "install-test" not in run_deps
