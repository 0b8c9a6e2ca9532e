"""FHIR R4 Appointments (with their Patient, RelatedPerson and Location), validated with fhir.resources.

A transaction Bundle carries one Appointment and whatever it refers to; an
Appointment posted alone refers by reference to a Patient and Location sent
before. Both become the same `Booking` an HL7 SIU message does and go down the
same path. Idempotent on Appointment.identifier; ordered by meta.lastUpdated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pydantic
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome

from .apply import Outcome
from .booking import Action, Booking, ChildData, GuardianData, NotApplied, NotTaken
from .models import (
    AppointmentIdentifier,
    ExternalAppointment,
    ExternalLocation,
    ExternalPatient,
    InboundMessage,
    MessageStatus,
    SendingSystem,
)

STATUSES = {
    "proposed": Action.BOOK,
    "pending": Action.BOOK,
    "booked": Action.BOOK,
    "cancelled": Action.CANCEL,
    "entered-in-error": Action.CANCEL,
    "noshow": Action.NO_SHOW,
}
# Steps of the day the record system tracks and we do not: taken (200) and changing nothing.
NOTED = {
    "arrived": "arrived",
    "checked-in": "checked in",
    "fulfilled": "done",
    "waitlist": "on the waiting list (booked here once its status is booked)",
}
# Deeper than any Appointment, Patient or Bundle nests; a guard against a body built to exhaust the parser.
MAX_DEPTH = 64


class PreconditionFailed(Exception):
    """HTTP 412: If-Match named a version that is no longer current, or If-None-Exist found several."""

    def __init__(self, reason: str, current: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.current = current  # the current ETag, when a version was asked for


def version_of(appointment: ExternalAppointment) -> int:
    """An Appointment's version here: its procedure's, which a nurse's change moves on too."""
    return appointment.procedure.version if appointment.procedure is not None else 1


def fhir_base() -> str:
    """This server's FHIR base URL: references under it are ours."""
    return f"{settings.SITE_URL}/fhir/"


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


def _too_deep(data: Any) -> bool:
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        if isinstance(value, dict):
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
    return False


def _is_remote(url: str) -> bool:
    """A URL on another server (not a urn:uuid, not relative, not under our base)."""
    return url.startswith(("http://", "https://")) and not url.startswith(fhir_base())


def _local(reference: str) -> str | None:
    """ "Type/id" when a reference names a resource on this server (relative, or under our base)."""
    if reference.startswith(fhir_base()):
        reference = reference[len(fhir_base()) :]
    if reference.startswith(("http://", "https://", "urn:", "#")):
        return None
    parts = reference.split("/")
    if len(parts) == 4 and parts[2] == "_history":
        parts = parts[:2]
    return "/".join(parts) if len(parts) == 2 and all(parts) else None


@dataclass
class _Sent:
    """The resources of a request and how a reference finds one among them.

    By fullUrl exactly; a relative reference by Type/id among entries that are not
    another server's (their fullUrl a urn:uuid, relative or ours), or, from an entry
    with another server's fullUrl, on that same server (FHIR's rule for Bundles).
    """

    kind: str
    resources: list[Any]
    full_urls: dict[int, str] = field(default_factory=dict)  # id(resource) -> fullUrl
    by_url: dict[str, Any] = field(default_factory=dict)
    local: dict[str, Any] = field(default_factory=dict)

    def add(self, resource: Any, full_url: str | None) -> None:
        self.resources.append(resource)
        key = f"{resource.get_resource_type()}/{resource.id}" if resource.id else ""
        if full_url:
            self.full_urls[id(resource)] = full_url
            self.by_url[full_url] = resource
        if key and not _is_remote(full_url or ""):
            self.local[key] = resource

    def find(self, reference: str, source: Any) -> Any:
        if reference in self.by_url:
            return self.by_url[reference]
        relative = _local(reference)
        if relative is None:
            return None
        source_url = self.full_urls.get(id(source), "")
        if _is_remote(source_url):
            parts = source_url.rstrip("/").split("/")
            return self.by_url.get("/".join([*parts[:-2], relative])) if len(parts) > 2 else None
        return self.local.get(relative)

    def reference_key(self, resource: Any) -> str:
        """How a later request may refer to this resource: its id here, or its other server's URL."""
        url = self.full_urls.get(id(resource), "")
        return url if _is_remote(url) else (resource.id or "")


