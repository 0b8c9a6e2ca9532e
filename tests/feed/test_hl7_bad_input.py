"""What a careless or broken sender can do to the listener: a clear AR or AE, and it keeps serving."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from django.utils import timezone

from procedures.feed.models import InboundMessage, MessageStatus
from procedures.models import Guardian, Patient, Procedure
from tests.factories import UserFactory

from . import corpus
from .conftest import CR, FS, VT, Engine, msa
from .test_hl7_listener import siu


def wait_for(condition: Callable[[], bool], timeout: float = 10) -> None:
    """The listener notices a closed connection on its own schedule: wait for what it does then."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def test_a_frame_cut_off_by_a_closed_connection_is_kept_and_the_listener_serves_on(epic, listener):
    whole = siu(corpus.EPIC_S12, control="T1").encode()
    with socket.create_connection(("127.0.0.1", listener.port)) as sock:
        sock.sendall(VT + whole[: len(whole) // 2])
    wait_for(lambda: InboundMessage.objects.filter(status=MessageStatus.REJECTED).exists())
    kept = InboundMessage.objects.get()
    assert bytes(kept.raw) == VT + whole[: len(whole) // 2]
    assert "closed in the middle" in kept.reason
    assert not Procedure.objects.exists()
    engine = Engine(listener.port)
    assert msa(engine.send(siu(corpus.EPIC_S12, control="T2")))[0] == "AA"
    engine.close()


def test_a_message_cut_short_inside_its_frame_is_an_error(epic, engine):
    whole = siu(corpus.EPIC_S12, control="T1")
    code, control, reason = msa(engine.send(whole[: whole.index("PID|")]))
    assert (code, control) == ("AE", "T1")
    assert "PID segment" in reason
    assert not Procedure.objects.exists()


def test_a_ten_megabyte_message_is_refused_and_the_same_connection_goes_on(epic, engine):
    huge = siu(corpus.EPIC_S12, control="BIG").replace("PV1|1|O|", "NTE|1||" + "X" * (10 * 1024 * 1024) + "\rPV1|1|O|")
    code, control, reason = msa(engine.send(huge))
    assert (code, control) == ("AR", "BIG")
    assert "bytes" in reason
    row = InboundMessage.objects.get(control_id="BIG")
    assert row.status == MessageStatus.REJECTED and len(bytes(row.raw)) <= 64 * 1024
    assert msa(engine.send(siu(corpus.EPIC_S12, control="NEXT")))[:2] == ["AA", "NEXT"]


def test_bytes_that_are_not_utf8_are_refused_unless_the_charset_is_declared(epic, engine):
    latin = siu(corpus.EPIC_S12, control="L1").replace("Mateo", "Mat\xe9o")
    code, control, reason = msa(engine.send(latin, encoding="latin-1"))
    assert (code, control) == ("AR", "L1")
    assert "not valid UTF-8" in reason and "MSH-18" in reason
    stored = InboundMessage.objects.get(control_id="L1")
    assert b"Mat\xe9o" in bytes(stored.raw)
    assert not Patient.objects.exists()


def test_wrong_framing_is_refused_and_the_connection_goes_on(epic, engine):
    unframed = siu(corpus.EPIC_S12, control="NOVT").encode() + FS + CR
    code, _, reason = msa(engine.send_bytes(unframed))
    assert code == "AR" and "MLLP" in reason
    assert InboundMessage.objects.get(control_id="NOVT").status == MessageStatus.REJECTED
    # A stray newline between frames is noise, not a message.
    assert msa(engine.send_bytes(b"\n" + VT + siu(corpus.EPIC_S12, control="OK").encode() + FS + CR))[0] == "AA"
    assert Procedure.objects.count() == 1


def test_a_failure_late_in_a_message_leaves_nothing_half_applied(epic, engine):
    UserFactory(role="nurse", email="ana.rivera@example.org")  # the mother's email is a staff login
    code, _, reason = msa(engine.send(siu(corpus.EPIC_S12, control="H1", sent=timezone.now())))
    assert code == "AE" and "staff account" in reason
    # The child was created before the family failed: it is rolled back with everything else.
    assert not Patient.objects.exists() and not Guardian.objects.exists() and not Procedure.objects.exists()
    assert InboundMessage.objects.get().status == MessageStatus.FAILED
