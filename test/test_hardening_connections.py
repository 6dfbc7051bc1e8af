"""One web process against hostile or careless connections (a real server process).

Slow headers and idle keep-alives are closed, one address cannot hold every connection,
the server's own error replies carry the JSON error shape without ERROR logs, and a
WebSocket close completes (the server answers and hangs up instead of reading the close
frame as the next HTTP request).
"""

from __future__ import annotations

import json
import socket
import time

import websocket
from hardening_support import logged_server
from servers import WAIT, Guest

OTHER_LOOPBACK = "127.0.0.2"  # another peer address on this machine


def _connect(port: int, source: str | None = None) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT,
                                    source_address=(source, 0) if source else None)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (timeout = test failure)."""
    sock.settimeout(WAIT)
    chunks = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _status_and_json(raw: bytes) -> tuple[int, dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body)


def _health(port: int, source: str | None = None) -> int:
    sock = _connect(port, source)
    try:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        raw = _read_all(sock)
    finally:
        sock.close()
    return int(raw.split(b" ", 2)[1])


def test_slow_headers_are_cut_off_with_a_408(r, redis_url, tmp_path):
    with logged_server(redis_url, tmp_path / "server.log", HTTP_HEADER_TIMEOUT_SECONDS=1) as (port, _):
        sock = _connect(port)
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Slow: a")  # never finished
        status, body = _status_and_json(_read_all(sock))
        sock.close()
        assert status == 408 and body["error"] == "request_timeout" and body["message"]
        silent = _connect(port)  # connects and never sends a byte
        assert _read_all(silent) == b""
        silent.close()


def test_an_idle_keep_alive_connection_is_closed(r, redis_url, tmp_path):
    with logged_server(redis_url, tmp_path / "server.log", HTTP_IDLE_TIMEOUT_SECONDS=1) as (port, _):
        sock = _connect(port)
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        raw = _read_all(sock)  # returns only once the server hangs up the idle connection
        sock.close()
        assert raw.startswith(b"HTTP/1.1 200")


def test_one_address_cannot_hold_every_connection_and_health_keeps_answering(r, redis_url, tmp_path):
    with logged_server(redis_url, tmp_path / "server.log", HTTP_MAX_CONNECTIONS_PER_IP=5, HTTP_CAP_LOOPBACK=True,
                       HTTP_HEADER_TIMEOUT_SECONDS=30) as (port, _):
        hogs = []
        try:
            for _ in range(5):
                sock = _connect(port)
                sock.sendall(b"GET /health HTTP/1.1\r\n")  # and then nothing
                hogs.append(sock)
            time.sleep(0.3)  # let the server accept them all
            extra = _connect(port)
            status, body = _status_and_json(_read_all(extra))
            extra.close()
            assert status == 429 and body["error"] == "rate_limited"
            assert _health(port, OTHER_LOOPBACK) == 200
        finally:
            for sock in hogs:
                sock.close()
        # The hog's slots come back once its connections are gone.
        deadline = time.monotonic() + WAIT
        while True:
            try:
                if _health(port) == 200:
                    break
            except OSError:
                pass  # refused while the hog's slots were still counted
            assert time.monotonic() < deadline
            time.sleep(0.1)


def test_the_servers_own_error_replies_are_json_and_not_errors_in_the_log(r, redis_url, tmp_path):
    with logged_server(redis_url, tmp_path / "server.log") as (port, log_path):
        long_line = _connect(port)
        long_line.sendall(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n")
        status, body = _status_and_json(_read_all(long_line))
        long_line.close()
        assert status == 414 and body["error"] == "invalid_request" and body["message"]
        garbage = _connect(port)
        garbage.sendall(b"\x88\x80junk\r\n\r\n")
        status, body = _status_and_json(_read_all(garbage))
        garbage.close()
        assert status == 400 and body["error"] == "invalid_request" and body["message"]
    log = log_path.read_text(errors="replace")
    assert " ERROR " not in log and "Traceback" not in log, log[-2000:]


def test_a_client_close_completes_and_the_server_hangs_up(r, redis_url, tmp_path):
    with logged_server(redis_url, tmp_path / "server.log") as (port, log_path):
        guest = Guest(f"http://127.0.0.1:{port}", "Closer")
        ws = websocket.create_connection(f"ws://127.0.0.1:{port}/socket",
                                         header=[f"Cookie: {guest.cookie}"], timeout=WAIT)
        ws.recv()  # the session is up
        ws.send_close()
        opcodes = []
        while websocket.ABNF.OPCODE_CLOSE not in opcodes:
            opcode, _ = ws.recv_data(control_frame=True)
            opcodes.append(opcode)
        # After its close frame the server ends the TCP connection instead of waiting for a
        # next "HTTP request" on it.
        ws.sock.settimeout(WAIT)
        assert ws.sock.recv(1) == b""
        ws.sock.close()
    log = log_path.read_text(errors="replace")
    assert "Expected GET method" not in log and "Traceback" not in log, log[-2000:]


def test_accepted_sockets_skip_nagle(monkeypatch):
    """TCP_NODELAY: an ack and the update after it must not wait for a delayed ACK."""
    seen = []

    def app(environ, start_response):
        sock = environ["wsgi.input"].rfile.raw._sock
        seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    _serve_once({"log": None}, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", app)
    assert seen and seen[0] != 0


def _serve_once(server_kwargs, request: bytes, app=None):
    """One request through an in-process EchoServer; returns what the app saw (the request
    and content headers, unless ``app`` is given)."""
    import gevent
    from gevent import socket as gsocket

    from echonest.web.connections import EchoServer

    seen = []

    def echo_app(environ, start_response):
        seen.append({k: v for k, v in environ.items() if k.startswith(("HTTP_", "CONTENT_"))})
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    listener = gsocket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    server = EchoServer(listener, app or echo_app, **server_kwargs)
    server.start()
    try:
        client = gsocket.create_connection(listener.getsockname())
        client.sendall(request)
        with gevent.Timeout(WAIT):
            while client.recv(1024):
                pass
        client.close()
    finally:
        server.stop()
    return seen


def test_plain_and_folded_headers_reach_the_app_alike():
    """The plain-header fast path (echonest.web.http_headers) and gevent's parser agree."""
    plain = _serve_once({"log": None}, b"GET / HTTP/1.1\r\nHost: x\r\nX-Note: a b\r\n"
                        b"Cookie: a=1\r\nCookie: b=2\r\nConnection: close\r\n\r\n")
    folded = _serve_once({"log": None}, b"GET / HTTP/1.1\r\nHost: x\r\nX-Note: a\r\n b\r\n"
                         b"Cookie: a=1\r\nCookie: b=2\r\nConnection: close\r\n\r\n")
    assert plain[0]["HTTP_COOKIE"] == "a=1; b=2"
    assert plain[0]["HTTP_X_NOTE"] == "a b"
    assert folded[0]["HTTP_COOKIE"] == "a=1; b=2" and folded[0]["HTTP_X_NOTE"].startswith("a")


def test_an_access_log_when_given_still_gets_a_line_per_request():
    """The web process runs without one (log=None: no line is even formatted); a server given
    a log still writes it."""
    import io

    log = io.StringIO()
    _serve_once({"log": log}, b"GET /some/path HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert '"GET /some/path HTTP/1.1" 200 ' in log.getvalue()
