"""The FHIR R4 REST side clients expect: the CapabilityStatement, reading and searching Appointments.

An Appointment here is one `ExternalAppointment` of the asking system: its id is
that row's, its version the booked procedure's (a nurse's change makes a new one,
so `If-Match` protects against overwriting it). What it shows comes from the
procedure as it stands, in the system's own codes where a mapping exists.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode

from django.db.models import Q, QuerySet
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from procedures.models import ProcedureStatus

from .booking import NotTaken
from .fhir import NOTED, STATUSES, fhir_base, version_of
from .models import (
    AppointmentIdentifier,
    ExternalAppointment,
    ExternalPatient,
    LocationCode,
    SendingSystem,
    ServiceCode,
)

MAX_COUNT = 100
DEFAULT_COUNT = 50
MR = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}


def etag(appointment: ExternalAppointment) -> str:
    return f'W/"{version_of(appointment)}"'


def location_of(appointment: ExternalAppointment) -> str:
    return f"{fhir_base()}Appointment/{appointment.pk}/_history/{version_of(appointment)}"


def last_updated(appointment: ExternalAppointment) -> dt.datetime:
    if appointment.procedure is not None:
        return appointment.procedure.updated_at
    return appointment.last_message_at or timezone.now()


def appointments(system: SendingSystem) -> QuerySet[ExternalAppointment]:
    """The system's own appointments, with what an Appointment shows (a fixed number of queries)."""
    return (
        ExternalAppointment.objects.filter(system=system)
        .select_related("procedure__patient", "procedure__location")
        .prefetch_related("identifiers")
        .order_by("pk")
    )


@dataclass
class _Codes:
    """The system's own codes for our clinics, procedures and children, read once per answer."""

    locations: dict[int, str]
    services: dict[tuple[str, str], str]
    patients: dict[int, ExternalPatient]

    @classmethod
    def read(cls, system: SendingSystem, rows: list[ExternalAppointment]) -> _Codes:
        locations: dict[int, str] = {}
        for code in LocationCode.objects.filter(system=system).order_by("-pk"):
            locations[code.location_id] = code.code
        services: dict[tuple[str, str], str] = {}
        for code in ServiceCode.objects.filter(system=system).order_by("-pk"):
            services[(code.kind, code.sedation)] = code.code
        children = {row.procedure.patient_id for row in rows if row.procedure is not None}
        patients = {
            link.patient_id: link for link in ExternalPatient.objects.filter(system=system, patient_id__in=children)
        }
        return cls(locations, services, patients)


def _status(appointment: ExternalAppointment) -> str:
    procedure = appointment.procedure
    if appointment.cancelled or (procedure is not None and procedure.status == ProcedureStatus.CANCELLED):
        return "cancelled"
    if procedure is not None and procedure.status == ProcedureStatus.COMPLETED:
        return "fulfilled"
    return "booked"


def _patient_reference(link: ExternalPatient | None) -> str:
    if link is None or not link.resource_id:
        return ""
    return link.resource_id if "://" in link.resource_id else f"Patient/{link.resource_id}"


def appointment_json(appointment: ExternalAppointment, codes: _Codes) -> dict[str, Any]:
    procedure = appointment.procedure
    identifiers = [
        {"system": row.uri, "value": row.value} if row.uri else {"value": row.value}
        for row in appointment.identifiers.all()
    ] or [{"value": appointment.filler_id}]
    resource: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": str(appointment.pk),
        "meta": {"versionId": str(version_of(appointment)), "lastUpdated": last_updated(appointment).isoformat()},
        "identifier": identifiers,
        "status": _status(appointment),
    }
    if procedure is None:
        resource["participant"] = [{"status": "declined"}]
        return resource
    patient = procedure.patient
    service = codes.services.get((procedure.kind, procedure.sedation))
    resource["serviceType"] = [
        {"coding": [{"code": service}], "text": procedure.get_kind_display()}
        if service
        else {"text": procedure.get_kind_display()}
    ]
    resource["start"] = procedure.scheduled_start.isoformat()
    actor: dict[str, Any] = {
        "type": "Patient",
        "identifier": {"type": MR, "value": patient.mrn},
        "display": f"{patient.first_name} {patient.last_name}".strip(),
    }
    reference = _patient_reference(codes.patients.get(patient.pk))
    if reference:
        actor["reference"] = reference
    place: dict[str, Any] = {"type": "Location", "display": procedure.location.name}
    if procedure.location_id in codes.locations:
        place["identifier"] = {"value": codes.locations[procedure.location_id]}
    resource["participant"] = [{"actor": actor, "status": "accepted"}, {"actor": place, "status": "accepted"}]
    if resource["status"] == "cancelled" and procedure.cancel_reason:
        resource["cancelationReason"] = {"text": procedure.cancel_reason}
    return resource


