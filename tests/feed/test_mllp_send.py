"""A client nobody here wrote: python-hl7's own `mllp_send` console script sends a file to the listener."""

from __future__ import annotations

import codecs
import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path

from django.utils import timezone

from procedures.feed.models import InboundMessage, MessageStatus
from procedures.models import Patient, Procedure, ProcedureStatus

from . import corpus
from .test_hl7_listener import _start, siu

MLLP_SEND = Path(sys.executable).with_name("mllp_send")


def test_mllp_send_delivers_a_file_of_messages_and_gets_an_ack_for_each(epic, listener, tmp_path):
    now = timezone.now()
    messages = [
        siu(corpus.EPIC_S12, control="F1", filler="P1", start=_start(days=3), sent=now - dt.timedelta(minutes=3)),
        siu(corpus.EPIC_S12, control="F2", filler="P2", start=_start(days=4), sent=now - dt.timedelta(minutes=2)),
        siu(corpus.EPIC_S13, control="F3", filler="P1", start=_start(days=5), sent=now - dt.timedelta(minutes=1)),
        siu(corpus.EPIC_S15, control="F4", filler="P2", sent=now),
    ]
    # --loose: a plain text file, one segment a line, as people keep them.
    path = tmp_path / "siu.txt"
    path.write_text("\n".join(message.replace("\r", "\n") for message in messages))
    result = subprocess.run(
        [str(MLLP_SEND), "--loose", "--file", str(path), "--port", str(listener.port), "127.0.0.1"],
        capture_output=True,
        timeout=60,
        check=True,
    )
    acks = [line for line in result.stdout.split(b"\n") if line.strip()]
    assert len(acks) == 4
    assert [b"MSA|AA|F" + str(n).encode() in ack for n, ack in enumerate(acks, start=1)] == [True] * 4
    moved = Procedure.objects.get(pk=InboundMessage.objects.get(control_id="F1").procedure_id)
    assert moved.scheduled_start == _start(days=5) and moved.version == 2
    cancelled = Procedure.objects.get(pk=InboundMessage.objects.get(control_id="F2").procedure_id)
    assert cancelled.status == ProcedureStatus.CANCELLED
    assert set(InboundMessage.objects.values_list("status", flat=True)) == {MessageStatus.APPLIED}


def test_mllp_send_with_a_framed_file(epic, listener, tmp_path):
    path = tmp_path / "siu.mllp"
    path.write_bytes(b"\x0b" + siu(corpus.EPIC_S12, control="M1").encode() + b"\x1c\r")
    result = subprocess.run(
        [str(MLLP_SEND), "-f", str(path), "-p", str(listener.port), "127.0.0.1"],
        capture_output=True,
        timeout=60,
        check=True,
    )
    assert b"MSA|AA|M1" in result.stdout
    assert Procedure.objects.count() == 1


def test_the_listen_hl7_command_serves_mllp_send_and_stops_on_sigterm(epic, tmp_path, postgres):
    """The command docker-compose runs, in its own process, on the test database."""
    from django.db import connection

    settings = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}",
        "DJANGO_SETTINGS_MODULE": "tests.settings",
    }
    command = [sys.executable, "-u", "manage.py", "listen_hl7", "--host", "127.0.0.1", "--port", "0"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    try:
        line = server.stdout.readline().decode()
        assert "Listening for HL7 over MLLP" in line, line
        port = line.strip().rsplit(":", 1)[1]
        path = tmp_path / "one.mllp"
        path.write_bytes(b"\x0b" + siu(corpus.EPIC_S12, control="CMD1").encode() + b"\x1c\r")
        result = subprocess.run(
            [str(MLLP_SEND), "-f", str(path), "-p", port, "127.0.0.1"],
            capture_output=True,
            timeout=60,
            check=True,
        )
        assert b"MSA|AA|CMD1" in result.stdout
        assert Procedure.objects.get().created_by == epic.actor
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=20) == 0


