"""MLLP over TLS with optional client certificates, with keys and certificates made for each test."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from procedures.feed import tls
from procedures.feed.listener import ListenerThread
from procedures.feed.models import InboundMessage
from procedures.models import Procedure

from . import corpus
from .certificates import Authority
from .conftest import frame, msa, read_ack
from .test_hl7_listener import siu


@pytest.fixture
def pki(tmp_path: Path) -> dict:
    hospital = Authority(tmp_path, "Lakeside CA")
    stranger = Authority(tmp_path, "Elsewhere CA")
    return {
        "ca": hospital,
        "server": hospital.issue("marrow-hl7", server=True),
        "engine": hospital.issue("lakeside-mirth", server=False),
        "expired": hospital.issue("old-mirth", server=False, expired=True),
        "stranger": stranger.issue("rogue-engine", server=False),
    }


def _listener(pki: dict, *, client_ca: bool) -> Iterator[ListenerThread]:
    context = tls.server_context(
        cert=str(pki["server"].cert), key=str(pki["server"].key), client_ca=str(pki["ca"].path) if client_ca else ""
    )
    thread = ListenerThread(ssl_context=context)
    thread.start()
    yield thread
    thread.stop()


@pytest.fixture
def mutual(pki, transactional_db) -> Iterator[ListenerThread]:
    yield from _listener(pki, client_ca=True)


@pytest.fixture
def server_only(pki, transactional_db) -> Iterator[ListenerThread]:
    yield from _listener(pki, client_ca=False)


def _tls_send(port: int, pki: dict, data: bytes, *, client: str | None) -> bytes:
    context = tls.client_context(
        ca=str(pki["ca"].path),
        cert=str(pki[client].cert) if client else "",
        key=str(pki[client].key) if client else "",
    )
    with (
        socket.create_connection(("127.0.0.1", port), timeout=15) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as sock,
    ):
        sock.sendall(data)
        return read_ack(sock)


def test_an_engine_with_a_certificate_from_the_client_ca_is_served(epic, mutual, pki):
    ack = _tls_send(mutual.port, pki, frame(siu(corpus.EPIC_S12, control="T1")), client="engine")
    assert msa(ack)[:2] == ["AA", "T1"]
    assert Procedure.objects.count() == 1


@pytest.mark.parametrize("client", [None, "stranger", "expired"])
def test_an_engine_without_a_valid_certificate_is_refused_and_nothing_is_read(epic, mutual, pki, client):
    # TLS 1.3 ends the client's side of the handshake first: the refusal may come at the first read.
    with pytest.raises((ssl.SSLError, ConnectionError)):
        _tls_send(mutual.port, pki, frame(siu(corpus.EPIC_S12, control="T2")), client=client)
    assert not InboundMessage.objects.exists() and not Procedure.objects.exists()
    # The listener goes on serving the engines it trusts.
    assert msa(_tls_send(mutual.port, pki, frame(siu(corpus.EPIC_S12, control="T3")), client="engine"))[0] == "AA"


def test_without_a_client_ca_any_tls_client_is_served_and_plain_mllp_is_not(epic, server_only, pki):
    assert msa(_tls_send(server_only.port, pki, frame(siu(corpus.EPIC_S12, control="T4")), client=None))[0] == "AA"
    with socket.create_connection(("127.0.0.1", server_only.port), timeout=15) as plain:
        plain.sendall(frame(siu(corpus.EPIC_S12, control="T5")))
        with pytest.raises(ConnectionError):
            read_ack(plain)
    assert list(InboundMessage.objects.values_list("control_id", flat=True)) == ["T4"]


def test_a_sender_checks_the_listeners_certificate(epic, server_only, pki, tmp_path):
    elsewhere = Authority(tmp_path, "Unrelated CA")
    context = tls.client_context(ca=str(elsewhere.path))
    with (
        socket.create_connection(("127.0.0.1", server_only.port), timeout=15) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        context.wrap_socket(raw, server_hostname="127.0.0.1")


def test_a_key_or_client_ca_without_a_certificate_is_a_configuration_error(pki, tmp_path):
    with pytest.raises(ImproperlyConfigured, match="without a certificate"):
        tls.from_settings(cert="", key=str(pki["server"].key), client_ca="")
    with pytest.raises(ImproperlyConfigured, match="cannot load"):
        tls.server_context(cert=str(tmp_path / "missing.pem"))
    assert tls.from_settings(cert="", key="", client_ca="") is None


def test_mllp_send_command_refuses_a_listener_it_cannot_trust(epic, server_only, pki, tmp_path):
    path = tmp_path / "one.hl7"
    path.write_bytes(frame(siu(corpus.EPIC_S12, control="T6")))
    elsewhere = Authority(tmp_path, "Unrelated CA")
    with pytest.raises(CommandError, match="certificate verify failed"):
        call_command(
            "mllp_send", "127.0.0.1", "-p", str(server_only.port), "-f", str(path), "--tls-ca", str(elsewhere.path)
        )
    assert not InboundMessage.objects.exists()


def test_listen_hl7_over_tls_round_trips_mllp_send_with_a_client_certificate(epic, pki, tmp_path, postgres):
    """The command docker-compose runs, TLS from the environment; the project's mllp_send with TLS options."""
    from django.db import connection

    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "FEED_MLLP_TLS_CERT": str(pki["server"].cert),
        "FEED_MLLP_TLS_KEY": str(pki["server"].key),
    }
    command = [sys.executable, "-u", "manage.py", "listen_hl7", "--port", "0", "--tls-client-ca", str(pki["ca"].path)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    try:
        line = server.stdout.readline().decode()
        assert "with TLS (client certificate required) on 127.0.0.1:" in line, line
        port = line.strip().rsplit(":", 1)[1]
        path = tmp_path / "two.hl7"
        path.write_bytes(
            frame(siu(corpus.EPIC_S12, control="RT-TLS1", filler="TL1"))
            + frame(siu(corpus.EPIC_S12, control="RT-TLS2", filler="TL2", mrn="TL2"))
        )
        send = [sys.executable, "manage.py", "mllp_send", "127.0.0.1", "-p", port, "-f", str(path)]
        result = subprocess.run(
            [
                *send,
                "--tls-ca",
                str(pki["ca"].path),
                "--tls-cert",
                str(pki["engine"].cert),
                "--tls-key",
                str(pki["engine"].key),
            ],
            capture_output=True,
            timeout=60,
            env=env,
            check=False,
        )
        assert result.returncode == 0, result.stderr.decode()
        acks = [line for line in result.stdout.split(b"\n") if line.startswith(b"MSH")]
        assert [msa(ack)[:2] for ack in acks] == [["AA", "RT-TLS1"], ["AA", "RT-TLS2"]]

        refused = subprocess.run(
            [*send, "--tls-ca", str(pki["ca"].path)], capture_output=True, timeout=60, env=env, check=False
        )
        assert refused.returncode != 0 and b"No acknowledgement" in refused.stderr + refused.stdout
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    assert Procedure.objects.count() == 2
    assert InboundMessage.objects.count() == 2