def one_json(system: SendingSystem, appointment: ExternalAppointment) -> dict[str, Any]:
    return appointment_json(appointment, _Codes.read(system, [appointment]))


# --- search ------------------------------------------------------------------------------------------

DATE = re.compile(
    r"^(ge|gt|le|lt|eq|ne|sa|eb)?(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2}))?(.*))?)?)?$"
)
SUPPORTED = ("patient", "date", "identifier", "_id", "_count", "_offset")


def _date_filter(value: str, tz: dt.tzinfo) -> Q:
    """FHIR's date search on Appointment.start: a prefix, and the range the precision given covers."""
    match = DATE.match(value)
    if match is None:
        raise NotTaken(f"date={value}: use a FHIR date such as ge2026-12-01 or 2026-12-07T09:00:00Z.")
    prefix, year, month, day, hour, minute, second, zone = match.groups()
    zone = re.sub(r"^\.\d+", "", zone or "")  # fractions of a second: the second is precision enough
    try:
        zone_info = (dt.UTC if zone == "Z" else dt.datetime.strptime(zone, "%z").tzinfo) if zone else tz
        low = dt.datetime(
            int(year),
            int(month or 1),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            tzinfo=zone_info,
        )
    except ValueError:
        raise NotTaken(f"date={value}: not a real date and time.") from None
    if hour is not None:
        high = low + dt.timedelta(seconds=1 if second is not None else 60)
    elif day is not None:
        high = low + dt.timedelta(days=1)
    elif month is not None:
        high = (low.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    else:
        high = low.replace(year=low.year + 1)
    field = "procedure__scheduled_start"
    return {
        None: Q(**{f"{field}__gte": low, f"{field}__lt": high}),
        "eq": Q(**{f"{field}__gte": low, f"{field}__lt": high}),
        "ne": ~Q(**{f"{field}__gte": low, f"{field}__lt": high}) & Q(**{f"{field}__isnull": False}),
        "lt": Q(**{f"{field}__lt": low}),
        "eb": Q(**{f"{field}__lt": low}),
        "le": Q(**{f"{field}__lt": high}),
        "gt": Q(**{f"{field}__gte": high}),
        "sa": Q(**{f"{field}__gte": high}),
        "ge": Q(**{f"{field}__gte": low}),
    }[prefix]


def _identifier_filter(value: str) -> Q:
    uri, bar, code = value.rpartition("|")
    if not bar:
        return Q(identifiers__value=value) | Q(identifiers__isnull=True, filler_id=value)
    if not uri:  # "|value": an identifier with no system
        return Q(identifiers__uri="", identifiers__value=code)
    return Q(pk__in=AppointmentIdentifier.objects.filter(uri=uri, value=code).values("appointment_id"))


def _patient_filter(system: SendingSystem, value: str) -> Q:
    base = fhir_base()
    key = value[len(base) :] if value.startswith(base) else value
    if "://" not in key:
        key = key.removeprefix("Patient/")
    children = ExternalPatient.objects.filter(system=system, resource_id=key).values("patient_id")
    return Q(procedure__patient__in=children)


def _filtered(system: SendingSystem, params: dict[str, list[str]]) -> tuple[QuerySet[ExternalAppointment], list]:
    query = appointments(system)
    used: list[tuple[str, str]] = []
    for value in params.get("identifier", []):
        query = query.filter(_identifier_filter(value))
        used.append(("identifier", value))
    for value in params.get("patient", []):
        query = query.filter(_patient_filter(system, value))
        used.append(("patient", value))
    for value in params.get("date", []):
        query = query.filter(_date_filter(value, system.tz))
        used.append(("date", value))
    for value in params.get("_id", []):
        query = query.filter(pk__in=[int(part) for part in value.split(",") if part.isdigit()])
        used.append(("_id", value))
    return query.distinct(), used


def conditional_matches(system: SendingSystem, condition: str) -> list[ExternalAppointment]:
    """If-None-Exist (or Bundle.entry.request.ifNoneExist): the system's appointments it finds, at most two."""
    query = condition.partition("?")[2] if "?" in condition else condition
    params = parse_qs(query, keep_blank_values=True)
    unknown = sorted(set(params) - {"identifier", "patient", "date", "_id"})
    if not params or unknown:
        raise NotTaken(
            f"If-None-Exist “{condition}”: search by identifier (identifier=system|value), patient, date or _id."
        )
    found, _ = _filtered(system, params)
    return list(found[:2])


def _int(params: dict[str, list[str]], name: str, default: int, most: int) -> int:
    raw = (params.get(name) or [str(default)])[-1]
    if not raw.isdigit():
        raise NotTaken(f"{name}={raw}: a whole number is needed.")
    return min(int(raw), most)


def search(system: SendingSystem, params: dict[str, list[str]]) -> tuple[dict[str, Any], list[str]]:
    """A searchset Bundle, and the parameters that were not used (the client is told in an outcome entry)."""
    query, used = _filtered(system, params)
    count = _int(params, "_count", DEFAULT_COUNT, MAX_COUNT)
    offset = _int(params, "_offset", 0, 10**9)
    total = query.count()
    rows = list(query[offset : offset + count])
    codes = _Codes.read(system, rows)

    def link(relation: str, at: int) -> dict[str, str]:
        pairs = [*used, ("_count", str(count)), ("_offset", str(at))]
        return {"relation": relation, "url": f"{fhir_base()}Appointment?{urlencode(pairs)}"}

    links = [link("self", offset)]
    if offset + count < total:
        links.append(link("next", offset + count))
    if offset > 0:
        links.append(link("previous", max(0, offset - count)))
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": f"{fhir_base()}Appointment/{row.pk}",
            "resource": appointment_json(row, codes),
            "search": {"mode": "match"},
        }
        for row in rows
    ]
    ignored = sorted(name for name in params if name not in SUPPORTED)
    bundle = {"resourceType": "Bundle", "type": "searchset", "total": total, "link": links, "entry": entries}
    Bundle.model_validate(bundle)  # what we answer is valid FHIR
    return bundle, ignored


