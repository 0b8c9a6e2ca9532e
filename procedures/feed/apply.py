"""Applying a booking from a sending system, through the same services a nurse's edit uses."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from portal.models import AuditAction, AuditEvent, Role
from procedures import services
from procedures.forms.nurse import GuardianForm, PatientForm
from procedures.models import Feeding, Location, Patient, Procedure

from .booking import Action, Booking, ChildData, Err, GuardianData, NotApplied, PatientEvent
from .models import (
    ExternalAppointment,
    ExternalLocation,
    ExternalPatient,
    InboundMessage,
    LocationCode,
    MessageStatus,
    SendingSystem,
    ServiceCode,
)

# A same-day add-on's family is asked to come now: a minute, so the check of times still sees the future.
ARRIVAL_SLACK = dt.timedelta(minutes=1)


@dataclass
class Outcome:
    status: MessageStatus
    reason: str = ""
    procedure: Procedure | None = None
    # The appointment now reflects this message: earlier failed ones for it are superseded.
    settled: bool = False
    created: bool = False
    notes: list[str] = field(default_factory=list)
    error: Err | None = None  # HL7 Table 0357, for the ACK's ERR-3


def _errors(exc: ValidationError) -> str:
    return " ".join(str(message) for message in exc.messages)


def _form_errors(form: Any, what: str) -> str:
    parts = [f"{name}: {' '.join(str(e) for e in errors)}" for name, errors in form.errors.items()]
    return f"{what}: " + "; ".join(parts)


def _local(system: SendingSystem, at: dt.datetime) -> str:
    return f"{at.astimezone(system.tz):%Y-%m-%d %H:%M} ({system.timezone})"


class _Run:
    """One message being applied: the system, its actor, and what to audit."""

    def __init__(self, system: SendingSystem, message: InboundMessage, booking: Booking) -> None:
        self.system = system
        self.actor = system.actor
        self.message = message
        self.booking = booking
        self.notes: list[str] = []
        self.changed = False

    def audit(self, *, kind: str, pk: int, patient_id: int | None) -> None:
        try:
            ip = str(ipaddress.ip_address(self.message.peer)) if self.message.peer else None
        except ValueError:
            ip = None
        self.changed = True
        AuditEvent.objects.create(
            user_id=self.actor.pk,
            role=Role.SYSTEM,
            action=AuditAction.CHANGE,
            route=f"feed:{self.message.protocol}",
            method=(self.message.message_type.split("^")[-1] or self.message.protocol)[:8],
            patient_id=patient_id,
            object_type=kind,
            object_id=pk,
            ip_address=ip,
        )

    # --- mapping ---------------------------------------------------------------------

    def clinic(self, current: Procedure | None) -> Location:
        code = self.booking.location_code
        if code:
            found = LocationCode.objects.select_related("location").filter(system=self.system, code=code).first()
            if found is None:
                raise NotApplied(
                    f"Location code “{code}” has no clinic for {self.system}. "
                    "An administrator can add it under Location codes, then try again.",
                    Err.TABLE,
                )
            if not self.system.clinics.filter(pk=found.location_id).exists():
                where = f" The procedure stays at {current.location}." if current is not None else ""
                raise NotApplied(
                    f"Location code “{code}” is {found.location}, a clinic {self.system} does not book for.{where}",
                    Err.TABLE,
                )
            if self.booking.location_resource_id:  # a later Appointment may refer to that Location by its id or URL
                ExternalLocation.objects.update_or_create(
                    system=self.system, resource_id=self.booking.location_resource_id, defaults={"code": code}
                )
            return found.location
        if current is not None:
            return current.location
        clinics = list(self.system.clinics.all()[:2])
        if len(clinics) == 1:
            return clinics[0]
        raise NotApplied(
            "No location code (AIL-3 or the Appointment's Location) and the system serves several clinics.",
            Err.REQUIRED,
        )

    def service(self, current: Procedure | None) -> tuple[str, str]:
        """The first code, in the system's order of fields, that has a mapping."""
        candidates = self.booking.service_candidates or (
            (("", self.booking.service_code),) if self.booking.service_code else ()
        )
        order = {name: rank for rank, name in enumerate(self.system.service_order.split())}
        candidates = sorted(
            (item for item in candidates if not item[0] or item[0] in order), key=lambda item: order.get(item[0], 0)
        )
        if candidates:
            found = {
                code.code: code
                for code in ServiceCode.objects.filter(system=self.system, code__in=[code for _, code in candidates])
            }
            for _, code in candidates:
                if code in found:
                    return found[code].kind, found[code].sedation
            named = ", ".join(f"{where} “{code}”" if where else f"“{code}”" for where, code in candidates)
            raise NotApplied(
                f"Service code {named} has no procedure for {self.system}. "
                "An administrator can add it under Service codes, then try again.",
                Err.TABLE,
            )
        if current is not None:
            return current.kind, current.sedation
        raise NotApplied(
            f"No service code ({self.system.service_order.replace(' ', ', ')} or Appointment.serviceType): "
            "which procedure is it?",
            Err.REQUIRED,
        )

    # --- the child and the family -------------------------------------------------------

    def child(self, clinic: Location) -> Patient:
        data = self.booking.child
        if data is None:
            raise NotApplied("The patient (PID or Patient) is missing.", Err.SEGMENT)
        link = ExternalPatient.objects.select_related("patient").filter(system=self.system, mrn=data.mrn).first()
        if link is None and data.prior_mrns:
            link = self.relink(data)
        if link is None:
            patient = Patient.objects.filter(mrn__iexact=data.mrn).first()
            if patient is not None and not self.system.clinics.filter(pk=patient.location_id).exists():
                raise NotApplied(
                    f"MRN {data.mrn} belongs to a child cared for at a clinic {self.system} does not book for.",
                    Err.DUPLICATE_KEY,
                )
            if patient is None:
                patient = self._new_child(data, clinic)
            link = ExternalPatient.objects.create(
                system=self.system, mrn=data.mrn, patient=patient, resource_id=self.booking.child_resource_id
            )
        elif self.booking.child_resource_id and link.resource_id != self.booking.child_resource_id:
            link.resource_id = self.booking.child_resource_id
            link.save(update_fields=["resource_id"])
        self._update_child(link.patient, data)
        self._add_guardians(link.patient)
        return link.patient

    def relink(self, data: ChildData) -> ExternalPatient | None:
        """A child known here by a prior id (a merge, or an SIU carrying both): the same child, now
        known by its new MRN too. The prior id stays linked, so late messages with it still find it."""
        prior = (
            ExternalPatient.objects.select_related("patient")
            .filter(system=self.system, mrn__in=data.prior_mrns)
            .order_by("pk")
            .first()
        )
        if prior is None:
            return None
        patient = prior.patient
        if Patient.objects.filter(mrn__iexact=data.mrn).exclude(pk=patient.pk).exists():
            raise NotApplied(
                f"MRN {data.mrn} and prior id {prior.mrn} are two children here; a nurse must decide "
                "whether they are the same child.",
                Err.DUPLICATE_KEY,
            )
        link = ExternalPatient.objects.create(system=self.system, mrn=data.mrn, patient=patient)
        if patient.mrn.lower() == prior.mrn.lower():
            self._save_child(patient, {"mrn": data.mrn}, data.mrn)
        self.notes.append(f"MRN {prior.mrn} is now {data.mrn}: the same child.")
        return ExternalPatient.objects.select_related("patient").get(pk=link.pk)

    def patient_event(self, event: PatientEvent) -> Outcome:
        data = event.child
        link = ExternalPatient.objects.select_related("patient").filter(system=self.system, mrn=data.mrn).first()
        if link is not None and event.merge:
            other = ExternalPatient.objects.filter(system=self.system, mrn__in=data.prior_mrns).exclude(
                patient=link.patient
            )
            if other.exists():
                raise NotApplied(
                    f"MRN {data.mrn} and prior id {other.first().mrn} are two children here; a nurse must "
                    "decide whether they are the same child.",
                    Err.DUPLICATE_KEY,
                )
        if link is None and data.prior_mrns:
            link = self.relink(data)
        if link is None:
            # Hospitals send ADT for every patient: one never booked here is none of our business.
            return Outcome(MessageStatus.UNCHANGED, f"MRN {data.mrn} is not a child booked here: nothing to change.")
        self._update_child(link.patient, data)
        self._add_guardians(link.patient)
        if not self.changed and not self.notes:
            return Outcome(MessageStatus.UNCHANGED, "Same as already known.")
        return Outcome(MessageStatus.APPLIED)

    def _child_form(self, data: dict[str, Any], *, instance: Patient | None, clinic: Location) -> PatientForm:
        form = PatientForm(data, instance=instance, user=self.actor)
        # The clinic comes from the mapping, not from the actor's own clinics.
        form.fields["location"].queryset = Location.objects.filter(pk=clinic.pk)
        return form

    def _new_child(self, data: ChildData, clinic: Location) -> Patient:
        # Booked even with no one to invite: the nurses' list asks for a guardian (Patient.without_guardian).
        form = self._child_form(
            {
                "first_name": data.first_name,
                "last_name": data.last_name,
                "date_of_birth": data.date_of_birth.isoformat() if data.date_of_birth else "",
                "mrn": data.mrn,
                "feeding": Feeding.REGULAR,
                "preferred_language": data.language or "en",
                "location": clinic.pk,
            },
            instance=None,
            clinic=clinic,
        )
        if not form.is_valid():
            if Patient.objects.filter(mrn__iexact=data.mrn).exists():
                # Another message created this child after our look-up: a clash, which intake applies once more.
                raise IntegrityError(f"MRN {data.mrn} was created meanwhile")
            raise NotApplied(_form_errors(form, f"New child {data.mrn}"))
        patient = form.save()
        self.audit(kind="patient", pk=patient.pk, patient_id=patient.pk)
        return patient

    def _update_child(self, patient: Patient, data: ChildData) -> None:
        sent = {
            "first_name": data.first_name,
            "last_name": data.last_name,
            "date_of_birth": data.date_of_birth,
            "preferred_language": data.language,
        }
        changed = {name: value for name, value in sent.items() if value and getattr(patient, name) != value}
        if not changed:
            return
        self._save_child(patient, changed, data.mrn)

    def _save_child(self, patient: Patient, changed: dict[str, Any], mrn: str) -> None:
        current = {
            "first_name": patient.first_name,
            "last_name": patient.last_name,
            "date_of_birth": patient.date_of_birth,
            "mrn": patient.mrn,
            "feeding": patient.feeding,
            "preferred_language": patient.preferred_language,
            "location": patient.location_id,
        }
        current.update(changed)
        if current["date_of_birth"]:
            current["date_of_birth"] = current["date_of_birth"].isoformat()
        form = self._child_form(current, instance=patient, clinic=patient.location)
        if not form.is_valid():
            raise NotApplied(_form_errors(form, f"Child {mrn}"))
        services.update_child(patient=form.save(commit=False), changed_by=self.actor)
        self.audit(kind="patient", pk=patient.pk, patient_id=patient.pk)

    def _add_guardians(self, patient: Patient) -> None:
        linked = {email.lower() for email in patient.guardians.values_list("user__email", flat=True)}
        if not linked and not any(data.email for data in self.booking.guardians):
            self.notes.append(
                "No parent or guardian with an email (NK1, PID-13, PID-40): booked, and the nurses' list asks "
                "for a guardian."
            )
        for number, data in enumerate(self.booking.guardians, start=1):
            if not data.email:
                self.notes.append(f"Contact {number} ({data.full_name or 'no name'}) has no email: not invited.")
                continue
            if data.email.strip().lower() in linked:
                continue
            self._add_guardian(patient, data)

    def _add_guardian(self, patient: Patient, data: GuardianData) -> None:
        form = GuardianForm(
            {
                "full_name": data.full_name,
                "email": data.email,
                "mobile_number": data.mobile,
                "relationship": data.relationship[:40],
                "language": patient.preferred_language,
            }
        )
        if not form.is_valid():
            raise NotApplied(_form_errors(form, f"Contact {data.full_name or data.email}"))
        try:
            result = services.add_guardian(patient=patient, added_by=self.actor, **form.cleaned_data)
        except services.GuardianConflict:
            raise NotApplied(
                f"{data.email} belongs to a staff account or cannot be linked to this child; "
                "a nurse can add the family by hand.",
                Err.DUPLICATE_KEY,
            ) from None
        self.audit(kind="guardian", pk=result.guardian.pk, patient_id=patient.pk)

    # --- the procedure ------------------------------------------------------------------

    def book(self, appointment: ExternalAppointment) -> Outcome:
        current = appointment.procedure
        clinic = self.clinic(current)
        kind, sedation = self.service(current)
        start = self.booking.start or (current.scheduled_start if current else None)
        if start is None:
            raise NotApplied(
                "No start time (AIS-4, AIL-6, AIG-8, AIP-6, TQ1-7 or SCH-11.4; Appointment.start).", Err.REQUIRED
            )
        arrival = self.arrival(start, current)
        patient = self.child(clinic)
        if current is not None and current.patient_id != patient.pk:
            raise NotApplied(
                f"Appointment {appointment.their_id} is booked here for another child (MRN {current.patient.mrn}).",
                Err.DUPLICATE_KEY,
            )
        try:
            if current is None:
                procedure = services.schedule_procedure(
                    patient=patient,
                    kind=kind,
                    location=clinic,
                    scheduled_start=start,
                    arrival_at=arrival,
                    sedation=sedation,
                    scheduled_by=self.actor,
                )
                appointment.procedure = procedure
                self.audit(kind="procedure", pk=procedure.pk, patient_id=patient.pk)
                return Outcome(MessageStatus.APPLIED, procedure=procedure, settled=True, created=True)
            wanted = {
                "kind": kind,
                "location": clinic,
                "scheduled_start": start,
                "arrival_at": arrival,
                "sedation": sedation,
            }
            changes = {name: value for name, value in wanted.items() if getattr(current, name) != value}
            if not changes:
                if self.changed:  # the child's details or family changed, the booking did not
                    return Outcome(MessageStatus.APPLIED, procedure=current, settled=True)
                status = f" (SCH-25 {self.booking.filler_status})" if self.booking.filler_status else ""
                return Outcome(MessageStatus.UNCHANGED, f"Same as already booked{status}.", current, settled=True)
            procedure = services.update_procedure(procedure=current, changed_by=self.actor, **changes)
            self.audit(kind="procedure", pk=procedure.pk, patient_id=patient.pk)
            return Outcome(MessageStatus.APPLIED, procedure=procedure, settled=True)
        except ValidationError as exc:
            raise NotApplied(f"Start {_local(self.system, start)}: {_errors(exc)}") from None
        except services.DayOfError as exc:
            raise NotApplied(str(exc)) from None

    def arrival(self, start: dt.datetime, current: Procedure | None) -> dt.datetime:
        """The sender's arrival time when it gives one; else the nurse's own lead, kept when the time
        moves; else the system's lead. Never in the past: a same-day add-on arrives now."""
        if self.booking.arrival is not None:
            wanted = self.booking.arrival
        elif current is not None:
            wanted = start - (current.scheduled_start - current.arrival_at)
        else:
            wanted = start - dt.timedelta(minutes=self.system.arrival_lead_minutes)
        if current is not None and wanted == current.arrival_at:
            return wanted
        return max(wanted, min(start, timezone.now() + ARRIVAL_SLACK))

    def complete(self, appointment: ExternalAppointment) -> Outcome:
        current = appointment.procedure
        if current is None:
            raise NotApplied(
                f"Appointment {appointment.their_id} is reported complete but was never booked here.", Err.UNKNOWN_KEY
            )
        if not current.is_active:
            return Outcome(
                MessageStatus.UNCHANGED, f"Already {current.get_status_display().lower()} here.", current, settled=True
            )
        try:
            procedure = services.mark_done(
                procedure=current, ended_at=min(self.booking.message_at, timezone.now()), done_by=self.actor
            )
        except services.DayOfError as exc:
            raise NotApplied(f"SCH-25 says Complete: {exc}") from None
        self.audit(kind="procedure", pk=procedure.pk, patient_id=procedure.patient_id)
        return Outcome(MessageStatus.APPLIED, procedure=procedure, settled=True)

    def cancel(self, appointment: ExternalAppointment) -> Outcome:
        appointment.cancelled = True
        current = appointment.procedure
        if current is None:
            return Outcome(
                MessageStatus.APPLIED,
                "Cancelled before its booking arrived: the booking, if it comes, will change nothing.",
                settled=True,
            )
        if not current.is_active:
            return Outcome(
                MessageStatus.UNCHANGED, f"Already {current.get_status_display().lower()} here.", current, settled=True
            )
        if self.booking.action == Action.NO_SHOW:
            reason = f"Did not come (reported by {self.system})"
        else:
            reason = self.booking.note or f"Cancelled in {self.system}"
        procedure = services.cancel_procedure(procedure=current, reason=reason[:200], cancelled_by=self.actor)
        self.audit(kind="procedure", pk=procedure.pk, patient_id=procedure.patient_id)
        return Outcome(MessageStatus.APPLIED, procedure=procedure, settled=True)


