"""The gevent WSGI server's connection handling: timeouts, a per-IP cap, TCP_NODELAY, JSON errors.

gevent's stock server waits forever for a request line and its headers, keeps idle keep-alive
connections forever, accepts any number of connections from one address and answers malformed
requests with an empty body plus an ERROR log line. One client could hold every file descriptor
of the process (slowloris) so that ``/health`` stops answering. Here:

- a request's line and headers must arrive within ``HTTP_HEADER_TIMEOUT_SECONDS`` (else 408 and
  close), and an idle keep-alive connection is closed after ``HTTP_IDLE_TIMEOUT_SECONDS``;
- one peer address holds at most ``HTTP_MAX_CONNECTIONS_PER_IP`` connections at once; more are
  answered 429 and closed. Behind a reverse proxy (``TRUSTED_PROXY_HOPS`` > 0) every peer is the
  proxy, so the cap is the proxy's job and is off here; loopback peers (a proxy or tools on this
  host) are uncapped unless ``HTTP_CAP_LOOPBACK`` is set;
- ``TCP_NODELAY`` on every accepted socket: an action's ack and the update that follows are two
  small writes, and without it the second waits ~40 ms for the client's delayed ACK;
- 400/408/414/500 replies written by the server itself carry the JSON error shape and are
  logged at INFO (a client's garbage is not our error);
- a connection that became a WebSocket is handed over (``detach``): the view writes the 101
  answer, takes the descriptor and returns; the handler's greenlet ends and the socket lives on
  gevent's loop (echonest.web.ws_conn), still counted against its peer's cap until it closes.
  It is never read again as HTTP (the client's close frame used to be parsed as a request
  line: "Expected GET method").

Import after gevent's monkey-patching (echonest.web.server.main does).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import time
from collections import Counter
from http import HTTPStatus
from typing import Any

import gevent
from gevent.pywsgi import WSGIHandler, WSGIServer

from echonest.web import memory
from echonest.web.http_headers import read_headers

log = logging.getLogger("echonest.web.connections")

# A finished WebSocket's lingering close: how long / how much we read before closing for good.
LINGER_SECONDS = 1.0
LINGER_BYTES = 1 << 20
UPGRADED_ENVIRON_KEY = "echonest.websocket_upgraded"  # same string as stream.UPGRADED_ENVIRON_KEY
DETACH_ENVIRON_KEY = "echonest.detach"  # same string as stream.DETACH_ENVIRON_KEY
_CODES = {400: "invalid_request", 408: "request_timeout", 414: "invalid_request",
          429: "rate_limited", 500: "internal_error"}
_MESSAGES = {
    400: "The request could not be read.",
    408: "The request took too long to arrive.",
    414: "The request line is too long.",
    429: "Too many open connections from your address.",
    500: "Something went wrong on our side.",
}


class _SlowClient(Exception):
    """A request line or its headers did not arrive in time."""


def error_body(status: int) -> bytes:
    return json.dumps({"error": _CODES.get(status, "error"),
                       "message": _MESSAGES.get(status, HTTPStatus(status).phrase)}).encode()


def raw_response(status: int, extra_headers: tuple[str, ...] = ()) -> bytes:
    """A complete HTTP/1.1 error response with the JSON error shape, closing the connection."""
    body = error_body(status)
    head = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
            "Content-Type: application/json", f"Content-Length: {len(body)}",
            "Connection: close", *extra_headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def set_nodelay(sock: Any) -> None:
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):
        pass  # not TCP (a Unix socket): nothing to tune


class EchoHandler(WSGIHandler):
    """One connection: bounded waits for requests, JSON errors, no HTTP after a WebSocket."""

    _requests_read = 0
    detached = False

    def MessageClass(self, fp, *args):
        return read_headers(fp)  # plain header blocks without the email parser (http_headers)

    def get_environ(self):
        environ = super().get_environ()
        environ[DETACH_ENVIRON_KEY] = self.detach
        return environ

    def detach(self, response: bytes) -> tuple[int, Any]:
        """Write ``response`` (the 101), then give the caller the descriptor and a callback to
        release the peer's connection slot when the WebSocket ends. Nothing the client sent
        may sit unread in our buffer: a client must wait for the 101 before it sends frames."""
        self.socket.sendall(response)
        fd = self.socket.detach()
        self.detached = True
        return fd, self.server.releaser(self.client_address)

    def _limits(self) -> tuple[float, float]:
        return self.server.header_timeout, self.server.idle_timeout

    def read_requestline(self):
        header_timeout, idle_timeout = self._limits()
        # The first request must start promptly; later ones may idle up to the keep-alive limit.
        wait = idle_timeout if self._requests_read else header_timeout
        timer = gevent.Timeout.start_new(wait, _SlowClient) if wait > 0 else None
        try:
            line = super().read_requestline()
        except _SlowClient:
            return ""  # nothing (or not a full line) arrived: close quietly
        finally:
            if timer is not None:
                timer.close()
        self._requests_read += 1
        return line

    def read_request(self, raw_requestline):
        header_timeout, _ = self._limits()
        timer = gevent.Timeout.start_new(header_timeout, _SlowClient) \
            if header_timeout > 0 else None
        try:
            return super().read_request(raw_requestline)
        finally:
            if timer is not None:
                timer.close()

    def log_request(self):
        # With no access log (the web process passes log=None) gevent still formats every
        # request's line (a clock read and a string) only to drop it.
        if self.server.logs_requests:
            super().log_request()

    def handle_one_request(self):
        result = super().handle_one_request()
        if isinstance(result, tuple):
            status = int(str(result[0])[:3])
            return str(status), raw_response(status)
        return result

    def handle_one_response(self):
        try:
            super().handle_one_response()
        finally:
            if self.detached:
                self.close_connection = True
                self.socket = None  # the WebSocket owns the descriptor now
            elif (getattr(self, "environ", None) or {}).get(UPGRADED_ENVIRON_KEY):
                # The socket spoke WebSocket; whatever the client sends now is not HTTP.
                self.close_connection = True
                linger_close(getattr(self, "socket", None))

    def _handle_client_error(self, ex):
        if isinstance(ex, _SlowClient):
            log.info("closing %s: headers not received in time", self.client_address[0])
            return ("408", raw_response(408))
        log.info("invalid request from %s: %s", self.client_address[0],
                 str(getattr(ex, "formatted_message", "") or ex or type(ex).__name__)[:200])
        return ("400", raw_response(400))

    def _send_error_response_if_possible(self, error_code):
        if self.response_length:
            self.close_connection = True
            return
        body = error_body(error_code)
        try:
            self.start_response(f"{error_code} {HTTPStatus(error_code).phrase}",
                                [("Content-Type", "application/json"), ("Connection", "close"),
                                 ("Content-Length", str(len(body)))])
            self.write(body)
        except OSError:
            self.close_connection = True


class EchoServer(WSGIServer):
    """WSGIServer with a per-peer connection cap and TCP_NODELAY on accepted sockets."""

    handler_class = EchoHandler

    def __init__(self, listener, application, *, header_timeout: float = 10.0,
                 idle_timeout: float = 60.0, max_per_ip: int = 0, cap_loopback: bool = True,
                 **kwargs: Any):
        super().__init__(listener, application, **kwargs)
        self.logs_requests = kwargs.get("log", "default") is not None
        self.header_timeout = max(float(header_timeout or 0), 0.0)
        self.idle_timeout = max(float(idle_timeout or 0), 0.0)
        self.max_per_ip = max(int(max_per_ip or 0), 0)
        self.cap_loopback = cap_loopback
        self.open_by_ip: Counter[str] = Counter()
        # After a wave of leaves: a dict that counted 10,000 peers keeps its table until
        # rebuilt (echonest.web.memory).
        memory.on_trim(self._compact)

    def _compact(self) -> None:
        memory.rebuild(self.open_by_ip)

    def _capped(self, peer: str) -> bool:
        if not self.max_per_ip:
            return False
        if not self.cap_loopback:
            try:
                return not ipaddress.ip_address(peer).is_loopback
            except ValueError:
                return True
        return True

    def handle(self, sock, address):
        set_nodelay(sock)
        peer = address[0] if isinstance(address, tuple) and address else str(address)
        if self._capped(peer) and self.open_by_ip[peer] >= self.max_per_ip:
            self._refuse(sock, peer)
            return
        self.open_by_ip[peer] += 1
        handler = None
        try:
            handler = self.handler_class(sock, address, self)
            handler.handle()
        finally:
            if handler is None or not handler.detached:
                self._release(peer)

    def _release(self, peer: str) -> None:
        self.open_by_ip[peer] -= 1
        if self.open_by_ip[peer] <= 0:
            del self.open_by_ip[peer]

    def releaser(self, address: Any):
        """A once-only callback giving back a detached connection's slot."""
        peer = address[0] if isinstance(address, tuple) and address else str(address)
        done = []

        def release() -> None:
            if not done:
                done.append(True)
                self._release(peer)

        return release

    def _refuse(self, sock, peer: str) -> None:
        log.info("refusing a connection from %s: %d already open", peer, self.max_per_ip)
        try:
            sock.sendall(raw_response(429, ("Retry-After: 1",)))
        except OSError:
            pass
        finally:
            sock.close()


