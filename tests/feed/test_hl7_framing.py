"""MLLP framing and character sets as engines really send them, the same-minute tie-break, resends, ERR-3."""

from __future__ import annotations

import codecs
import datetime as dt
import socket

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.models import Role
from procedures.feed.models import InboundMessage, MessageStatus, ProcessingMode
from procedures.models import Patient, Procedure
from tests.factories import UserFactory

from . import corpus
from .conftest import CR, FS, VT, Engine, msa
from .test_hl7_bad_input import wait_for
from .test_hl7_engines import CHICAGO, _start, _system, fill
from .test_hl7_listener import siu


def _acks(sock: socket.socket, count: int) -> list[bytes]:
    data = b""
    while data.count(FS + CR) < count:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {data!r}")
        data += chunk
    return [frame.lstrip(VT) for frame in data.split(FS + CR) if frame]


def test_two_messages_in_one_frame_are_each_answered(epic, listener):
    first = siu(corpus.EPIC_S12, control="TWO1", filler="A1")
    second = siu(corpus.EPIC_S12, control="TWO2", filler="A2", start=_start(days=4))
    stranger = siu(corpus.EPIC_S12, control="TWO3", filler="A3").replace("|EPIC|LAKESIDE|", "|OTHER|X|", 1)
    with socket.create_connection(("127.0.0.1", listener.port), timeout=30) as sock:
        sock.sendall(VT + (first + second + stranger).encode() + FS + CR)
        acks = _acks(sock, 3)
    assert [msa(ack)[:2] for ack in acks] == [["AA", "TWO1"], ["AA", "TWO2"], ["AR", "TWO3"]]
    assert Procedure.objects.count() == 2
    assert InboundMessage.objects.count() == 3


def test_fs_without_cr_is_answered_and_the_connection_goes_on(epic, listener):
    with socket.create_connection(("127.0.0.1", listener.port), timeout=30) as sock:
        sock.sendall(VT + siu(corpus.EPIC_S12, control="NOCR").encode() + FS)
        assert msa(_acks(sock, 1)[0])[:2] == ["AA", "NOCR"]
        sock.sendall(VT + siu(corpus.EPIC_S12, control="NEXT", filler="A2").encode() + FS)
        assert msa(_acks(sock, 1)[0])[:2] == ["AA", "NEXT"]
    assert Procedure.objects.count() == 2


def test_blank_lines_between_segments_are_tolerated(epic, engine):
    text = siu(corpus.EPIC_S12, control="BLANK").replace("\rPID|", "\r\r\n\rPID|").replace("\rRGS|", "\r \rRGS|")
    assert msa(engine.send(text))[:2] == ["AA", "BLANK"]


def test_idle_and_half_sent_connections_are_closed_after_the_timeout(epic, listener, settings):
    settings.FEED_MLLP_IDLE_SECONDS = 0.5
    with socket.create_connection(("127.0.0.1", listener.port), timeout=10) as idle:
        assert idle.recv(10) == b""  # closed by the listener
    half = VT + siu(corpus.EPIC_S12, control="HALF").encode()[:120]
    with socket.create_connection(("127.0.0.1", listener.port), timeout=10) as sock:
        sock.sendall(half)
        assert sock.recv(10) == b""
    wait_for(lambda: InboundMessage.objects.filter(status=MessageStatus.REJECTED).exists())
    row = InboundMessage.objects.get()
    assert bytes(row.raw) == half and "Nothing more came for 0.5 s" in row.reason
    assert not Procedure.objects.exists()


def _named(text: str, name: str) -> str:
    return text.replace("Rivera^Mateo^J", f"Rivera^{name}^J", 1)


@pytest.mark.parametrize(
    ("charset", "codec", "name"),
    [
        ("8859/1", "latin-1", "Mat\xe9o"),
        ("ISO IR100", "latin-1", "Mat\xe9o"),
        ("8859/15", "iso8859-15", "\u0160ime"),
        ("UNICODE UTF-8", "utf-8", "Mat\xeda\u015f"),
        ("UNICODE", "utf-8", "Mat\xe9o"),
    ],
)
def test_table_0211_charsets_are_decoded_and_the_ack_is_in_the_same_charset(epic, engine, charset, codec, name):
    text = _named(siu(corpus.EPIC_S12, control="CS1"), name)
    text = text.replace("|P|2.5.1\r", f"|P|2.5.1||||||{charset}\r", 1)
    ack = engine.send(text.encode(codec))
    assert ack.decode(codec).split("\r")[1].startswith("MSA|AA|CS1")
    assert Patient.objects.get().first_name == name
    # A refusal's reason keeps to the sender's charset (straight quotes for 8859).
    text = text.replace("BMAB-GA^", "UNKNOWN^", 1).replace("|CS1|", "|CS2|", 1).replace("A1001", "A1002")
    refusal = engine.send(text.encode(codec))
    decoded = refusal.decode(codec)
    if codec == "utf-8":
        assert "“UNKNOWN”" in decoded
    else:
        assert '"UNKNOWN"' in decoded and "“" not in decoded
    assert b"103^Table value not found^HL70357" in refusal


