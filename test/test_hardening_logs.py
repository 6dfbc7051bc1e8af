"""Logs stay readable under trouble: one line per outage state change for heartbeats, and no
tracebacks when a nest is deleted under busy sockets."""

from __future__ import annotations

import logging
import threading

import websocket
from hardening_support import logged_server
from servers import WAIT, Guest

import nests
from echonest.engine import free_port
from echonest.store import connect
from echonest.web import stream
from echonest.web.auth import User


def _sessions(manager, count):
    user = User(id="guest:beater", name="Beater")
    return [stream.SocketSession("main", user, lambda: None, None, manager, 30)
            for _ in range(count)]


def test_heartbeats_during_an_outage_log_once_and_once_more_when_it_ends(r, caplog):
    stream.HEARTBEATS.down = False
    dead = nests.NestManager(connect(f"redis://127.0.0.1:{free_port()}/0"))
    caplog.set_level(logging.INFO, logger="echonest.web.stream")
    for _ in range(3):  # three beats of 50 sockets while Redis is unreachable
        for session in _sessions(dead, 50):
            session._heartbeat()
    failing = [rec for rec in caplog.records if rec.name == "echonest.web.stream"]
    assert len(failing) == 1 and failing[0].levelno == logging.WARNING
    assert failing[0].exc_info is None  # a line, not a traceback
    caplog.clear()
    alive = nests.NestManager(r)
    for session in _sessions(alive, 50):
        session._heartbeat()
    back = [rec.getMessage() for rec in caplog.records if rec.name == "echonest.web.stream"]
    assert len(back) == 1 and "working again" in back[0]


def test_deleting_a_nest_under_busy_sockets_logs_no_tracebacks(r, redis_url, tmp_path):
    with logged_server(redis_url, tmp_path / "server.log") as (port, log_path):
        owner = Guest(f"http://127.0.0.1:{port}", "Owner")
        code = owner.create_nest()
        sockets = [websocket.create_connection(f"ws://127.0.0.1:{port}/socket/{code}",
                                               header=[f"Cookie: {owner.cookie}"], timeout=WAIT)
                   for _ in range(10)]
        stop = threading.Event()

        def chatter(ws):
            try:
                while not stop.is_set():
                    ws.send('{"action": "ping", "ref": 1}')
            except Exception:  # noqa: S110 - the server closed it: that is the point
                pass

        threads = [threading.Thread(target=chatter, args=(ws,), daemon=True) for ws in sockets]
        for thread in threads:
            thread.start()
        assert owner.http.delete(f"http://127.0.0.1:{port}/api/nests/{code}", json={},
                                 timeout=WAIT).status_code == 200
        for ws in sockets:  # every socket is told and closed
            ws.settimeout(WAIT)
            while ws.recv_frame().opcode != websocket.ABNF.OPCODE_CLOSE:
                pass
        stop.set()
        for thread in threads:
            thread.join(timeout=WAIT)
        for ws in sockets:
            try:
                ws.close(timeout=0.5)
            except OSError:
                pass  # already closed by the server
    log = log_path.read_text(errors="replace")
    assert "Traceback" not in log and " ERROR " not in log, log[-3000:]
