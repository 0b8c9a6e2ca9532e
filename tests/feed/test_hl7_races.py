"""Two listener processes taking messages for one appointment at the same moment."""

from __future__ import annotations

import datetime as dt
import threading

from django.db import connection
from django.utils import timezone

from procedures.feed.intake import receive_hl7
from procedures.feed.models import ExternalPatient, InboundMessage, MessageStatus
from procedures.models import Patient, Procedure

from . import corpus
from .test_hl7_listener import _start, siu


def _at_once(*messages: str) -> list[bytes]:
    barrier = threading.Barrier(len(messages))
    acks: list[bytes] = [b""] * len(messages)

    def run(number: int, text: str) -> None:
        try:
            barrier.wait(10)
            acks[number] = receive_hl7(text.encode())
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(messages)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return acks


def test_booking_and_change_racing_end_with_the_newest_and_one_of_each_row(epic, postgres):
    for round_number in range(5):
        filler, mrn = f"R{round_number}", f"RACE{round_number}"
        booked_at = timezone.now() - dt.timedelta(seconds=30)
        newest = _start(days=5, hour=10)
        acks = _at_once(
            siu(corpus.EPIC_S12, control=f"{filler}-a", filler=filler, mrn=mrn, sent=booked_at),
            siu(corpus.EPIC_S14, control=f"{filler}-b", filler=filler, mrn=mrn, start=newest, sent=timezone.now()),
        )
        assert all(b"MSA|AA|" in ack for ack in acks), acks
        assert Patient.objects.filter(mrn=mrn).count() == 1
        assert ExternalPatient.objects.filter(mrn=mrn).count() == 1
        procedure = Procedure.objects.get(patient__mrn=mrn)
        assert procedure.scheduled_start == newest
    assert not InboundMessage.objects.filter(status=MessageStatus.FAILED).exists()


def test_two_first_bookings_for_one_new_child_make_one_child(epic, postgres):
    for round_number in range(5):
        mrn = f"TWIN{round_number}"
        acks = _at_once(
            siu(corpus.EPIC_S12, control=f"{mrn}-a", filler=f"{mrn}-1", mrn=mrn, start=_start(days=3)),
            siu(corpus.EPIC_S12, control=f"{mrn}-b", filler=f"{mrn}-2", mrn=mrn, start=_start(days=4)),
        )
        assert all(b"MSA|AA|" in ack for ack in acks), acks
        assert Patient.objects.filter(mrn=mrn).count() == 1
        assert Procedure.objects.filter(patient__mrn=mrn).count() == 2
        assert Patient.objects.get(mrn=mrn).guardians.count() == 1
