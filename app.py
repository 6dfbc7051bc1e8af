"""Composition root: ``create_app(conf)`` wires config, sessions, blueprints and the stream.

Nothing connects at import or creation: Redis, the nest manager and the catalog are built on
first use (echonest.web.context). ``from app import app, CONF`` builds the default app lazily.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, has_request_context, request

from config import CONF, ROOT
from echonest.web.session_cookies import CachedCookieSessions

MAX_BODY_BYTES = 64 * 1024


class SessionInterface(CachedCookieSessions):
    """Secure cookies outside DEBUG — except plain HTTP to this machine or the LAN.

    ``make run`` serves http://127.0.0.1:5000 and, with HOST=0.0.0.0, phones on the LAN reach
    http://192.168.x.y:5000; a Secure cookie would never come back there and sign-in would loop.
    Public hostnames always get Secure cookies.
    """

    def get_cookie_secure(self, app: Flask) -> bool:
        if not app.config["SESSION_COOKIE_SECURE"]:
            return False
        if has_request_context() and not request.is_secure and _is_local_host(request.host):
            return False
        return True


def _is_local_host(host: str) -> bool:
    hostname = (urlsplit("//" + host).hostname or "").lower()
    if hostname == "localhost" or hostname.endswith((".localhost", ".local")):
        return True
    try:
        address = ipaddress.ip_address(hostname)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local


def secret_key(conf: Any) -> str:
    """CONF.SECRET_KEY, else one generated once into DATA_DIR/secret_key (mode 0600)."""
    if conf.SECRET_KEY:
        return str(conf.SECRET_KEY)
    data_dir = Path(str(conf.DATA_DIR or "data"))
    if not data_dir.is_absolute():
        data_dir = ROOT / data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "secret_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text().strip()
        if key:
            return key
        raise RuntimeError(f"{path} is empty; delete it to generate a new key") from None
    with os.fdopen(fd, "w") as fh:
        key = secrets.token_urlsafe(48)
        fh.write(key)
    return key


def create_app(conf: Any = None, *, redis_client: Any = None) -> Flask:
    """Build the EchoNest Flask app for ``conf`` (default CONF); ``redis_client`` for tests."""
    conf = CONF if conf is None else conf
    app = Flask(__name__, root_path=str(ROOT), template_folder="templates",
                static_folder="static")
    app.config.update(
        ECHONEST_CONF=conf,
        SECRET_KEY=secret_key(conf),
        DEBUG=bool(conf.DEBUG),
        SESSION_COOKIE_NAME="echonest_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=not conf.DEBUG,
        PERMANENT_SESSION_LIFETIME=timedelta(days=30),
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
    )
    app.session_interface = SessionInterface()
    hops = int(conf.TRUSTED_PROXY_HOPS or 0)
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Behind a proxy every request comes from the proxy's address; without this, per-IP
        # rate limits would be one shared bucket for everyone.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    app.json.sort_keys = False
    if redis_client is not None:
        app.extensions.setdefault("echonest", {})["redis"] = redis_client

    from echonest import logs, metrics
    from echonest.web import register_blueprints, spotify_routes, stream

    register_blueprints(app)
    metrics.init_app(app)
    logs.init_app(app)  # after metrics: its request id is the very first thing set
    app.register_blueprint(spotify_routes.bp)
    app.register_blueprint(stream.bp)
    stream.init_app(app)
    return app


_app: Flask | None = None
_app_lock = threading.Lock()


def __getattr__(name: str) -> Any:
    # `from app import app` builds the default app on first access, not at import.
    if name == "app":
        global _app
        if _app is None:
            with _app_lock:
                if _app is None:
                    _app = create_app()
        return _app
    raise AttributeError(name)
