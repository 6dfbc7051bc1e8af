"""The Docker deployment files say what the README promises (docker itself cannot run here)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from config import ENV_OVERRIDES

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


# --- structure: what the files hand the app is something the app reads ----------------------
def _grep_code(name: str) -> bool:
    """An environment name read outside CONF (os.environ / getenv) somewhere in the app."""
    pattern = re.compile(rf"""(environ|getenv)[^\n]{{0,40}}["']{re.escape(name)}["']""")
    sources = [*ROOT.glob("*.py"), *(ROOT / "echonest").rglob("*.py")]
    return any(pattern.search(path.read_text()) for path in sources)


def _app_environments() -> dict[str, dict]:
    found = {}
    for path in (ROOT / "docker-compose.yml", ROOT / "docker-compose.cluster.yml"):
        for name, service in yaml.safe_load(path.read_text())["services"].items():
            env = service.get("environment")
            image = str(service.get("image", ""))
            if env and not image.startswith(("valkey/", "nginx")):
                found[f"{path.name}:{name}"] = env
    return found


def test_every_variable_the_compose_files_give_the_app_is_one_it_reads():
    envs = _app_environments()
    assert any("cluster" in name for name in envs) and len(envs) >= 4
    unread = {f"{where}: {name}" for where, env in envs.items() for name in env
              if name not in ENV_OVERRIDES and not _grep_code(name)}
    assert not unread, ("set in a compose file but never read by the app (add it to config.py "
                        f"ENV_OVERRIDES, or drop it): {sorted(unread)}")


def test_nginx_forwards_websocket_upgrades_to_the_web_service():
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    code = "\n".join(line.split("#", 1)[0] for line in conf.splitlines())
    assert re.search(r"map \$http_upgrade \$connection_upgrade \{[^}]*default upgrade;", code)
    assert re.search(r"proxy_set_header Upgrade \$http_upgrade;", code)
    assert re.search(r"proxy_set_header Connection \$connection_upgrade;", code)
    assert re.search(r"proxy_http_version 1\.1;", code)  # 1.0 cannot upgrade
    upstream = re.search(r"upstream (\w+) \{\s*zone \w+ \w+;\s*server web:(\d+) resolve;", code)
    assert re.search(r"resolver 127\.0\.0\.11\b", code)  # Docker's DNS re-read for `resolve`
    assert upstream and re.search(rf"proxy_pass http://{upstream.group(1)};", code)
    image_port = next(line.split()[1] for line in
                      (ROOT / "Dockerfile").read_text().splitlines()
                      if line.startswith("EXPOSE "))
    assert upstream.group(2) == image_port
    lb = yaml.safe_load((ROOT / "docker-compose.cluster.yml").read_text())["services"]["lb"]
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in lb["volumes"]