def _load(raw: bytes) -> _Sent:
    try:
        data = json.loads(raw)
    except RecursionError:
        raise NotTaken(f"The JSON is nested more than {MAX_DEPTH} levels deep.") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise NotTaken(f"The body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise NotTaken("The body must be one FHIR resource (a JSON object).")
    if _too_deep(data):
        raise NotTaken(f"The JSON is nested more than {MAX_DEPTH} levels deep.")
    kind = data.get("resourceType")
    if kind == "Bundle":
        for number, entry in enumerate(data.get("entry") or [] if isinstance(data.get("entry"), list) else []):
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(resource, dict):
                _known_type(resource.get("resourceType"), f"Bundle.entry[{number}].resource")
    try:
        if kind == "Bundle":
            bundle = Bundle.model_validate(data)
            if bundle.type != "transaction":
                raise NotTaken(f"Bundle.type is “{bundle.type}”: send a transaction Bundle.")
            sent = _Sent(kind, [])
            for entry in bundle.entry or []:
                if entry.resource is not None:
                    sent.add(entry.resource, entry.fullUrl)
            return sent
        if kind == "Appointment":
            return _Sent(kind, [Appointment.model_validate(data)])
    except pydantic.ValidationError as exc:
        raise NotTaken(_validation_reason(exc)) from None
    except (LookupError, TypeError, ValueError) as exc:  # fhir.resources' own errors for shapes it cannot read
        raise NotTaken(f"Not a FHIR R4 resource this server can read: {exc}") from None
    _known_type(kind, "resourceType")
    raise NotTaken(f"resourceType “{kind}” is not taken here: send a transaction Bundle or an Appointment.")


def _known_type(kind: Any, where: str) -> None:
    try:
        get_fhir_model_class(str(kind))
    except (LookupError, ValueError):
        raise NotTaken(f"{where}: “{kind}” is not a FHIR R4 resource type.") from None


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


def _identifiers(appointment: Any) -> list[tuple[str, str]]:
    """Appointment.identifier as (system, value), in a stable order whatever order they were sent in."""
    sent = appointment.identifier or []
    return sorted({(identifier.system or "", identifier.value) for identifier in sent if identifier.value})


def _known(system: SendingSystem, identifiers: list[tuple[str, str]]) -> set[str]:
    """The filler ids of our appointments that any of the identifiers names."""
    if not identifiers:
        return set()
    match = Q()
    for uri, value in identifiers:
        match |= Q(uri=uri, value=value)
    known = set(
        AppointmentIdentifier.objects.filter(match, system=system).values_list("appointment__filler_id", flat=True)
    )
    if not known:  # booked before identifiers were kept, or by HL7 with the same id
        values = [value for _, value in identifiers]
        known = set(
            ExternalAppointment.objects.filter(system=system, filler_id__in=values, identifiers__isnull=True)
            .values_list("filler_id", flat=True)
            .distinct()
        )
    if len(known) > 1:
        raise NotTaken(
            "Appointment.identifier names more than one appointment here ("
            + ", ".join(sorted(known))
            + "): send the identifiers of one appointment."
        )
    return known


def filler_id_for(system: SendingSystem, identifiers: list[tuple[str, str]]) -> str:
    """Which appointment of ours the identifiers name: any one of them known finds it."""
    known = _known(system, identifiers)
    if known:
        return known.pop()
    uri, value = identifiers[0]
    # A new appointment: its first value is how nurses see it, unless another appointment already has it.
    for candidate in (value, f"{uri}|{value}"):
        if not ExternalAppointment.objects.filter(system=system, filler_id=candidate[:120]).exists():
            return candidate[:120]
    raise NotTaken(f"Appointment.identifier {uri}|{value} clashes with another appointment's id here.")


def remember_identifiers(system: SendingSystem, filler_id: str, identifiers: list[tuple[str, str]]) -> None:
    appointment = ExternalAppointment.objects.filter(system=system, filler_id=filler_id).first()
    if appointment is None:
        return
    for uri, value in identifiers:
        try:
            AppointmentIdentifier.objects.get_or_create(
                system=system, uri=uri[:255], value=value[:255], defaults={"appointment": appointment}
            )
        except IntegrityError:  # another request recorded it meanwhile
            continue


def _appointment_of(sent: _Sent, expect: str | None) -> Any:
    if expect and sent.kind != expect:
        raise NotTaken(f"This address takes {expect} resources, not {sent.kind}.")
    appointments = [r for r in sent.resources if r.get_resource_type() == "Appointment"]
    if len(appointments) != 1:
        raise NotTaken(f"Send exactly one Appointment per request ({len(appointments)} found).")
    return appointments[0]


def booking_of(
    raw: bytes,
    system: SendingSystem,
    *,
    expect: str | None = None,
    received_at: Any = None,
    target: ExternalAppointment | None = None,
    known_filler_id: str = "",
) -> tuple[Booking, list[tuple[str, str]]]:
    """What the request asks for, and the appointment's identifiers (system, value).

    `target` is the appointment an update (PUT Appointment/{id}) names: the identifiers
    sent may add to its own, never name another.
    """
    sent = _load(raw)
    appointment = _appointment_of(sent, expect)
    identifiers = _identifiers(appointment)
    if target is not None:
        if appointment.id is not None and appointment.id != str(target.pk):
            raise NotTaken(f"Appointment.id “{appointment.id}” is not the id in the address ({target.pk}).")
        if _known(system, identifiers) - {target.filler_id}:
            raise NotTaken("Appointment.identifier belongs to another appointment here.")
    elif not identifiers and not known_filler_id:
        raise NotTaken("Appointment.identifier is needed: it is how a resend or a change is recognised.")
    action = STATUSES.get(appointment.status or "")
    if action is None:
        raise NotTaken(f"Appointment.status “{appointment.status}” is not taken here.")
    updated = appointment.meta.lastUpdated if appointment.meta is not None else None
    if updated is None and received_at is None:
        raise NotTaken("Appointment.meta.lastUpdated is needed to apply changes in the order they were made.")
    if target is not None:
        filler = target.filler_id
    elif not identifiers:  # tried again: an update that named its appointment by address (PUT) only
        filler = known_filler_id
    else:
        filler = filler_id_for(system, identifiers)

    patient = None
    patient_key = patient_mrn = location_code = location_key = ""
    for participant in appointment.participant or []:
        if participant.actor is None:
            continue
        named = _named(participant.actor, sent, appointment)
        if named.type_name == "Patient":
            if named.resource is not None:
                patient = named.resource
            elif named.identifier:  # a logical reference: the MRN
                patient_mrn = named.identifier
            else:
                patient_key = named.key
        elif named.type_name == "Location":
            if named.resource is not None:
                place = named.resource
                location_code = next((i.value for i in place.identifier or [] if i.value), place.id or "")
                location_key = sent.reference_key(place)
            elif named.identifier:
                location_code = named.identifier
            elif named.key and action in (Action.BOOK, Action.UPDATE):  # a cancel names no clinic
                location_code = _sent_before(system, "Location", named.key)
    child, resource_key = None, ""
    if patient is not None:
        child, resource_key = _child(patient), sent.reference_key(patient)
    elif patient_mrn:
        child = ChildData(mrn=patient_mrn)
    elif action in (Action.BOOK, Action.UPDATE) and patient_key:  # a cancel needs no child
        child = ChildData(mrn=_sent_before(system, "Patient", patient_key))
    guardians = [
        _guardian(r)
        for r in sent.resources
        if r.get_resource_type() == "RelatedPerson"
        and (r.patient is None or sent.find(r.patient.reference or "", r) in (None, patient))
    ]
    booking = Booking(
        action=action,
        filler_id=filler,
        message_at=updated or received_at,
        start=appointment.start,
        location_code=location_code,
        service_code=_code(appointment.serviceType),
        child=child,
        guardians=guardians,
        child_resource_id=resource_key[:255],
        location_resource_id=location_key[:255] if location_code else "",
        note=_code([appointment.cancelationReason]) if appointment.cancelationReason else "",
    )
    return booking, identifiers


@dataclass(frozen=True)
class _Named:
    """What a participant's actor names: a resource in this request, an identifier, or the key of
    a resource sent before (its id here, or another server's full URL)."""

    type_name: str
    resource: Any = None
    identifier: str = ""
    key: str = ""


def _named(actor: Any, sent: _Sent, source: Any) -> _Named:
    reference = actor.reference or ""
    found = sent.find(reference, source) if reference else None
    if found is not None:
        return _Named(found.get_resource_type(), resource=found)
    if reference and not reference.startswith("urn:"):  # a urn:uuid outside its Bundle names nothing
        type_name = reference.split("/_history/")[0].rstrip("/").split("/")[-2:][0]
    else:
        type_name = actor.type or ""
    identifier = actor.identifier.value if actor.identifier is not None and actor.identifier.value else ""
    local = _local(reference) if reference else None
    # Any version of a resource names the resource: its history URL is the same one.
    key = local.split("/")[1] if local else reference.split("/_history/")[0]
    return _Named(type_name, identifier=identifier or "", key=key)


# Where a resource sent before is remembered, and what of it a booking needs.
_SENT_BEFORE = {"Patient": (ExternalPatient, "mrn", " (the MRN)"), "Location": (ExternalLocation, "code", "")}


def _sent_before(system: SendingSystem, kind: str, key: str) -> str:
    """The MRN of a Patient, or the code of a Location, this system sent before: by its id here,
    or by the other server's full URL it was sent under. Never another server's by its id alone."""
    model, column, identifier = _SENT_BEFORE[kind]
    found = model.objects.filter(system=system, resource_id=key).values_list(column, flat=True).first()
    if found:
        return found
    if _is_remote(key):
        raise NotApplied(
            f"{key} is a {kind} on another server that was never sent here under that URL: "
            f"include the {kind} in a transaction Bundle, or refer to it by identifier{identifier}."
        )
    if kind == "Location":
        return key  # Location/<id> of one never sent: the id is its code (Location codes map it to a clinic)
    raise NotApplied(f"{kind}/{key} was not sent before: include the {kind} in a transaction Bundle.")


def noted_status(raw: bytes) -> str:
    """The reason a request changes nothing because its status is a step we do not track, else ""."""
    try:
        sent = _load(raw)
        appointments = [r for r in sent.resources if r.get_resource_type() == "Appointment"]
    except NotTaken:
        return ""
    if len(appointments) != 1 or appointments[0].status not in NOTED:
        return ""
    return f"Noted: the record system says the child is {NOTED[appointments[0].status]}. Nothing changes here."


def process_fhir(
    message: InboundMessage,
    *,
    expect: str | None = None,
    target: ExternalAppointment | None = None,
    if_match: str | None = None,
    if_none_exist: str | None = None,
) -> Outcome:
    """Apply a stored FHIR request.

    An update may name the version it changes (If-Match); a create may say to
    create only if a search finds nothing (If-None-Exist). Raises PreconditionFailed
    (after recording the request as refused) when that version is no longer the
    current one, or when the search finds more than one.
    """
    from .intake import _finish

    if if_none_exist:
        return _conditional(message, if_none_exist, expect=expect)
    if target is None or if_match is None:
        return _process(message, expect=expect, target=target)
    with transaction.atomic():
        # The same lock apply_booking takes first, so the check and the change see one version.
        current = (
            ExternalAppointment.objects.select_for_update(of=("self",)).select_related("procedure").get(pk=target.pk)
        )
        now = f'W/"{version_of(current)}"'
        if if_match.strip().removeprefix("W/") == now.removeprefix("W/"):
            return _process(message, expect=expect, target=current)
    reason = f"If-Match {if_match} is not the current version ({now}): read it again, then send the change."
    _finish(message, Outcome(MessageStatus.REJECTED, reason))
    raise PreconditionFailed(reason, now)


def _conditional(message: InboundMessage, condition: str, *, expect: str | None) -> Outcome:
    from .fhir_api import conditional_matches
    from .intake import _finish

    assert message.system is not None  # noqa: S101 - only an authenticated client's requests are stored
    message.message_type = "Appointment"
    try:
        found = conditional_matches(message.system, condition)
    except NotTaken as exc:
        return _finish(message, Outcome(MessageStatus.REJECTED, exc.reason))
    if len(found) > 1:
        reason = f"If-None-Exist “{condition}” finds more than one appointment here: nothing was created."
        _finish(message, Outcome(MessageStatus.REJECTED, reason))
        raise PreconditionFailed(reason)
    if not found:
        return _process(message, expect=expect, target=None)
    message.filler_id = found[0].filler_id
    return _finish(
        message,
        Outcome(
            MessageStatus.UNCHANGED, "Already here (If-None-Exist): nothing was created or changed.", found[0].procedure
        ),
    )


def _process(message: InboundMessage, *, expect: str | None, target: ExternalAppointment | None) -> Outcome:
    from .intake import _finish, apply_stored

    system = message.system
    if system is None:  # only an authenticated client's requests are stored
        raise NotTaken("No sending system.")
    message.message_type = "Appointment"
    raw = bytes(message.raw)
    noted = noted_status(raw)
    if noted:
        return _finish(message, Outcome(MessageStatus.UNCHANGED, noted))
    identifiers: list[tuple[str, str]] = []

    def read() -> Booking:
        booking, sent_identifiers = booking_of(
            raw,
            system,
            expect=expect,
            received_at=message.received_at,
            target=target,
            known_filler_id=message.filler_id,
        )
        identifiers.extend(sent_identifiers)
        return booking

    outcome = apply_stored(message, system, read)
    if outcome.status in (MessageStatus.APPLIED, MessageStatus.UNCHANGED) and message.filler_id:
        remember_identifiers(system, message.filler_id, identifiers)
    return outcome
