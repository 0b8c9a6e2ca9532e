"""The one outbound HTTP wrapper keeps connections open, and a kept connection fails as safely as a new one.

Real sockets against small servers on this machine: HTTP/1.1 as Twilio speaks
it (the connection stays open after an answer), one that closes a kept
connection while it is idle, one that takes a request and hangs up without
answering, and outbound proxies read from the environment as urllib reads them.
"""

from __future__ import annotations

import json
import select
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from reminders import http

WAIT = 20


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.lock = threading.Lock()
        self.connections = 0
        self.requests: list[tuple[str, dict[str, str]]] = []  # request line, headers
        self.hang_up = threading.Event()  # the next request is read, then the connection closed unanswered
        self.closed_idle = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class KeepAlive(BaseHTTPRequestHandler):
    """Answers each request on a connection kept open (HTTP/1.1), like Twilio's API."""

    protocol_version = "HTTP/1.1"
    # The answer goes out as soon as it is written, as a web server sends it: with Nagle's algorithm
    # on, the body would wait for the client to acknowledge the headers (up to 40 ms of delayed ACK).
    disable_nagle_algorithm = True
    server: Server

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._answer()

    def do_GET(self) -> None:
        self._answer()

    def do_CONNECT(self) -> None:
        self._note()
        self.send_response(403)
        self.send_header("Content-Length", "0")
        self.end_headers()
        self.close_connection = True

    def _note(self) -> None:
        with self.server.lock:
            self.server.requests.append((self.requestline, dict(self.headers)))

    def _answer(self) -> None:
        self._note()
        if self.server.hang_up.is_set():
            self.close_connection = True
            return
        body = json.dumps({"sid": f"SM{len(self.server.requests)}"}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class ClosesWhenIdle(KeepAlive):
    """Answers, then closes the connection as a server does with one left idle too long."""

    def handle(self) -> None:
        self.handle_one_request()
        self.server.closed_idle.set()


@pytest.fixture
def serve() -> Iterator[Callable[[type[BaseHTTPRequestHandler]], Server]]:
    started: list[Server] = []

    def start(handler: type[BaseHTTPRequestHandler] = KeepAlive) -> Server:
        server = Server(handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def no_proxy_and_nothing_kept(monkeypatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(http, "_kept", http._Kept())


def kept_socket(server: Server):
    [(connection, _since)] = http._kept.idle[(("http", "127.0.0.1", server.server_address[1]), None)]
    return connection.sock


def test_requests_to_the_same_server_share_one_connection(serve):
    server = serve()
    answers = [http.post(server.url + "/Messages.json", {"To": f"+1312555000{n}"}) for n in range(3)]
    assert [answer.status for answer in answers] == [201] * 3
    assert [answer.body["sid"] for answer in answers] == ["SM1", "SM2", "SM3"]
    assert server.connections == 1


def test_a_connection_the_server_closed_while_idle_is_not_used_again(serve):
    server = serve(ClosesWhenIdle)
    assert http.post(server.url, {"To": "+13125550001"}).status == 201
    assert server.closed_idle.wait(WAIT)
    # The server's close has reached our end of the kept connection.
    sock = kept_socket(server)
    deadline = time.monotonic() + WAIT
    while not select.select([sock], [], [], 0.05)[0]:
        assert time.monotonic() < deadline, "the server's close never arrived"

    answer = http.post(server.url, {"To": "+13125550002"})

    # Not an unknown outcome: the request went out on a new connection and was answered.
    assert answer.status == 201
    assert server.connections == 2 and len(server.requests) == 2


def test_a_connection_idle_too_long_is_closed_rather_than_used(serve, monkeypatch):
    server = serve()
    http.post(server.url, {"To": "+13125550001"})
    monkeypatch.setattr(http, "IDLE_SECONDS", 0)
    http.post(server.url, {"To": "+13125550002"})
    assert server.connections == 2


def test_a_forked_worker_never_continues_its_parents_connections(serve):
    server = serve()
    http.post(server.url, {"To": "+13125550001"})
    http._kept.pid = -1  # as a child process sees the parent's pool
    http.post(server.url, {"To": "+13125550002"})
    assert server.connections == 2


def test_a_kept_connection_that_hangs_up_after_the_request_went_out_is_no_answer(serve):
    server = serve()
    http.post(server.url, {"To": "+13125550001"})
    server.hang_up.set()
    with pytest.raises(http.NoAnswer):
        http.post(server.url, {"To": "+13125550002"})
    assert server.connections == 1  # the request went out on the kept connection, and the server had it
    assert len(server.requests) == 2
    assert not http._kept.idle[(("http", "127.0.0.1", server.server_address[1]), None)]  # the broken one is not kept


def test_plain_http_goes_through_the_proxy_in_the_environment(serve, monkeypatch):
    proxy = serve()
    monkeypatch.setenv("HTTP_PROXY", f"http://relay:s3cret@127.0.0.1:{proxy.server_address[1]}")
    answer = http.post("http://api.example.org/2010-04-01/Messages.json", {"To": "+13125550001"})
    assert answer.status == 201
    [(line, headers)] = proxy.requests
    assert line == "POST http://api.example.org/2010-04-01/Messages.json HTTP/1.1"
    assert headers["Host"] == "api.example.org"
    assert headers["Proxy-Authorization"] == "Basic cmVsYXk6czNjcmV0"  # relay:s3cret


def test_https_asks_the_proxy_for_a_tunnel_and_a_refused_one_never_reached_the_provider(serve, monkeypatch):
    proxy = serve()
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
    with pytest.raises(http.TransportError):
        http.post("https://api.example.org/2010-04-01/Messages.json", {"To": "+13125550001"})
    [(line, _headers)] = proxy.requests
    assert line == "CONNECT api.example.org:443 HTTP/1.0"


def test_no_proxy_sends_straight_to_the_server(serve, monkeypatch):
    server, proxy = serve(), serve()
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert http.post(server.url, {"To": "+13125550001"}).status == 201
    assert (len(server.requests), proxy.requests) == (1, [])


def test_a_proxy_set_or_removed_later_is_followed(serve, monkeypatch):
    server, proxy = serve(), serve()
    assert http.post(server.url, {"To": "+13125550001"}).status == 201
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    assert http.post(server.url, {"To": "+13125550002"}).status == 201
    monkeypatch.delenv("HTTP_PROXY")
    assert http.post(server.url, {"To": "+13125550003"}).status == 201
    assert (len(server.requests), len(proxy.requests)) == (2, 1)
