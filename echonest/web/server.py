"""One gevent web server process: ``python -m echonest.web.server --port N`` (or ``--fd N``).

gevent's monkey-patching happens first, in ``main()`` only, before Flask, redis or our app are
imported, so sockets, threads and queues used by the app are cooperative. Importing this
module patches nothing.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from typing import Any

log = logging.getLogger("echonest.web.server")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m echonest.web.server")
    parser.add_argument("--host", default=None, help="bind address (default CONF.HOST)")
    parser.add_argument("--port", type=int, default=None, help="port (default CONF.PORT)")
    parser.add_argument("--fd", type=int, default=None,
                        help="serve on this inherited, already listening socket (the runner)")
    parser.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE",
                        help="override a CONF key for this process (value read as YAML)")
    parser.add_argument("--parent-pid", type=int, default=None,
                        help="exit when this process goes away (set by the runner)")
    return parser.parse_args(argv)


def apply_overrides(conf: Any, pairs: list[str]) -> None:
    import yaml

    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.isupper():
            raise SystemExit(f"--conf expects KEY=VALUE with an UPPER_SNAKE key, got {pair!r}")
        setattr(conf, key, yaml.safe_load(raw) if raw else "")


def _listener(args: argparse.Namespace, conf: Any):
    import socket

    if args.fd is not None:
        sock = socket.socket(fileno=args.fd)
        sock.setblocking(False)
        return sock
    return (args.host or conf.HOST, int(args.port if args.port is not None else conf.PORT))


LISTEN_BACKLOG = 1024  # a reconnect burst of hundreds of phones must not overflow the queue


def _raise_fd_limit() -> None:
    """Soft RLIMIT_NOFILE up to the hard limit: every open socket costs descriptors."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ImportError, ValueError, OSError) as exc:
        log.info("could not raise the open-file limit: %s", exc)


def _watch_parent(parent_pid: int, stop) -> None:
    import gevent

    while True:
        gevent.sleep(1.0)
        if os.getppid() != parent_pid:
            log.warning("runner %s is gone; stopping", parent_pid)
            stop()
            return


def _prepare_memory_release(app: Any) -> None:
    """A reconnect burst opens pooled Redis connections up to the cap and redis-py keeps them
    all: after a wave of leaves, close the idle ones beyond a few. And make now what a trim
    would otherwise make mid-wave (echonest.web.memory)."""
    import functools

    from echonest.web import context, memory

    with app.app_context():
        pool = getattr(context.redis(), "connection_pool", None)  # a cluster client has none
    if pool is not None:
        memory.on_trim(functools.partial(memory.shrink_pool, pool))
    memory.prepare()


def _freeze_startup_objects() -> None:
    """Move everything built at start-up (modules, the app, compiled templates and scripts)
    out of the cyclic collector's sight. A full collection otherwise walks those few hundred
    thousand objects each time, a 30 ms stall of every request and frame at once, which was
    the 99th percentile under load (docs/performance.md, "Collector pauses")."""
    import atexit
    import gc

    gc.collect()
    gc.freeze()
    # At exit they must be collectable again before modules are torn down, or finalizers
    # (logging's handler weakrefs) run against half-cleared modules and print tracebacks.
    atexit.register(gc.unfreeze)


def main(argv: list[str] | None = None) -> int:
    from gevent import monkey

    monkey.patch_all()

    import gevent

    from config import CONF
    from echonest.web.connections import build_server

    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if CONF.DEBUG else logging.INFO,
                        format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s")
    apply_overrides(CONF, args.conf)

    from app import create_app

    app = create_app(CONF)
    _prepare_memory_release(app)
    _freeze_startup_objects()
    _raise_fd_limit()
    listener = _listener(args, CONF)
    server = build_server(listener, app, CONF, log=None, error_log=log,
                          **({} if args.fd is not None else {"backlog": LISTEN_BACKLOG}))

    stopping = []

    def stop(*_):
        stopping.append(True)
        if not server.started:
            return  # stopped while still starting up: main() sees the flag and returns

        def stop_in_order():
            # Close every stream first (WebSockets get 1001 and leave their nest), then stop
            # accepting and give in-flight requests a moment.
            from echonest.web import stream

            stream.shutdown(app)
            server.stop(timeout=3.0)

        gevent.spawn(stop_in_order)

    gevent.signal_handler(signal.SIGTERM, stop)
    gevent.signal_handler(signal.SIGINT, stop)
    if args.parent_pid:
        gevent.spawn(_watch_parent, args.parent_pid, stop)
    if stopping:
        return 0
    server.start()
    log.info("web process %s serving on %s:%s", os.getpid(), *server.address[:2])
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
