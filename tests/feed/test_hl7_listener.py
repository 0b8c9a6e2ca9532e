"""SIU messages round-tripped through the real MLLP listener: ACKs, rows, ordering, resends."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.utils import timezone

from portal.models import AuditEvent, Role
from procedures.feed.intake import try_again
from procedures.feed.models import (
    ExternalAppointment,
    InboundMessage,
    LocationCode,
    MessageStatus,
    SendingSystem,
    ServiceCode,
)
from procedures.models import Guardian, Patient, Procedure, ProcedureKind, ProcedureStatus, Sedation
from reminders.models import Kind, Reminder
from tests.factories import GuardianFactory, LocationFactory, PatientFactory

from . import corpus
from .conftest import msa

CHICAGO = zoneinfo.ZoneInfo("America/Chicago")


def _start(days: int = 3, hour: int = 9) -> dt.datetime:
    local = timezone.localtime(timezone.now(), CHICAGO) + dt.timedelta(days=days)
    return local.replace(hour=hour, minute=0, second=0, microsecond=0)


def siu(
    template: str,
    *,
    control: str,
    filler: str = "A1001",
    mrn: str = "E12345",
    start: dt.datetime | None = None,
    sent: dt.datetime | None = None,
) -> str:
    start = start or _start()
    sent = sent or timezone.now()
    return corpus.fill(
        template,
        control=control,
        filler=filler,
        mrn=mrn,
        start=corpus.ts(start),
        sent=corpus.ts(sent),
        start_local=corpus.ts_local(start, CHICAGO),
        sent_local=corpus.ts_local(sent, CHICAGO),
    )


def test_a_new_booking_is_stored_applied_and_acknowledged(epic, engine, clinic):
    start = _start()
    ack = engine.send(siu(corpus.EPIC_S12, control="C1", start=start))
    assert msa(ack)[:2] == ["AA", "C1"]
    procedure = Procedure.objects.get()
    assert (procedure.scheduled_start, procedure.arrival_at) == (start, start - dt.timedelta(minutes=60))
    assert (procedure.kind, procedure.sedation, procedure.location) == (ProcedureKind.BOTH, Sedation.GENERAL, clinic)
    child = procedure.patient
    assert (child.first_name, child.last_name, child.mrn, child.preferred_language) == (
        "Mateo",
        "Rivera",
        "E12345",
        "es",
    )
    # The mother has an email and is invited; the father has none and is noted, not invited.
    mother = Guardian.objects.get()
    assert (mother.user.email, mother.mobile_number, mother.relationship) == (
        "ana.rivera@example.org",
        "+13125550142",
        "Mother",
    )
    assert Reminder.objects.filter(kind=Kind.INVITATION, guardian=mother).exists()
    assert Reminder.objects.filter(kind=Kind.CONFIRMATION, procedure=procedure).exists()
    message = InboundMessage.objects.get()
    assert (message.status, message.procedure, message.filler_id) == (MessageStatus.APPLIED, procedure, "A1001")
    assert "Luis Rivera" in message.reason and "not invited" in message.reason
    # The sending system is the actor of every change, in the audit log as in the rows.
    assert procedure.created_by == epic.actor
    events = AuditEvent.objects.filter(user_id=epic.actor.pk)
    assert {(e.object_type, e.role, e.route) for e in events} == {
        ("patient", Role.SYSTEM, "feed:hl7v2"),
        ("guardian", Role.SYSTEM, "feed:hl7v2"),
        ("procedure", Role.SYSTEM, "feed:hl7v2"),
    }


def test_engines_habits_newlines_local_times_and_latin1(epic, engine, clinic):
    north = LocationFactory(name="North Clinic", timezone="America/Chicago")
    cerner = SendingSystem.objects.create(name="North Cerner", hl7_application="CERNER", timezone="America/Chicago")
    cerner.clinics.add(north)
    ServiceCode.objects.create(system=cerner, code="BX-LOC", kind=ProcedureKind.BIOPSY, sedation=Sedation.LOCAL)
    south = SendingSystem.objects.create(name="South Meditech", hl7_application="MEDITECH", hl7_facility="SOUTH")
    south.clinics.add(clinic)
    LocationCode.objects.create(system=south, code="ONC-PROC", location=clinic)
    ServiceCode.objects.create(system=south, code="BMA-SED", kind=ProcedureKind.ASPIRATION, sedation=Sedation.SEDATION)

    # Cerner: \n segment ends, local time without an offset, start only in SCH-11.4, no AIL.
    start = _start(days=4, hour=13)
    ack = engine.send(siu(corpus.CERNER_S12, control="CER-1", filler="N-77", mrn="N555", start=start))
    assert msa(ack)[0] == "AA", ack
    biopsy = Procedure.objects.get(location=north)
    assert biopsy.scheduled_start == start
    assert (biopsy.kind, biopsy.sedation) == (ProcedureKind.BIOPSY, Sedation.LOCAL)

    # Meditech: \r\n segment ends, 8859/1 bytes declared in MSH-18, AIP present.
    start = _start(days=5, hour=8)
    text = siu(corpus.MEDITECH_S12, control="MT-1", filler="S-9", mrn="S123", start=start)
    ack = engine.send(text, encoding="latin-1")
    assert msa(ack)[0] == "AA", ack
    child = Patient.objects.get(mrn="S123")
    assert (child.first_name, child.last_name, child.preferred_language) == ("José", "García", "es")
    assert Guardian.objects.get(user__email="maria.garcia@example.org").mobile_number == "+17735550111"


def test_reschedule_goes_through_the_change_path(epic, engine):
    engine.send(siu(corpus.EPIC_S12, control="C1", start=_start(days=3)))
    procedure = Procedure.objects.get()
    later = _start(days=6, hour=11)
    ack = engine.send(siu(corpus.EPIC_S13, control="C2", start=later))
    assert msa(ack)[0] == "AA"
    procedure.refresh_from_db()
    assert (procedure.scheduled_start, procedure.version, procedure.status) == (later, 2, ProcedureStatus.RESCHEDULED)
    # Reminders of the old version are cancelled and a change notice is queued.
    assert not Reminder.objects.filter(procedure=procedure, procedure_version=1, status="scheduled").exists()
    assert Reminder.objects.filter(procedure=procedure, kind=Kind.CHANGED).exists()


def test_a_resend_after_a_lost_ack_changes_nothing(epic, engine):
    message = siu(corpus.EPIC_S12, control="C1")
    assert msa(engine.send(message))[0] == "AA"
    procedure = Procedure.objects.get()
    reminders = Reminder.objects.count()
    second = engine.send(message)
    assert msa(second)[:2] == ["AA", "C1"]
    assert Procedure.objects.count() == 1 and Guardian.objects.count() == 1
    procedure.refresh_from_db()
    assert procedure.version == 1 and Reminder.objects.count() == reminders
    assert InboundMessage.objects.filter(status=MessageStatus.UNCHANGED).count() == 1


def test_a_modification_before_its_booking_wins_by_message_time(epic, engine):
    booked_at, modified_at = timezone.now() - dt.timedelta(minutes=5), timezone.now()
    modified_start = _start(days=4, hour=10)
    ack = engine.send(siu(corpus.EPIC_S14, control="C2", start=modified_start, sent=modified_at))
    assert msa(ack)[0] == "AA"
    late = engine.send(siu(corpus.EPIC_S12, control="C1", start=_start(days=3), sent=booked_at))
    assert msa(late)[0] == "AA"
    procedure = Procedure.objects.get()
    assert procedure.scheduled_start == modified_start and procedure.version == 1
    assert "Older" in InboundMessage.objects.get(control_id="C1").reason


def test_a_cancel_before_its_booking_is_not_undone_by_the_late_booking(epic, engine):
    booked_at, cancelled_at = timezone.now() - dt.timedelta(minutes=5), timezone.now()
    assert msa(engine.send(siu(corpus.EPIC_S15, control="C2", sent=cancelled_at)))[0] == "AA"
    assert msa(engine.send(siu(corpus.EPIC_S12, control="C1", sent=booked_at)))[0] == "AA"
    assert not Procedure.objects.exists()
    assert ExternalAppointment.objects.get().cancelled
    # A booking stamped after the cancel is refused, clearly.
    code, _, text = msa(engine.send(siu(corpus.EPIC_S12, control="C3", sent=timezone.now())))
    assert code == "AE" and "cancelled" in text
    assert not Procedure.objects.exists()


def test_cancel_deletion_and_no_show_cancel_through_the_service(epic, engine):
    for number, template in enumerate((corpus.EPIC_S15, corpus.EPIC_S17, corpus.EPIC_S26)):
        filler = f"F{number}"
        engine.send(siu(corpus.EPIC_S12, control=f"B{number}", filler=filler, sent=timezone.now()))
        ack = engine.send(siu(template, control=f"X{number}", filler=filler, sent=timezone.now()))
        assert msa(ack)[0] == "AA"
    statuses = set(Procedure.objects.values_list("status", flat=True))
    assert statuses == {ProcedureStatus.CANCELLED}
    assert Reminder.objects.filter(kind=Kind.CANCELLED).exists()
    assert Procedure.objects.filter(cancel_reason__startswith="Did not come").count() == 1


def test_unknown_codes_are_an_error_until_the_mapping_is_fixed_then_try_again(epic, engine):
    ServiceCode.objects.all().delete()
    code, control, text = msa(engine.send(siu(corpus.EPIC_S12, control="C1")))
    assert (code, control) == ("AE", "C1")
    assert "Service code AIS-3 “BMAB-GA”, SCH-7 “BMA”" in text
    message = InboundMessage.objects.get()
    assert message.status == MessageStatus.FAILED
    assert not Procedure.objects.exists() and not Patient.objects.exists() and not Guardian.objects.exists()

    ServiceCode.objects.create(system=epic, code="BMAB-GA", kind=ProcedureKind.BOTH, sedation=Sedation.GENERAL)
    outcome = try_again(message)
    message.refresh_from_db()
    assert outcome.status == message.status == MessageStatus.APPLIED
    assert message.attempts == 2 and message.procedure == Procedure.objects.get()


def test_a_newer_message_that_applies_clears_older_failures_for_the_appointment(epic, engine):
    LocationCode.objects.all().delete()
    engine.send(siu(corpus.EPIC_S12, control="C1", sent=timezone.now() - dt.timedelta(minutes=1)))
    assert InboundMessage.objects.get().status == MessageStatus.FAILED
    LocationCode.objects.create(system=epic, code="ONC-PROC", location=epic.clinics.get())
    assert msa(engine.send(siu(corpus.EPIC_S14, control="C2")))[0] == "AA"
    assert not InboundMessage.objects.to_fix().exists()


def test_a_known_child_is_updated_through_the_service_and_audited(epic, engine, clinic):
    guardian = GuardianFactory(user__email="ana.rivera@example.org")
    child = PatientFactory(
        first_name="Mateo", last_name="Rivera-Old", mrn="E12345", location=clinic, guardians=[guardian]
    )
    assert msa(engine.send(siu(corpus.EPIC_S12, control="C1")))[0] == "AA"
    child.refresh_from_db()
    assert child.last_name == "Rivera" and child.preferred_language == "es"
    # The mother was already linked: no second account, no new invitation.
    assert Guardian.objects.count() == 1
    assert not Reminder.objects.filter(kind=Kind.INVITATION).exists()
    assert AuditEvent.objects.filter(user_id=epic.actor.pk, object_type="patient", patient_id=child.pk).exists()


def test_start_in_the_past_and_missing_start_are_clear_errors(epic, engine):
    code, _, text = msa(engine.send(siu(corpus.EPIC_S12, control="C1", start=_start(days=-1))))
    assert code == "AE" and "The start is in the past" in text
    no_start = siu(corpus.EPIC_S12, control="C2", filler="A2").replace(corpus.ts(_start()), "")
    code, _, text = msa(engine.send(no_start))
    assert code == "AE" and "No start time" in text
    assert not Procedure.objects.exists() and not Patient.objects.exists()


def test_messages_we_do_not_take_are_rejected(epic, engine):
    adt = "MSH|^~\\&|EPIC|LAKESIDE|MARROW|READY|20261124120000||ADT^A01|Q1|P|2.5.1\rPID|1||X1^^^H^MR\r"
    assert msa(engine.send(adt))[:2] == ["AR", "Q1"]
    stranger = siu(corpus.EPIC_S12, control="Q2").replace("|EPIC|LAKESIDE|", "|OTHER|PLACE|", 1)
    code, _, text = msa(engine.send(stranger))
    assert code == "AR" and "not registered" in text
    assert set(InboundMessage.objects.values_list("status", flat=True)) == {MessageStatus.REJECTED}
    assert not Procedure.objects.exists()
