"""SIU as the engines in the corpus write it, through the real MLLP listener (see corpus.py for the shapes)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import time_machine
from django.urls import reverse
from django.utils import timezone

from portal.models import Role
from procedures.feed.models import (
    ExternalAppointment,
    InboundMessage,
    LocationCode,
    MessageStatus,
    ProcessingMode,
    SendingSystem,
    ServiceCode,
)
from procedures.models import Guardian, Procedure, ProcedureKind, ProcedureStatus, Sedation
from tests.factories import LocationFactory, UserFactory

from . import corpus
from .conftest import msa

CHICAGO = zoneinfo.ZoneInfo("America/Chicago")


def _start(days: int = 3, hour: int = 9) -> dt.datetime:
    local = timezone.localtime(timezone.now(), CHICAGO) + dt.timedelta(days=days)
    return local.replace(hour=hour, minute=0, second=0, microsecond=0)


def fill(template: str, *, start: dt.datetime | None = None, sent: dt.datetime | None = None, **values: str) -> str:
    start = start or _start()
    sent = sent or timezone.now()
    defaults = {
        "control": "C1",
        "placer": "PL1",
        "filler": "F1",
        "mrn": "M100",
        "email": "family@example.org",
        "processing": "P",
        "service": "BMA-SED",
        "trigger": "S12",
        "status": "Booked",
        "cadence_status": "1",
    }
    return corpus.fill(
        template,
        **{**defaults, **values},
        start=corpus.ts(start),
        sent=corpus.ts(sent),
        start_min=corpus.ts_minute(start, CHICAGO),
        sent_min=corpus.ts_minute(sent, CHICAGO),
    )


def _system(clinic, name: str, application: str, facility: str = "", **extra) -> SendingSystem:
    system = SendingSystem.objects.create(
        name=name, hl7_application=application, hl7_facility=facility, timezone="America/Chicago", **extra
    )
    system.clinics.add(clinic)
    LocationCode.objects.create(system=system, code="ONC-PROC", location=clinic)
    ServiceCode.objects.create(system=system, code="BMAB-GA", kind=ProcedureKind.BOTH, sedation=Sedation.GENERAL)
    ServiceCode.objects.create(system=system, code="BMA-SED", kind=ProcedureKind.ASPIRATION, sedation=Sedation.SEDATION)
    return system


def test_placer_id_alone_keys_the_appointment_and_a_later_filler_id_is_recorded_on_it(clinic, engine):
    _system(clinic, "Corepoint", "GPMS")
    now = timezone.now().replace(second=0, microsecond=0)
    booked = fill(corpus.COREPOINT_SIU, control="K1", sent=now - dt.timedelta(minutes=2))
    assert msa(engine.send(booked))[:2] == ["AA", "K1"]
    moved = fill(
        corpus.COREPOINT_SIU, control="K2", trigger="S14", start=_start(days=4), sent=now - dt.timedelta(minutes=1)
    )
    assert msa(engine.send(moved))[0] == "AA"
    procedure = Procedure.objects.get()
    assert procedure.scheduled_start == _start(days=4)
    appointment = ExternalAppointment.objects.get()
    assert (appointment.placer_id, appointment.filler_id) == ("PL1", "")
    assert InboundMessage.objects.filter(filler_id="PL1").count() == 2

    # The same appointment, now with its filler id as well (SCH-2), is found by its placer id.
    both = moved.replace("SCH|PL1|", "SCH|PL1|FILL-9", 1).replace("|K2|", "|K3|", 1)
    both = both.replace(corpus.ts_minute(now - dt.timedelta(minutes=1), CHICAGO), corpus.ts_minute(now, CHICAGO), 1)
    assert msa(engine.send(both))[0] == "AA"
    appointment.refresh_from_db()
    assert (appointment.placer_id, appointment.filler_id) == ("PL1", "FILL-9")
    assert Procedure.objects.count() == 1 and ExternalAppointment.objects.count() == 1


def test_the_service_is_read_from_sch8_sch7_and_repeating_ais_in_the_systems_order(clinic, engine):
    athena = _system(clinic, "athena", "ATHENANET", "235", processing_mode=ProcessingMode.TEST)
    # athena: no AIS at all; SCH-7 is free text nobody maps, SCH-8 carries the code.
    code, _, reason = msa(engine.send(fill(corpus.ATHENA_S12, control="A1", processing="T")))
    assert code == "AA", reason
    assert Procedure.objects.get().kind == ProcedureKind.ASPIRATION

    # Two AIS segments: the first (anaesthesia) has no mapping, the second does.
    _system(clinic, "Epic 2.7", "EPIC", "LAKESIDE")
    code, _, reason = msa(engine.send(fill(corpus.V27_S12, control="V1", filler="V1", mrn="M200")))
    assert code == "AA", reason
    assert Procedure.objects.get(patient__mrn="M200").kind == ProcedureKind.BOTH

    # The system's order decides when two fields both have a mapping: SCH-7 first here.
    ServiceCode.objects.create(system=athena, code="bone marrow", kind=ProcedureKind.BIOPSY, sedation=Sedation.GENERAL)
    athena.service_order = "SCH-7 SCH-8"
    athena.save()
    text = fill(corpus.ATHENA_S12, control="A2", placer="PL2", mrn="M300", email="other@example.org", processing="T")
    assert msa(engine.send(text))[0] == "AA"
    assert Procedure.objects.get(patient__mrn="M300").kind == ProcedureKind.BIOPSY

    # None mapped: the message names every code it tried, with its field.
    ServiceCode.objects.filter(system=athena).delete()
    text = fill(corpus.ATHENA_S12, control="A3", placer="PL3", mrn="M400", processing="T")
    code, _, reason = msa(engine.send(text))
    assert code == "AE" and "SCH-7 “bone marrow”, SCH-8 “BMA-SED”" in reason


def test_contacts_come_from_pid13_and_pid40_when_there_is_no_nk1(clinic, engine):
    _system(clinic, "Allscripts", "Ntierprise", "Ntierprise Clinic")
    code, _, reason = msa(engine.send(fill(corpus.ALLSCRIPTS_S12, email="Jamie.Family@Example.org")))
    assert code == "AA", reason
    guardian = Guardian.objects.get()
    # The X.400 email and the CP mobile of PID-13; the home and work phones are not mobiles.
    assert (guardian.user.email, guardian.mobile_number) == ("jamie.family@example.org", "+19195550177")
    assert guardian.patients.get().mrn == "M100"

    _system(clinic, "Epic 2.7", "EPIC", "LAKESIDE")
    code, _, reason = msa(engine.send(fill(corpus.V27_S12, control="V1", mrn="M200", email="ava.home@example.org")))
    assert code == "AA", reason
    assert Guardian.objects.get(user__email="ava.home@example.org").mobile_number == "+13125550160"


def test_a_child_with_no_reachable_contact_is_booked_and_the_nurses_list_asks_for_a_guardian(client, clinic, engine):
    _system(clinic, "Cadence", "SCHED", "LAKESIDE", status_codes=corpus.CADENCE_STATUS_CODES)
    code, _, reason = msa(engine.send(fill(corpus.CADENCE_S12)))
    assert code == "AA" and "No parent or guardian with an email" in reason
    procedure = Procedure.objects.get()
    assert procedure.status == ProcedureStatus.SCHEDULED and not procedure.patient.guardians.exists()

    nurse = UserFactory(role=Role.NURSE, email="nurse@example.org")
    clinic.nurses.add(nurse)
    elsewhere = UserFactory(role=Role.NURSE, email="elsewhere@example.org")
    LocationFactory().nurses.add(elsewhere)
    client.force_login(nurse)
    page = client.get(reverse("nurse:feed_message_list")).content.decode()
    assert "Children booked with no parent or guardian" in page and "MIA JOHNSON" in page and "M100" in page
    child = client.get(reverse("nurse:patient_detail", args=[procedure.patient_id])).content.decode()
    assert "No parent or guardian yet" in child
    client.force_login(elsewhere)
    assert "M100" not in client.get(reverse("nurse:feed_message_list")).content.decode()

    # Once a guardian is added the child leaves the list.
    client.force_login(nurse)
    client.post(
        reverse("nurse:guardian_add", args=[procedure.patient_id]),
        {"full_name": "Ann Johnson", "email": "ann@example.org", "language": "en"},
    )
    assert procedure.patient.guardians.exists()
    assert "M100" not in client.get(reverse("nurse:feed_message_list")).content.decode()


def test_a_test_message_is_refused_by_a_production_system_and_the_reverse(clinic, engine):
    athena = _system(clinic, "athena", "ATHENANET", "235")
    code, control, reason = msa(engine.send(fill(corpus.ATHENA_S12, control="T1", processing="T")))
    assert (code, control) == ("AR", "T1") and "MSH-11 processing id “T”" in reason
    athena.processing_mode = ProcessingMode.TEST
    athena.save()
    assert msa(engine.send(fill(corpus.ATHENA_S12, control="P1", processing="P")))[0] == "AR"
    assert msa(engine.send(fill(corpus.ATHENA_S12, control="D1", processing="D")))[0] == "AA"
    assert not InboundMessage.objects.filter(status=MessageStatus.FAILED).exists()
    assert InboundMessage.objects.filter(status=MessageStatus.REJECTED).count() == 2


def test_sch25_filler_status_is_honoured(clinic, engine):
    _system(clinic, "Corepoint", "GPMS")
    now = timezone.now().replace(second=0, microsecond=0)

    def send(control: str, status: str, minutes: int, **values: str) -> list[str]:
        text = fill(
            corpus.COREPOINT_SIU,
            control=control,
            trigger="S14",
            status=status,
            sent=now + dt.timedelta(minutes=minutes),
            **values,
        )
        return msa(engine.send(text))

    assert send("B1", "Booked", -5)[0] == "AA"
    assert send("B2", "Arrived", -4) == ["AA", "B2", "Same as already booked (SCH-25 Arrived)."]
    assert send("B3", "Cancelled", -3)[0] == "AA"
    assert Procedure.objects.get().status == ProcedureStatus.CANCELLED

    assert send("N1", "Booked", -5, placer="PL2", mrn="M2")[0] == "AA"
    assert send("N2", "Noshow", -4, placer="PL2", mrn="M2")[0] == "AA"
    no_show = Procedure.objects.get(pk=InboundMessage.objects.get(control_id="N2").procedure_id)
    assert no_show.status == ProcedureStatus.CANCELLED and "Did not come" in no_show.cancel_reason


def test_sch25_complete_marks_the_procedure_done(clinic, engine):
    _system(clinic, "Corepoint", "GPMS")
    soon = timezone.now().replace(second=0, microsecond=0) + dt.timedelta(minutes=5)
    assert msa(engine.send(fill(corpus.COREPOINT_SIU, control="D1", start=soon)))[0] == "AA"
    with time_machine.travel(soon + dt.timedelta(minutes=50), tick=True):
        text = fill(corpus.COREPOINT_SIU, control="D2", trigger="S14", status="Complete", start=soon)
        code, _, reason = msa(engine.send(text))
    assert code == "AA", reason
    procedure = Procedure.objects.get()
    assert procedure.status == ProcedureStatus.COMPLETED and procedure.ended_at is not None


def test_an_s14_moving_to_a_clinic_the_sender_does_not_book_for_is_refused_with_the_reason(clinic, engine):
    system = _system(clinic, "Corepoint", "GPMS")
    elsewhere = LocationFactory(name="Northside Clinic")
    LocationCode.objects.create(system=system, code="NORTH", location=elsewhere)
    now = timezone.now().replace(second=0, microsecond=0)
    assert msa(engine.send(fill(corpus.COREPOINT_SIU, sent=now - dt.timedelta(minutes=1))))[0] == "AA"
    moved = fill(corpus.COREPOINT_SIU, control="C2", trigger="S14", sent=now).replace(
        "AIL|1||ONC-PROC|", "AIL|1||NORTH|"
    )
    code, _, reason = msa(engine.send(moved))
    assert code == "AE"
    assert "Northside Clinic, a clinic Corepoint does not book for" in reason
    assert "stays at Lakeside Day Unit" in reason
    assert Procedure.objects.get().location == clinic


def test_the_arrival_time_comes_from_the_configured_field_else_the_lead(clinic, engine):
    system = _system(clinic, "Allscripts", "Ntierprise", "Ntierprise Clinic", arrival_lead_minutes=45)
    start = _start()
    # AIP-6 carries the procedure start, SCH-11.4 the time to arrive (this engine's habit).
    text = fill(corpus.ALLSCRIPTS_S12, start=start).replace(
        f"^^15^{corpus.ts(start)}", f"^^15^{corpus.ts(start - dt.timedelta(minutes=90))}"
    )
    system.arrival_field = "SCH-11.4"
    system.save()
    assert msa(engine.send(text))[0] == "AA"
    procedure = Procedure.objects.get()
    assert (procedure.scheduled_start, procedure.arrival_at) == (start, start - dt.timedelta(minutes=90))

    system.arrival_field = ""
    system.save()
    assert msa(engine.send(fill(corpus.ALLSCRIPTS_S12, control="C2", filler="F2", placer="P2", start=start)))[0] == "AA"
    later = Procedure.objects.get(pk=InboundMessage.objects.get(control_id="C2").procedure_id)
    assert later.arrival_at == start - dt.timedelta(minutes=45)


def test_a_same_day_add_on_is_not_refused_because_of_the_lead(clinic, engine):
    _system(clinic, "Cadence", "SCHED", "LAKESIDE", status_codes=corpus.CADENCE_STATUS_CODES)
    start = timezone.now().replace(microsecond=0) + dt.timedelta(seconds=75)
    code, _, reason = msa(engine.send(fill(corpus.CADENCE_S12, start=start)))
    assert code == "AA", reason
    procedure = Procedure.objects.get()
    assert procedure.scheduled_start == start
    assert timezone.now() < procedure.arrival_at <= start
