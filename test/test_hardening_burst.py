"""Bursts against ONE real web process: 500 requests and 500 WebSocket handshakes at once.

A party's phones reconnecting after a Wi-Fi blip arrive together; each must be served, or
refused with a clear status before any upgrade, never a 500 and never a silent socket.
"""

from __future__ import annotations

import json
import threading

import requests
import websocket
from servers import WAIT, Guest, web_server

BURST = 500


def _run_together(count: int, work) -> list:
    """Start ``count`` threads that call ``work(i)`` at the same moment; their results."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=60)
            results[i] = work(i)
        except Exception as exc:  # reported by the assertions below
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_a_burst_of_http_requests_gets_no_server_errors(r, redis_url):
    with web_server(redis_url, {"USE_BENDER": False}) as server:
        guest = Guest(server.url, "Burst")

        def one(_: int) -> tuple[int, str]:
            resp = requests.get(f"{server.url}/api/nests/main", timeout=60,
                                headers={"Cookie": guest.cookie, "Connection": "close"})
            return resp.status_code, resp.text

        results = _run_together(BURST, one)
    failures = [res for res in results if not isinstance(res, tuple)]
    assert failures == []
    statuses = sorted({status for status, _ in results})
    assert statuses == [200], [text[:200] for status, text in results if status != 200][:5]


def test_a_burst_of_websocket_handshakes_is_served_every_time(r, redis_url):
    with web_server(redis_url, {"USE_BENDER": False}) as server:
        guest = Guest(server.url, "Burst")
        code = guest.create_nest()
        sockets: list = []
        lock = threading.Lock()

        def one(_: int):
            try:
                ws = websocket.create_connection(f"{server.ws_url}/socket/{code}",
                                                 header=[f"Cookie: {guest.cookie}"],
                                                 timeout=60)
            except websocket.WebSocketBadStatusException as exc:
                return exc.status_code, exc.resp_body
            with lock:
                sockets.append(ws)
            # Every accepted socket must be told the state: never accepted-then-silent.
            ws.settimeout(WAIT * 2)
            while True:  # others' member_update frames may come first
                event = json.loads(ws.recv()).get("event")
                if event == "queue_update":
                    return 101, event

        try:
            results = _run_together(BURST, one)
        finally:
            for ws in sockets:
                try:
                    ws.close(timeout=1)
                except Exception:  # noqa: S110 - best effort while tearing down
                    pass
    failures = [repr(res) for res in results if not isinstance(res, tuple)]
    assert failures == []
    refused = [res for res in results if res[0] != 101]
    assert refused == [], refused[:5]
    assert {event for _, event in results} == {"queue_update"}


def test_storage_trouble_is_a_503_in_the_error_shape_before_any_upgrade(r, redis_url, tmp_path):
    from hardening_support import logged_server

    from echonest.engine import free_port

    with web_server(redis_url, {"USE_BENDER": False}) as healthy:
        guest = Guest(healthy.url, "Stranded")  # same SECRET_KEY: the cookie works anywhere
    dead_url = f"redis://127.0.0.1:{free_port()}/0"
    with logged_server(dead_url, tmp_path / "server.log", storage_up=False) as (port, log_path):
        resp = requests.get(f"http://127.0.0.1:{port}/api/nests/main", timeout=60,
                            headers={"Cookie": guest.cookie})
        assert resp.status_code == 503 and resp.json()["error"] == "unavailable"
        assert int(resp.headers["Retry-After"]) >= 1
        try:
            websocket.create_connection(f"ws://127.0.0.1:{port}/socket", timeout=60,
                                        header=[f"Cookie: {guest.cookie}"])
        except websocket.WebSocketBadStatusException as exc:
            assert exc.status_code == 503
            assert json.loads(exc.resp_body)["error"] == "unavailable"
        else:
            raise AssertionError("a socket was accepted that storage could not serve")
    assert "Traceback" not in log_path.read_text(errors="replace")