@pytest.mark.parametrize(
    ("prefix", "codec"),
    [(codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (b"", "utf-16-le"), (b"", "utf-16-be")],
)
def test_byte_order_marks_and_utf16_are_decoded(epic, engine, prefix, codec):
    text = _named(siu(corpus.EPIC_S12, control="BOM"), "Mat\xe9o").replace("|P|2.5.1\r", "|P|2.5.1||||||UNICODE\r")
    ack = engine.send(prefix + text.encode(codec))
    back = ack[3:] if ack.startswith(codecs.BOM_UTF8) else ack
    assert "MSA|AA|BOM" in back.decode(codec)
    assert Patient.objects.get().first_name == "Mat\xe9o"
    assert "Mat\xe9o" in InboundMessage.objects.get().text


def test_an_s12_of_the_same_minute_as_an_s14_does_not_undo_it_and_a_later_s12_updates(clinic, engine):
    _system(clinic, "Corepoint", "GPMS")
    minute = timezone.now().replace(second=0, microsecond=0)
    assert msa(engine.send(fill(corpus.COREPOINT_SIU, control="M1", sent=minute - dt.timedelta(minutes=1))))[0] == "AA"
    moved = fill(corpus.COREPOINT_SIU, control="M2", trigger="S14", start=_start(days=5), sent=minute)
    assert msa(engine.send(moved))[0] == "AA"
    # The booking resent under a new control id, stamped the same minute as the change.
    assert msa(engine.send(fill(corpus.COREPOINT_SIU, control="M3", sent=minute)))[0] == "AA"
    assert "a booking comes before its changes" in InboundMessage.objects.get(control_id="M3").reason
    assert Procedure.objects.get().scheduled_start == _start(days=5)
    # Two changes of the same minute: the one that arrives last wins.
    again = fill(corpus.COREPOINT_SIU, control="M4", trigger="S14", start=_start(days=6), sent=minute)
    assert msa(engine.send(again))[0] == "AA"
    assert Procedure.objects.get().scheduled_start == _start(days=6)
    # An S12 for an appointment already known, sent later, is an update.
    later = fill(corpus.COREPOINT_SIU, control="M5", start=_start(days=7), sent=minute + dt.timedelta(minutes=1))
    assert msa(engine.send(later))[0] == "AA"
    assert Procedure.objects.get().scheduled_start == _start(days=7) and Procedure.objects.count() == 1


def test_the_same_failing_message_resent_is_one_row_in_the_nurses_list(client, clinic, engine):
    system = _system(clinic, "Corepoint", "GPMS")
    system.service_codes.all().delete()
    text = fill(corpus.COREPOINT_SIU, control="R1")
    for _ in range(3):
        assert msa(engine.send(text))[0] == "AE"
    row = InboundMessage.objects.get()
    assert (row.status, row.resends, row.attempts) == (MessageStatus.FAILED, 2, 3)
    # Different bytes under the same control id are another message, kept apart.
    assert msa(engine.send(text.replace("JOHN", "JOHANNA")))[0] == "AE"
    assert InboundMessage.objects.count() == 2
    nurse = UserFactory(role=Role.NURSE)
    clinic.nurses.add(nurse)
    client.force_login(nurse)
    assert client.get(reverse("nurse:feed_message_list")).content.decode().count("SIU^S12 R1") == 2


def _err3(ack: bytes) -> str:
    err = [segment for segment in ack.decode("latin-1").split("\r") if segment.startswith("ERR|")]
    return err[0].split("|")[3].split("^")[0] if err else ""


def test_err3_carries_the_table_0357_code_that_fits(clinic, engine):
    system = _system(clinic, "Corepoint", "GPMS")
    good = fill(corpus.COREPOINT_SIU, control="E0")
    cases = {
        "100": good.replace("SCH|PL1|", "XXX|PL1|", 1),
        "101": good.replace("SCH|PL1|", "SCH||", 1),
        "102": good.replace("PATEL^ARJUN^||20180111|", "PATEL^ARJUN^||2018-01-11|", 1),
        "103": good.replace("BMAB-GA^", "NOPE^", 1),
        "200": good.replace("SIU^S12", "ORU^R01", 1),
        "201": good.replace("SIU^S12", "SIU^S18", 1),
    }
    for number, (expected, text) in enumerate(cases.items()):
        ack = engine.send(text.replace("|E0|", f"|E{number + 1}|", 1).replace("PL1", f"PL{number + 10}"))
        assert _err3(ack) == expected, (expected, ack)
    system.processing_mode = ProcessingMode.TEST
    system.save()
    assert _err3(engine.send(good.replace("|E0|", "|E20|", 1))) == "202"
    system.processing_mode = ProcessingMode.PRODUCTION
    system.save()
    # 204: a change to an appointment never booked here.
    done = fill(corpus.COREPOINT_SIU, control="E21", placer="NEVER", trigger="S14", status="Complete")
    assert _err3(engine.send(done)) == "204"
    # 205: the appointment id is booked here for another child.
    assert msa(engine.send(fill(corpus.COREPOINT_SIU, control="E22", placer="K1")))[0] == "AA"
    other = fill(corpus.COREPOINT_SIU, control="E23", placer="K1", mrn="OTHER", trigger="S14", email="o@example.org")
    assert _err3(engine.send(other)) == "205"
    assert not InboundMessage.objects.filter(reason__contains="unexpected").exists()


def test_a_raw_socket_engine_and_minute_stamps(clinic, listener):
    """Corepoint's and athena's MSH-7 to the minute, local time: ordered, not refused."""
    _system(clinic, "athena", "ATHENANET", "235", processing_mode=ProcessingMode.TEST)
    engine = Engine(listener.port)
    try:
        sent = timezone.localtime(timezone.now(), CHICAGO).replace(second=0, microsecond=0)
        assert msa(engine.send(fill(corpus.ATHENA_S12, processing="T", sent=sent)))[0] == "AA"
        assert InboundMessage.objects.get().message_at == sent
    finally:
        engine.close()