def build_server(listener: Any, app: Any, conf: Any, **kwargs: Any) -> EchoServer:
    """The server for one web process, its limits read from the config."""
    behind_proxy = int(conf.TRUSTED_PROXY_HOPS or 0) > 0
    header = conf.HTTP_HEADER_TIMEOUT_SECONDS
    idle = conf.HTTP_IDLE_TIMEOUT_SECONDS
    return EchoServer(
        listener, app,
        header_timeout=10.0 if header is None else float(header),
        idle_timeout=60.0 if idle is None else float(idle),
        max_per_ip=0 if behind_proxy else int(conf.HTTP_MAX_CONNECTIONS_PER_IP or 0),
        cap_loopback=bool(conf.HTTP_CAP_LOOPBACK),
        **kwargs)


def linger_close(sock, seconds: float = LINGER_SECONDS, limit: int = LINGER_BYTES) -> None:
    """Half-close a finished WebSocket, then read (and drop) what the client still sends until
    it closes, for at most ``seconds``/``limit`` bytes. Closing with unread data in the buffer
    makes the kernel answer with a reset, which can destroy our close frame before the client
    reads it (a busy client then sees "connection lost" instead of the close code)."""
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        return
    deadline = time.monotonic() + seconds
    drained = 0
    try:
        while drained < limit:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            sock.settimeout(left)
            chunk = sock.recv(65536)
            if not chunk:
                return
            drained += len(chunk)
    except OSError:
        return
