"""Each sender's own SCH-25 codes: mapped per sending system before the Table 0278 names."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.test import RequestFactory
from django.utils import timezone

from procedures.feed.models import InboundMessage, MessageStatus, SendingSystem
from procedures.models import Procedure, ProcedureStatus

from . import corpus
from .conftest import msa
from .test_hl7_engines import _system, fill


@pytest.fixture
def cadence(clinic) -> SendingSystem:
    return _system(clinic, "Cadence", "SCHED", "LAKESIDE", status_codes=corpus.CADENCE_STATUS_CODES)


def _send(engine, control: str, code: str, minutes: int, trigger: str = "S14") -> list[str]:
    sent = timezone.now().replace(microsecond=0) + dt.timedelta(minutes=minutes)
    return msa(engine.send(fill(corpus.CADENCE_S12, control=control, trigger=trigger, cadence_status=code, sent=sent)))


def test_the_senders_own_numbers_book_arrive_and_cancel(cadence, engine):
    assert _send(engine, "N1", "1", -5, trigger="S12")[0] == "AA"
    assert Procedure.objects.get().status == ProcedureStatus.SCHEDULED
    code, _, reason = _send(engine, "N2", "6", -4)
    assert code == "AA" and reason.startswith("Same as already booked (SCH-25 Arrived).")
    # "3" is nothing in Table 0278: only the mapping makes this S14 a cancellation.
    assert _send(engine, "N3", "3", -3)[0] == "AA"
    assert Procedure.objects.get().status == ProcedureStatus.CANCELLED


def test_a_mapped_no_show_cancels_with_the_reason(cadence, engine):
    assert _send(engine, "S1", "1", -5, trigger="S12")[0] == "AA"
    assert _send(engine, "S2", "4", -4)[0] == "AA"
    procedure = Procedure.objects.get()
    assert procedure.status == ProcedureStatus.CANCELLED and "Did not come" in procedure.cancel_reason


def test_an_unknown_code_is_refused_by_name_and_never_booked(clinic, engine):
    _system(clinic, "Cadence", "SCHED", "LAKESIDE")  # no mapping for its numbers
    ack = engine.send(fill(corpus.CADENCE_S12, control="U1"))
    code, control, reason = msa(ack)
    assert (code, control) == ("AE", "U1")
    assert "SCH-25 filler status “1^SCH”" in reason and "Cadence" in reason and "nothing was booked" in reason
    assert b"103^Table value not found" in ack
    assert not Procedure.objects.exists()
    assert InboundMessage.objects.get(control_id="U1").status == MessageStatus.FAILED


def test_a_code_missing_from_the_mapping_is_refused_too(cadence, engine):
    assert _send(engine, "M1", "1", -5, trigger="S12")[0] == "AA"
    code, _, reason = msa(_send_raw(engine, "M2", "5"))
    assert code == "AE" and "“5^SCH”" in reason
    assert Procedure.objects.get().status == ProcedureStatus.SCHEDULED


def _send_raw(engine, control: str, code: str) -> bytes:
    return engine.send(fill(corpus.CADENCE_S12, control=control, trigger="S14", cadence_status=code))


def test_the_mapping_is_read_before_the_standard_names(clinic, engine):
    # A site whose engine sends "Booked" for what is, there, a cancelled slot: its own word wins.
    _system(clinic, "Corepoint", "GPMS", status_codes={"BOOKED": "Cancelled"})
    now = timezone.now().replace(second=0, microsecond=0)
    assert msa(engine.send(fill(corpus.COREPOINT_SIU, control="R1", status="Pending", sent=now)))[0] == "AA"
    later = now + dt.timedelta(minutes=1)
    assert (
        msa(engine.send(fill(corpus.COREPOINT_SIU, control="R2", trigger="S14", status="booked", sent=later)))[0]
        == "AA"
    )
    assert Procedure.objects.get().status == ProcedureStatus.CANCELLED


def test_a_cancel_trigger_cancels_whatever_sch25_holds(cadence, engine):
    assert _send(engine, "X1", "1", -5, trigger="S12")[0] == "AA"
    assert _send(engine, "X2", "99", -4, trigger="S15")[0] == "AA"
    assert Procedure.objects.get().status == ProcedureStatus.CANCELLED


@pytest.mark.parametrize(
    "codes",
    [{"1": "Scheduled-ish"}, {"": "Booked"}, {"1": 3}, ["1", "Booked"], "Booked"],
)
def test_a_mapping_to_no_known_status_is_refused_in_the_admin(db, codes):
    system = SendingSystem(name="Cadence", hl7_application="SCHED", status_codes=codes)
    with pytest.raises(ValidationError) as caught:
        system.full_clean(exclude=["actor"])
    assert "status_codes" in caught.value.message_dict


def test_the_mapping_is_edited_in_the_admin(db, admin_user):
    model_admin = admin.site._registry[SendingSystem]
    request = RequestFactory().get("/")
    request.user = admin_user
    form_class = model_admin.get_form(request)
    assert "status_codes" in form_class.base_fields
    system = SendingSystem(name="Cadence", hl7_application="SCHED", status_codes={"1": "booked", "3": "CANCELLED"})
    system.full_clean(exclude=["actor"])


def test_a_blocked_slot_is_not_booked_for_a_child(clinic, engine):
    _system(clinic, "Corepoint", "GPMS")
    code, _, reason = msa(engine.send(fill(corpus.COREPOINT_SIU, control="B1", status="Blocked")))
    assert code == "AE" and "Blocked" in reason
    assert not Procedure.objects.exists()
