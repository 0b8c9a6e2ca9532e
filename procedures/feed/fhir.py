"""FHIR R4 Appointments (with their Patient, RelatedPerson and Location), validated with fhir.resources.

A transaction Bundle carries one Appointment and whatever it refers to; an
Appointment posted alone refers by reference to a Patient and Location sent
before. Both become the same `Booking` an HL7 SIU message does and go down the
same path. Idempotent on Appointment.identifier; ordered by meta.lastUpdated.
"""

from __future__ import annotations

import json
from typing import Any

import pydantic
from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome

from .apply import Outcome
from .booking import Action, Booking, ChildData, GuardianData, NotApplied, NotTaken
from .models import ExternalPatient, InboundMessage, SendingSystem

STATUSES = {
    "proposed": Action.BOOK,
    "pending": Action.BOOK,
    "booked": Action.BOOK,
    "cancelled": Action.CANCEL,
    "entered-in-error": Action.CANCEL,
    "noshow": Action.NO_SHOW,
}


def outcome_json(issues: list[tuple[str, str, str]]) -> str:
    """An OperationOutcome: one (severity, code, text) per issue."""
    resource = OperationOutcome(
        issue=[
            {"severity": severity, "code": code, "diagnostics": text, "details": {"text": text}}
            for severity, code, text in issues
        ]
    )
    return resource.model_dump_json(exclude_none=True)


