from __future__ import annotations

import datetime as dt

from django.utils import timezone

from procedures.feed.models import InboundMessage, MessageStatus
from procedures.models import Procedure

from . import corpus
from .conftest import msa


def _start(days: int = 3, hour: int = 9) -> dt.datetime:
    local = timezone.localtime(timezone.now(), dt.timezone(dt.timedelta(hours=-6)))
    return (local + dt.timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)


def siu(template: str, *, control: str, filler: str = "A1001", mrn: str = "E12345", start=None, sent=None) -> str:
    start = start or _start()
    sent = sent or timezone.now()
    return corpus.fill(template, control=control, filler=filler, mrn=mrn, start=corpus.ts(start), sent=corpus.ts(sent))


def test_a_new_booking_is_stored_applied_and_acknowledged(epic, engine):
    start = _start()
    ack = engine.send(siu(corpus.EPIC_S12, control="C1", start=start))
    assert msa(ack)[:2] == ["AA", "C1"]
    procedure = Procedure.objects.get()
    assert procedure.scheduled_start == start
    assert procedure.patient.first_name == "Mateo"
    message = InboundMessage.objects.get()
    assert message.status == MessageStatus.APPLIED
    assert message.procedure == procedure
