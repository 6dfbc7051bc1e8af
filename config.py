"""CONF: shipped defaults (config.yaml) → local_config.yaml → environment, read once on demand.

Known keys always have a value (their documented default); unknown keys read as None so a
typo in a feature flag is falsy rather than a crash deep inside a request.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent

# Keys an operator may set from the environment (12-factor deploys, CI, `make run`).
ENV_OVERRIDES = (
    "DEBUG",
    "SECRET_KEY",
    "HOSTNAME",
    "HOST",
    "PORT",
    "REDIS_URL",
    "REDIS_CLUSTER",
    "TRUSTED_PROXY_HOPS",
    "PLAYER_LEASE_SECONDS",
    "DATA_DIR",
    "WEB_PROCESSES",
    "NESTS_ENABLED",
    "NEST_MAX_ACTIVE",
    "NEST_MAX_INACTIVE_MINUTES",
    "ECHONEST_DOMAIN",
    "SHARE_BASE_URL",
    "USE_BENDER",
    "CATALOG",
    "SPOTIFY_CLIENT_ID",
    "SPOTIFY_CLIENT_SECRET",
    "SPOTIFY_REDIRECT_URI",
    "SPOTIFY_API_BASE",
    "SPOTIFY_AUTH_BASE",
    "MUSIC_DIR",
    "DEMO_MUSIC",
    "DEMO_MUSIC_DIR",
    "LIBRARY_RESCAN_SECONDS",
    "GOOGLE_CLIENT_ID",
    "GOOGLE_CLIENT_SECRET",
    "GOOGLE_DISCOVERY_URL",
    "ALLOWED_EMAIL_DOMAINS",
    "GUEST_LOGIN",
    "DEV_AUTH_EMAIL",
    "ADMIN_EMAILS",
    "ECHONEST_API_TOKEN",
    "ANDRE_API_TOKEN",
    "SYNC_INVITE_CODES",
    "PUBLIC_SEARCH",
    "LOG_FORMAT",
    "METRICS_TOKEN",
)


def _coerce(raw: str, default: Any) -> Any:
    """Environment values are strings; give them the type of the documented default."""
    if isinstance(default, bool):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    if isinstance(default, list):
        raw = raw.strip()
        if raw.startswith("["):
            return json.loads(raw)
        return [part.strip() for part in raw.split(",") if part.strip()]
    if isinstance(default, dict):
        return json.loads(raw)
    return raw


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    with path.open() as fh:
        data = yaml.safe_load(fh) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a mapping of KEY: value")
    return data


class Config:
    """Attribute access over the merged settings; `CONF.NO_SUCH_KEY` is None."""

    def __init__(self, values: dict[str, Any]):
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._values.get(name)

    def __setattr__(self, name: str, value: Any) -> None:
        self._values[name] = value

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def get(self, name: str, default: Any = None) -> Any:
        return self._values.get(name, default)

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)

    def copy(self, **overrides: Any) -> Config:
        """A new Config with some keys replaced; tests and app factories use it."""
        values = dict(self._values)
        values.update(overrides)
        return Config(values)


def load_config(
    defaults_path: Path | None = None,
    local_path: Path | None = None,
    environ: dict[str, str] | None = None,
) -> Config:
    defaults = _read_yaml(defaults_path or ROOT / "config.yaml")
    values = dict(defaults)
    values.update(_read_yaml(local_path or ROOT / "local_config.yaml"))
    env = os.environ if environ is None else environ
    for key in ENV_OVERRIDES:
        if key in env:
            values[key] = _coerce(env[key], defaults.get(key, ""))
    return Config(values)


CONF = load_config()