def apply_patient_event(*, system: SendingSystem, event: PatientEvent, message: InboundMessage) -> Outcome:
    """Apply an ADT update or merge in one transaction."""
    run = _Run(system, message, event)  # type: ignore[arg-type] - the run reads only .child and .guardians here
    with transaction.atomic():
        outcome = run.patient_event(event)
    outcome.notes = run.notes
    return outcome


def _appointment(system: SendingSystem, booking: Booking) -> ExternalAppointment:
    """The appointment a message is about, found by filler id, else placer id; created when new."""
    rows = ExternalAppointment.objects.filter(system=system)
    found = None
    if booking.filler_id:
        found = rows.filter(filler_id=booking.filler_id).first()
    if found is None and booking.placer_id:
        # First known by its placer id alone (SCH-2 empty then); or, for a placer-only message,
        # by the placer id of the one row that has since been given a filler id.
        found = rows.filter(filler_id="", placer_id=booking.placer_id).first()
        if found is None and not booking.filler_id:
            matches = list(rows.filter(placer_id=booking.placer_id)[:2])
            found = matches[0] if len(matches) == 1 else None
    if found is None:
        found = ExternalAppointment.objects.create(
            system=system, filler_id=booking.filler_id[:120], placer_id=booking.placer_id[:120]
        )
    return found


