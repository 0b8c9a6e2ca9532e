from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from procedures.feed.listener import ListenerThread
from procedures.feed.models import ApiToken, LocationCode, SendingSystem, ServiceCode
from procedures.models import ProcedureKind, Sedation
from tests.factories import LocationFactory

VT, FS, CR = b"\x0b", b"\x1c", b"\r"


@pytest.fixture
def clinic(transactional_db: None):
    return LocationFactory(name="Lakeside Day Unit", timezone="America/Chicago")


@pytest.fixture
def epic(clinic) -> SendingSystem:
    system = SendingSystem.objects.create(
        name="Lakeside Epic", hl7_application="EPIC", hl7_facility="LAKESIDE", timezone="America/Chicago"
    )
    system.clinics.add(clinic)
    LocationCode.objects.create(system=system, code="ONC-PROC", location=clinic)
    ServiceCode.objects.create(system=system, code="BMAB-GA", kind=ProcedureKind.BOTH, sedation=Sedation.GENERAL)
    return system


@pytest.fixture
def token(epic) -> str:
    """A static bearer token of the system's FHIR client."""
    row = ApiToken(system=epic, label="Lakeside FHIR gateway")
    clear = row.set_new_token()
    row.save()
    return clear


@pytest.fixture
def listener(transactional_db: None) -> Iterator[ListenerThread]:
    thread = ListenerThread()
    thread.start()
    yield thread
    thread.stop()


def frame(message: str | bytes, encoding: str = "utf-8") -> bytes:
    data = message.encode(encoding) if isinstance(message, str) else message
    return VT + data + FS + CR


def read_ack(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(FS + CR):
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before an ACK; got {data!r}")
        data += chunk
    return data[1:-2]


class Engine:
    """The sending side, speaking MLLP over a plain socket: one connection, many messages."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)

    def send_bytes(self, data: bytes) -> bytes:
        self.sock.sendall(data)
        return read_ack(self.sock)

    def send(self, message: str | bytes, encoding: str = "utf-8") -> bytes:
        return self.send_bytes(frame(message, encoding))

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def engine(listener: ListenerThread) -> Iterator[Engine]:
    client = Engine(listener.port)
    yield client
    client.close()


def msa(ack: bytes) -> list[str]:
    """[code, control id, reason] of an ACK; the reason in full from ERR-8 (MSA-3 is cut at 80)."""
    segments = {segment[:3]: segment.split("|") for segment in ack.decode().split("\r") if segment}
    assert "MSA" in segments, ack
    fields = [*segments["MSA"], "", "", ""]
    reason = segments["ERR"][8] if "ERR" in segments else fields[3]
    return [fields[1], fields[2], reason.replace("\\S\\", "^").replace("\\F\\", "|")]
