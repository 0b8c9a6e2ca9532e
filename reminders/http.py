"""All outbound HTTP goes through here, with a timeout. Tests patch `post` only.

Connections are kept open between requests to the same server (HTTP keep-alive),
so a busy send worker does not pay a new TCP and TLS handshake for every text.
What a failure means stays the same whether the connection was new or kept:
one that broke before the whole request went out never reached the provider;
one that broke after it did is an unknown outcome.
"""

from __future__ import annotations

import base64
import functools
import http.client
import json
import os
import select
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass

TIMEOUT_SECONDS = 10
# A kept connection idle this long is closed rather than used: servers and load balancers close
# idle connections after a while, and one closed just as a request goes out would leave that
# request's outcome unknown.
IDLE_SECONDS = 30
# Kept connections per server, beyond which a finished one is closed.
KEEP_AT_MOST = 64


@dataclass(frozen=True)
class Response:
    status: int
    body: dict


class TransportError(Exception):
    """The request did not get through: DNS, refused connection, or it broke while being sent.

    The provider never had a whole request, so trying again cannot make a copy.
    """


class NoAnswer(Exception):
    """The whole request went out but no answer came back (timeout, dropped connection).

    The provider may or may not have acted on it: find out before sending again.
    """


def post(url: str, data: dict[str, str], *, auth: tuple[str, str] | None = None) -> Response:
    body = urllib.parse.urlencode(data).encode()
    return _call("POST", url, body, auth, {"Content-Type": "application/x-www-form-urlencoded"})


def get(url: str, params: dict[str, str], *, auth: tuple[str, str] | None = None) -> Response:
    return _call("GET", url + "?" + urllib.parse.urlencode(params), None, auth, {})


Server = tuple[str, str, int]  # scheme, host, port
Route = tuple[Server, "_Proxy | None"]  # a server, and the proxy the connection goes through


class _Kept:
    """Open connections to each server, for one process (a forked worker starts with none)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pid = os.getpid()
        self.idle: dict[Route, list[tuple[http.client.HTTPConnection, float]]] = {}

    def take(self, route: Route) -> http.client.HTTPConnection | None:
        with self.lock:
            if self.pid != os.getpid():
                # The parent's sockets: another process's conversations, never ours to continue.
                self.pid, self.idle = os.getpid(), {}
            idle = self.idle.get(route, [])
            while idle:
                connection, since = idle.pop()
                if time.monotonic() - since < IDLE_SECONDS and not _closed_by_server(connection):
                    return connection
                connection.close()
        return None

    def give_back(self, route: Route, connection: http.client.HTTPConnection) -> None:
        with self.lock:
            idle = self.idle.setdefault(route, [])
            if self.pid == os.getpid() and len(idle) < KEEP_AT_MOST:
                idle.append((connection, time.monotonic()))
                return
        connection.close()


_kept = _Kept()


def _closed_by_server(connection: http.client.HTTPConnection) -> bool:
    """An idle connection has nothing to read unless the server closed it (or broke the protocol)."""
    sock = connection.sock
    if sock is None:
        return True
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def _call(method: str, url: str, body: bytes | None, auth: tuple[str, str] | None, headers: dict[str, str]) -> Response:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TransportError(f"not a web address: {url}")
    server = (parts.scheme, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    path = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
    headers = {**headers, "Host": parts.netloc, "Accept": "application/json", "User-Agent": "MarrowReady"}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()

    proxy = _proxy_for(parts.scheme, parts.hostname)
    if proxy is not None and parts.scheme == "http":
        # A plain-HTTP request through a proxy names the whole address.
        path, headers = url, {**headers, **dict(proxy.headers)}
    # A connection is kept for the way it was made: straight to the server, or through this proxy.
    route = (server, proxy)
    connection = _kept.take(route)
    if connection is None:
        connection = _connect(server, proxy)
    try:
        try:
            # Connecting (a new connection) and writing the request: a failure here means the
            # server never had the whole request.
            connection.request(method, path, body=body, headers=headers)
        except (TimeoutError, OSError, http.client.HTTPException) as error:
            raise TransportError(str(error) or type(error).__name__) from error
        try:
            answer = connection.getresponse()
            raw = answer.read()
        except (TimeoutError, OSError, http.client.HTTPException) as error:
            # Raised while waiting for the answer: the request itself had gone out.
            raise NoAnswer(str(error) or type(error).__name__) from error
    except BaseException:
        connection.close()
        raise
    if answer.will_close:
        connection.close()
    else:
        _kept.give_back(route, connection)
    return Response(answer.status, _json(raw))


@dataclass(frozen=True)
class _Proxy:
    host: str
    port: int
    headers: tuple[tuple[str, str], ...]


# What urllib reads to choose a proxy (it ignores HTTP_PROXY when REQUEST_METHOD says it runs as a CGI script).
_PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY", "REQUEST_METHOD")


def _proxy_for(scheme: str, host: str) -> _Proxy | None:
    """The outbound proxy from the environment (HTTPS_PROXY, HTTP_PROXY, NO_PROXY), as urllib reads it.

    urllib reads the whole environment on every call; the answer is kept for as
    long as the variables it depends on keep their values.
    """
    return _proxy_from(scheme, host, tuple(os.environ.get(name) for name in _PROXY_VARIABLES))


@functools.lru_cache(maxsize=64)
def _proxy_from(scheme: str, host: str, _environment: tuple[str | None, ...]) -> _Proxy | None:
    address = urllib.request.getproxies().get(scheme)
    if not address or urllib.request.proxy_bypass(host):
        return None
    parts = urllib.parse.urlsplit(address if "://" in address else f"http://{address}")
    headers = {}
    if parts.username:
        credentials = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
        headers["Proxy-Authorization"] = "Basic " + base64.b64encode(credentials.encode()).decode()
    return _Proxy(parts.hostname or "", parts.port or 80, tuple(headers.items()))


def _connect(server: Server, proxy: _Proxy | None) -> http.client.HTTPConnection:
    scheme, host, port = server
    kind = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
    if proxy is None:
        return kind(host, port, timeout=TIMEOUT_SECONDS)
    if scheme == "http":
        return http.client.HTTPConnection(proxy.host, proxy.port, timeout=TIMEOUT_SECONDS)
    # HTTPS through a proxy: a tunnel (CONNECT) to the server, TLS inside it.
    connection = kind(proxy.host, proxy.port, timeout=TIMEOUT_SECONDS)
    connection.set_tunnel(host, port, headers=dict(proxy.headers))
    return connection


def _json(raw: bytes) -> dict:
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