def _validation_reason(exc: pydantic.ValidationError) -> str:
    lines = []
    for error in exc.errors()[:20]:
        where = ".".join(str(part) for part in error.get("loc", ()))
        lines.append(f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg", "invalid")))
    return "\n".join(lines)


def _load(raw: bytes) -> tuple[str, list[Any], dict[str, Any]]:
    """(resourceType, the resources sent, index of them by fullUrl and Type/id)."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise NotTaken(f"The body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise NotTaken("The body must be one FHIR resource (a JSON object).")
    kind = data.get("resourceType")
    try:
        if kind == "Bundle":
            bundle = Bundle.model_validate(data)
            if bundle.type != "transaction":
                raise NotTaken(f"Bundle.type is “{bundle.type}”: send a transaction Bundle.")
            resources, index = [], {}
            for entry in bundle.entry or []:
                if entry.resource is None:
                    continue
                resources.append(entry.resource)
                if entry.fullUrl:
                    index[entry.fullUrl] = entry.resource
                if entry.resource.id:
                    index[f"{entry.resource.get_resource_type()}/{entry.resource.id}"] = entry.resource
            return kind, resources, index
        if kind == "Appointment":
            return kind, [Appointment.model_validate(data)], {}
    except pydantic.ValidationError as exc:
        raise NotTaken(_validation_reason(exc)) from None
    raise NotTaken(f"resourceType “{kind}” is not taken here: send a transaction Bundle or an Appointment.")


def _code(concepts: list[Any] | None) -> str:
    for concept in concepts or []:
        for coding in concept.coding or []:
            if coding.code:
                return coding.code
        if concept.text:
            return concept.text
    return ""


def _mrn(patient: Any) -> str:
    identifiers = patient.identifier or []
    for identifier in identifiers:
        if identifier.type and any(c.code == "MR" for c in identifier.type.coding or []) and identifier.value:
            return identifier.value
    return next((identifier.value for identifier in identifiers if identifier.value), "")


def _language(patient: Any) -> str:
    for communication in patient.communication or []:
        code = _code([communication.language]).lower()
        if code.startswith("es"):
            return "es"
        if code.startswith("en"):
            return "en"
    return ""


def _child(patient: Any) -> ChildData:
    mrn = _mrn(patient)
    if not mrn:
        raise NotTaken("Patient.identifier has no medical record number.")
    name = (patient.name or [None])[0]
    return ChildData(
        mrn=mrn,
        first_name=" ".join(name.given or []) if name else "",
        last_name=(name.family or "") if name else "",
        date_of_birth=patient.birthDate,
        language=_language(patient),
    )


def _guardian(person: Any) -> GuardianData:
    mobile = email = ""
    for telecom in person.telecom or []:
        if telecom.system == "email" and not email:
            email = telecom.value or ""
        elif telecom.system in ("phone", "sms") and telecom.use == "mobile" and not mobile:
            mobile = telecom.value or ""
    name = (person.name or [None])[0]
    full = (name.text or " ".join([*(name.given or []), name.family or ""])).strip() if name else ""
    relationship = ""
    for concept in person.relationship or []:
        relationship = concept.text or next(
            (c.display or c.code for c in concept.coding or [] if c.display or c.code), ""
        )
        if relationship:
            break
    return GuardianData(full_name=full, relationship=relationship, mobile=mobile, email=email)


def _resolve(reference: Any, index: dict[str, Any]) -> Any:
    return index.get(reference.reference) if reference is not None and reference.reference else None


def booking_of(raw: bytes, system: SendingSystem, *, expect: str | None = None) -> Booking:
    kind, resources, index = _load(raw)
    if expect and kind != expect:
        raise NotTaken(f"This address takes {expect} resources, not {kind}.")
    appointments = [r for r in resources if r.get_resource_type() == "Appointment"]
    if len(appointments) != 1:
        raise NotTaken(f"Send exactly one Appointment per request ({len(appointments)} found).")
    appointment = appointments[0]
    filler = next((identifier.value for identifier in appointment.identifier or [] if identifier.value), "")
    if not filler:
        raise NotTaken("Appointment.identifier is needed: it is how a resend or a change is recognised.")
    action = STATUSES.get(appointment.status or "")
    if action is None:
        raise NotTaken(f"Appointment.status “{appointment.status}” is not taken here.")
    if appointment.meta is None or appointment.meta.lastUpdated is None:
        raise NotTaken("Appointment.meta.lastUpdated is needed to apply changes in the order they were made.")

    patient = None
    patient_reference = patient_mrn = location_code = ""
    for participant in appointment.participant or []:
        actor = participant.actor
        if actor is None:
            continue
        target = _resolve(actor, index)
        type_name = target.get_resource_type() if target is not None else (actor.type or "")
        reference = actor.reference or ""
        if target is None and "/" in reference:
            type_name, _, _ = reference.rpartition("/")
            type_name = type_name.rsplit("/", 1)[-1]
        if type_name == "Patient":
            patient, patient_reference = target, reference
            if target is None and actor.identifier is not None:  # a logical reference: the MRN itself
                patient_mrn = actor.identifier.value or ""
        elif type_name == "Location":
            if target is not None:
                location_code = next((i.value for i in target.identifier or [] if i.value), target.id or "")
            elif actor.identifier is not None and actor.identifier.value:
                location_code = actor.identifier.value
            else:
                location_code = reference.rpartition("/")[2]
    child, resource_id = None, ""
    if patient is not None:
        child, resource_id = _child(patient), patient.id or ""
    elif patient_mrn:
        child = ChildData(mrn=patient_mrn)
    elif action in (Action.BOOK, Action.UPDATE):  # a cancel needs no child
        child = _earlier_patient(system, patient_reference)
    guardians = [
        _guardian(r)
        for r in resources
        if r.get_resource_type() == "RelatedPerson"
        and (r.patient is None or _resolve(r.patient, index) in (None, patient))
    ]
    return Booking(
        action=action,
        filler_id=filler[:120],
        message_at=appointment.meta.lastUpdated,
        start=appointment.start,
        location_code=location_code,
        service_code=_code(appointment.serviceType),
        child=child,
        guardians=guardians,
        child_resource_id=resource_id,
        note=_code([appointment.cancelationReason]) if appointment.cancelationReason else "",
    )


def _earlier_patient(system: SendingSystem, reference: str) -> ChildData | None:
    if not reference:
        return None
    resource_id = reference.rpartition("/")[2]
    link = ExternalPatient.objects.filter(system=system, resource_id=resource_id).first()
    if link is None:
        raise NotApplied(f"{reference} was not sent before: include the Patient in a transaction Bundle.")
    return ChildData(mrn=link.mrn)


def process_fhir(message: InboundMessage, *, expect: str | None = None) -> Outcome:
    from .intake import apply_stored

    system = message.system
    if system is None:  # only an authenticated client's requests are stored
        raise NotTaken("No sending system.")
    message.message_type = "Appointment"
    return apply_stored(message, system, lambda: booking_of(bytes(message.raw), system, expect=expect))