def test_every_corpus_message_round_trips_through_listen_hl7_and_mllp_send(epic, clinic, tmp_path, postgres):
    """Each engine's shape in corpus.py, sent by python-hl7's `mllp_send` to the `listen_hl7` command."""
    from django.db import connection

    from procedures.feed.models import ProcessingMode, SendingSystem, ServiceCode
    from procedures.models import ProcedureKind, Sedation

    from .test_hl7_engines import _system, fill

    _system(clinic, "Corepoint", "GPMS")
    _system(clinic, "athena", "ATHENANET", "235", processing_mode=ProcessingMode.TEST)
    _system(clinic, "Allscripts", "Ntierprise", "Ntierprise Clinic")
    _system(clinic, "Cadence", "SCHED", "LAKESIDE", status_codes=corpus.CADENCE_STATUS_CODES)
    cerner = SendingSystem.objects.create(name="North Cerner", hl7_application="CERNER", timezone="America/Chicago")
    cerner.clinics.add(clinic)
    ServiceCode.objects.create(system=cerner, code="BX-LOC", kind=ProcedureKind.BIOPSY, sedation=Sedation.LOCAL)
    _system(clinic, "South Meditech", "MEDITECH", "SOUTH")

    now = timezone.now()
    minute = now.replace(second=0, microsecond=0)

    def at(seconds: int) -> dt.datetime:
        return now - dt.timedelta(seconds=120 - seconds)

    utf16 = fill(corpus.V27_S12, control="RT-U16", filler="U16", mrn="U16", email="u16@example.org")
    cases: list[tuple[str, bytes, str]] = [
        ("RT-E12", siu(corpus.EPIC_S12, control="RT-E12", filler="E1", sent=at(1)).encode(), "utf-8"),
        ("RT-E13", siu(corpus.EPIC_S13, control="RT-E13", filler="E1", sent=at(2)).encode(), "utf-8"),
        ("RT-E14", siu(corpus.EPIC_S14, control="RT-E14", filler="E1", sent=at(3)).encode(), "utf-8"),
        ("RT-E15", siu(corpus.EPIC_S15, control="RT-E15", filler="E1", sent=at(4)).encode(), "utf-8"),
        ("RT-E17", siu(corpus.EPIC_S17, control="RT-E17", filler="E2", sent=at(5)).encode(), "utf-8"),
        ("RT-E26", siu(corpus.EPIC_S26, control="RT-E26", filler="E3", sent=at(6)).encode(), "utf-8"),
        ("RT-CER", siu(corpus.CERNER_S12, control="RT-CER", filler="C1", mrn="N1").encode(), "utf-8"),
        ("RT-MED", siu(corpus.MEDITECH_S12, control="RT-MED", filler="M1", mrn="S1").encode("latin-1"), "latin-1"),
        (
            "RT-ATH",
            fill(corpus.ATHENA_S12, control="RT-ATH", placer="AT1", mrn="AT1", processing="T").encode(),
            "utf-8",
        ),
        (
            "RT-COR",
            fill(corpus.COREPOINT_SIU, control="RT-COR", placer="CP1", mrn="CP1", sent=minute).encode(),
            "utf-8",
        ),
        ("RT-ALL", fill(corpus.ALLSCRIPTS_S12, control="RT-ALL", filler="AL1", mrn="AL1").encode(), "utf-8"),
        ("RT-CAD", fill(corpus.CADENCE_S12, control="RT-CAD", filler="CA1", mrn="CA1").encode(), "utf-8"),
        (
            "RT-V27",
            fill(corpus.V27_S12, control="RT-V27", filler="V1", mrn="V27", email="v@example.org").encode(),
            "utf-8",
        ),
        ("RT-U16", codecs.BOM_UTF16_LE + utf16.encode("utf-16-le"), "utf-16-le"),
        (
            "RT-A08",
            corpus.fill(corpus.EPIC_A08, control="RT-A08", mrn="E12345", first="Mateo", sent=corpus.ts(now)).encode(),
            "utf-8",
        ),
        (
            "RT-A40",
            corpus.fill(corpus.EPIC_A40, control="RT-A40", mrn="E99999", prior="E12345", sent=corpus.ts(now)).encode(),
            "utf-8",
        ),
    ]
    settings = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}",
        "DJANGO_SETTINGS_MODULE": "tests.settings",
    }
    command = [sys.executable, "-u", "manage.py", "listen_hl7", "--port", "0"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    try:
        line = server.stdout.readline().decode()
        assert "Listening for HL7 over MLLP on 127.0.0.1" in line, line  # loopback unless told otherwise
        port = line.strip().rsplit(":", 1)[1]
        for control, data, codec in cases:
            path = tmp_path / f"{control}.mllp"
            path.write_bytes(b"\x0b" + data + b"\x1c\r")
            result = subprocess.run(
                [str(MLLP_SEND), "-f", str(path), "-p", port, "127.0.0.1"], capture_output=True, timeout=60, check=True
            )
            ack = result.stdout.strip(b"\x0b\x1c\r\n").decode(codec, errors="replace")
            assert f"MSA|AA|{control}" in ack, (control, result.stdout)
        # Two messages in one frame: both answered and applied.
        pair = (
            fill(corpus.ALLSCRIPTS_S12, control="RT-P1", filler="P1", mrn="P1", email="p1@example.org")
            + fill(corpus.ALLSCRIPTS_S12, control="RT-P2", filler="P2", mrn="P2", email="p2@example.org")
        ).encode()
        path = tmp_path / "pair.mllp"
        path.write_bytes(b"\x0b" + pair + b"\x1c\r")
        result = subprocess.run(
            [str(MLLP_SEND), "-f", str(path), "-p", port, "127.0.0.1"], capture_output=True, timeout=60, check=True
        )
        assert b"MSA|AA|RT-P1" in result.stdout
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=20) == 0
    statuses = dict(InboundMessage.objects.values_list("control_id", "status"))
    assert statuses["RT-P2"] == MessageStatus.APPLIED
    assert not InboundMessage.objects.filter(status__in=(MessageStatus.FAILED, MessageStatus.REJECTED)).exists()
    assert Patient.objects.filter(mrn="E99999").count() == 1 and not Patient.objects.filter(mrn="E12345").exists()