# --- the CapabilityStatement ------------------------------------------------------------------------


def capability_statement(*, token_url: str) -> str:
    statuses = ", ".join([*STATUSES, *NOTED])
    resource = CapabilityStatement(
        status="active",
        date=dt.date(2026, 12, 7),
        publisher="Marrow Ready",
        kind="instance",
        software={"name": "Marrow Ready"},
        implementation={
            "description": "Bookings of bone marrow procedures from the hospital's record system",
            "url": fhir_base(),
        },
        fhirVersion="4.0.1",
        format=["application/fhir+json", "json"],
        rest=[
            {
                "mode": "server",
                "documentation": (
                    "Appointments only, each with its Patient, RelatedPerson(s) and Location in a transaction "
                    "Bundle or referring to a Patient sent before. Patient, RelatedPerson and Location are taken "
                    "as the child's details, not kept as resources: they cannot be read back. "
                    f"Appointment.status taken: {statuses}."
                ),
                "security": {
                    "cors": False,
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                    "code": "SMART-on-FHIR",
                                }
                            ]
                        }
                    ],
                    "description": (
                        "SMART Backend Services (client_credentials with a private_key_jwt assertion, RS384 or "
                        "ES384; scopes system/Appointment.read, system/Appointment.write), or a static bearer "
                        "token issued per sending system."
                    ),
                    "extension": [
                        {
                            "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                            "extension": [{"url": "token", "valueUri": token_url}],
                        }
                    ],
                },
                "resource": [
                    {
                        "type": "Appointment",
                        "interaction": [
                            {"code": "read"},
                            {"code": "vread"},
                            {"code": "update"},
                            {"code": "create"},
                            {"code": "search-type"},
                        ],
                        "versioning": "versioned-update",
                        "readHistory": False,
                        "updateCreate": False,
                        "conditionalCreate": True,
                        "conditionalUpdate": False,
                        "conditionalDelete": "not-supported",
                        "searchParam": [
                            {"name": "identifier", "type": "token"},
                            {"name": "patient", "type": "reference"},
                            {"name": "date", "type": "date"},
                            {"name": "_id", "type": "token"},
                        ],
                    }
                ],
                "interaction": [{"code": "transaction"}],
            }
        ],
    )
    return resource.model_dump_json(exclude_none=True)
