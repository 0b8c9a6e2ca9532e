"""A client nobody here wrote: python-hl7's own `mllp_send` console script sends a file to the listener."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path

from django.utils import timezone

from procedures.feed.models import InboundMessage, MessageStatus
from procedures.models import Procedure, ProcedureStatus

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
