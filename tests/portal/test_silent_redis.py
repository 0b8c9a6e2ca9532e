"""A Redis that accepts connections and never answers: pages, login and /healthz still answer quickly.

The Redis here is a real socket server that reads what it is sent and stays
silent, as a swapping or overloaded Redis does (a refused connection is the easy case).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from django.urls import reverse

from portal import redis_guard
from reminders import slots

from ..factories import PASSWORD

LIMIT_SECONDS = 2.0


class SilentRedis:
    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.connections: list[socket.socket] = []
        self.received = 0
        self.stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _accept(self) -> None:
        self.server.settimeout(0.1)
        while not self.stopped.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections.append(conn)
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        conn.settimeout(0.1)
        while not self.stopped.is_set():
            try:
                data = conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            self.received += len(data)  # read, and never a word back

    def close(self) -> None:
        self.stopped.set()
        for conn in self.connections:
            conn.close()
        self.server.close()


@pytest.fixture
def silent_redis(settings, postgres) -> Iterator[SilentRedis]:
    silent = SilentRedis()
    settings.REDIS_URL = silent.url
    settings.PAGE_CACHE = True
    settings.REDIS_TIMEOUT_SECONDS = 0.5
    settings.CACHES = {
        "default": {
            "BACKEND": "portal.cache.GuardedRedisCache",
            "LOCATION": silent.url,
        }
    }
    redis_guard.recovered()
    yield silent
    redis_guard.recovered()
    silent.close()


def _timed(call):
    redis_guard.recovered()  # each request pays for finding Redis silent, as the first after a pause does
    began = time.monotonic()
    response = call()
    return response, time.monotonic() - began


def test_a_family_logs_in_and_reads_their_pages(silent_redis, client, guardian, patient):
    from ..factories import ProcedureFactory

    procedure = ProcedureFactory(patient=patient)
    response, took = _timed(lambda: client.get(reverse("login")))
    assert response.status_code == 200 and took < LIMIT_SECONDS
    response, took = _timed(
        lambda: client.post(reverse("login"), {"username": guardian.user.email, "password": PASSWORD})
    )
    assert response.status_code == 302 and took < LIMIT_SECONDS
    for url in (reverse("family:dashboard"), reverse("family:procedure", args=[procedure.pk])):
        response, took = _timed(lambda url=url: client.get(url))
        assert response.status_code == 200, url
        assert took < LIMIT_SECONDS, (url, took)
    assert silent_redis.received > 0  # Redis was asked, and said nothing


def test_a_nurse_signs_in_and_reads_the_dashboard_and_list(silent_redis, client, nurse, patient):
    response, took = _timed(lambda: client.post(reverse("login"), {"username": nurse.email, "password": PASSWORD}))
    assert response.status_code == 302 and took < LIMIT_SECONDS
    for url in (reverse("nurse:dashboard"), reverse("nurse:procedure_list")):
        response, took = _timed(lambda url=url: client.get(url))
        assert response.status_code == 200, url
        assert took < LIMIT_SECONDS, (url, took)


def test_a_signed_in_session_survives_and_sign_out_holds(silent_redis, client, guardian):
    client.force_login(guardian.user)
    assert _timed(lambda: client.get(reverse("family:dashboard")))[0].status_code == 200
    client.post(reverse("logout"))
    response, _ = _timed(lambda: client.get(reverse("family:dashboard")))
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_healthz_names_redis_as_not_answering_within_the_limit(silent_redis, client, db):
    response, took = _timed(lambda: client.get(reverse("healthz")))
    assert took < LIMIT_SECONDS
    assert response.status_code == 200  # pages are still served: keep the container in rotation
    assert response.json()["status"] == "degraded"
    assert response.json()["redis"] == "not answering" and response.json()["database"] == "ok"


def test_provider_calls_go_out_bounded_per_process_without_waiting_on_redis(silent_redis, settings):
    settings.PROVIDER_CONCURRENCY = {"twilio": 5, "email": 5}
    began = time.monotonic()
    with slots.calls("twilio", 3) as allowed:
        assert allowed == 3
    with slots.calls("twilio", 3) as allowed:  # Redis resting: no second wait
        assert allowed == 3
    assert time.monotonic() - began < LIMIT_SECONDS