def apply_booking(*, system: SendingSystem, booking: Booking, message: InboundMessage) -> Outcome:
    """Apply one message in one transaction: either all it asks for happens, or nothing (NotApplied)."""
    run = _Run(system, message, booking)
    with transaction.atomic():
        appointment = _appointment(system, booking)
        # Messages for one appointment apply one at a time, in the sender's order.
        appointment = (
            ExternalAppointment.objects.select_for_update(of=("self",))
            .select_related("procedure__location", "procedure__patient")
            .get(pk=appointment.pk)
        )
        if booking.filler_id and not appointment.filler_id:
            appointment.filler_id = booking.filler_id[:120]
        if not appointment.is_newer(booking.message_at, booking.action):
            if booking.message_at == appointment.last_message_at:
                return Outcome(
                    MessageStatus.UNCHANGED,
                    f"A booking stamped {_local(system, booking.message_at)}, the same time as the change already "
                    f"applied for appointment {booking.appointment_id}: a booking comes before its changes, so "
                    "nothing changed.",
                    appointment.procedure,
                )
            return Outcome(
                MessageStatus.UNCHANGED,
                f"Older ({_local(system, booking.message_at)}) than the last message applied for appointment "
                f"{booking.appointment_id} ({_local(system, appointment.last_message_at)}): nothing changed.",
                appointment.procedure,
            )
        if appointment.cancelled:
            if booking.action in (Action.CANCEL, Action.NO_SHOW):
                outcome = Outcome(MessageStatus.UNCHANGED, "Already cancelled.", appointment.procedure, settled=True)
            else:
                raise NotApplied(
                    f"Appointment {booking.appointment_id} was cancelled by an earlier message; it is not booked "
                    "again. Book it again under a new appointment id.",
                    Err.DUPLICATE_KEY,
                )
        elif booking.action in (Action.CANCEL, Action.NO_SHOW):
            outcome = run.cancel(appointment)
        elif booking.action == Action.COMPLETE:
            outcome = run.complete(appointment)
        else:
            outcome = run.book(appointment)
        appointment.last_message_at = booking.message_at
        appointment.last_action = "update" if booking.action == Action.UPDATE else str(booking.action)
        appointment.save()
    outcome.notes = run.notes
    return outcome
