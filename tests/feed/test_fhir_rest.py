"""FHIR R4 REST as clients expect it: metadata, read, search, conditional create, versioned update."""

from __future__ import annotations

import datetime as dt
import json
import pathlib
import urllib.parse
import urllib.request

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.patient import Patient as FhirPatient
from fhir.resources.R4B.relatedperson import RelatedPerson

from procedures.feed.intake import try_again
from procedures.feed.models import (
    ApiToken,
    ExternalAppointment,
    InboundMessage,
    LocationCode,
    SendingSystem,
    ServiceCode,
)
from procedures.models import Procedure, ProcedureKind, Sedation

from .test_fhir_endpoint import appointment, bundle, entry_status, post, send
from .test_hl7_listener import _start

EXAMPLES = pathlib.Path(__file__).parent / "fhir_examples"


def alone(ident: str, *, days: int = 5, status: str = "booked") -> str:
    appt = appointment(ident=ident, patient_ref="Patient/pat-77", start=_start(days=days), status=status)
    appt.participant[1].actor.reference = "Location/ONC-PROC"
    return appt.model_dump_json(exclude_none=True)


@pytest.fixture
def child(client, token) -> None:
    _, body = send(client, "", bundle(appointment(ident="APT-1", patient_ref="urn:uuid:pat-1")), token=token)
    assert entry_status(body) == "201 Created", body


def test_metadata_says_what_is_served(client):
    response = client.get("/fhir/metadata")
    assert response.status_code == 200 and response["Content-Type"] == "application/fhir+json"
    statement = CapabilityStatement.model_validate_json(response.content)
    assert statement.fhirVersion == "4.0.1" and statement.kind == "instance"
    rest = statement.rest[0]
    assert [r.type for r in rest.resource] == ["Appointment"]
    appointment_rest = rest.resource[0]
    assert {i.code for i in appointment_rest.interaction} == {"read", "vread", "update", "create", "search-type"}
    assert appointment_rest.conditionalCreate is True and appointment_rest.versioning == "versioned-update"
    assert appointment_rest.updateCreate is False and appointment_rest.conditionalUpdate is False
    assert {p.name for p in appointment_rest.searchParam} == {"identifier", "patient", "date", "_id"}
    assert [i.code for i in rest.interaction] == ["transaction"]
    token_url = rest.security.extension[0].extension[0].valueUri
    assert token_url.endswith("/fhir/auth/token")


def test_a_create_answers_location_and_etag_and_reads_back(client, token, child, epic):
    response, body = send(client, "Appointment", alone("APT-2"), token=token)
    assert response.status_code == 201, body
    location, tag = response["Location"], response["ETag"]
    pk = ExternalAppointment.objects.get(filler_id="APT-2").pk
    assert location.endswith(f"/fhir/Appointment/{pk}/_history/1") and tag == 'W/"1"'
    assert response["Last-Modified"]

    response = client.get(f"/fhir/Appointment/{pk}", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200 and response["ETag"] == tag
    read = Appointment.model_validate_json(response.content)
    assert read.id == str(pk) and read.meta.versionId == "1" and read.status == "booked"
    assert read.start == _start(days=5)
    assert [(i.system, i.value) for i in read.identifier] == [("urn:oid:1.2.840.114350.1", "APT-2")]
    assert read.serviceType[0].coding[0].code == "BMAB-GA"
    patient, place = (p.actor for p in read.participant)
    assert (patient.reference, patient.identifier.value) == ("Patient/pat-77", "F777")
    assert place.identifier.value == "ONC-PROC"
    versioned = client.get(f"/fhir/Appointment/{pk}/_history/1", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert versioned.status_code == 200
    assert client.get(f"/fhir/Appointment/{pk}/_history/7", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 404

    # Prefer: return=representation gives the resource itself.
    response, body = send(client, "Appointment", alone("APT-3"), token=token, HTTP_PREFER="return=representation")
    assert response.status_code == 201 and body["resourceType"] == "Appointment" and body["id"]

    # Another system's token finds nothing of this system's.
    other = SendingSystem.objects.create(name="Another hospital")
    row = ApiToken(system=other)
    other_token = row.set_new_token()
    row.save()
    response = client.get(f"/fhir/Appointment/{pk}", HTTP_AUTHORIZATION=f"Bearer {other_token}")
    assert response.status_code == 404 and json.loads(response.content)["resourceType"] == "OperationOutcome"
    assert client.get(f"/fhir/Appointment/{pk}").status_code == 401
    assert client.get("/fhir/Appointment/abc", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 404


def search(client, token, query: str) -> Bundle:
    response = client.get(f"/fhir/Appointment?{query}", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content
    answer = Bundle.model_validate_json(response.content)
    assert answer.type == "searchset"
    return answer


def matches(answer: Bundle) -> list[str]:
    return sorted(e.resource.identifier[0].value for e in answer.entry if e.search.mode == "match")


def test_search_by_identifier_patient_and_date_with_flat_queries(client, token, child):
    for number in range(2, 5):
        assert send(client, "Appointment", alone(f"APT-{number}", days=4 + number), token=token)[0].status_code == 201
    assert matches(search(client, token, "identifier=urn:oid:1.2.840.114350.1|APT-3")) == ["APT-3"]
    assert matches(search(client, token, "identifier=APT-3")) == ["APT-3"]
    assert matches(search(client, token, "identifier=urn:other|APT-3")) == []
    assert matches(search(client, token, "patient=Patient/pat-77")) == ["APT-1", "APT-2", "APT-3", "APT-4"]
    assert matches(search(client, token, "patient=http://other.example/fhir/Patient/pat-77")) == []
    start = _start(days=6)
    day = start.astimezone(dt.UTC).date().isoformat()
    assert matches(search(client, token, f"date={day}")) == ["APT-2"]
    assert matches(search(client, token, f"date=ge{day}&date=lt{(start + dt.timedelta(days=2)).date()}")) == [
        "APT-2",
        "APT-3",
    ]
    stamp = start.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert matches(search(client, token, f"date=eq{stamp}")) == ["APT-2"]
    assert matches(search(client, token, f"date=gt{stamp}&patient=pat-77")) == ["APT-3", "APT-4"]

    page = search(client, token, "_count=2")
    assert page.total == 4 and len(page.entry) == 2
    following = next(link.url for link in page.link if link.relation == "next")
    assert "_offset=2" in following
    ignored = search(client, token, "status=booked")
    outcome = [e for e in ignored.entry if e.search.mode == "outcome"]
    assert "status" in outcome[0].resource.issue[0].diagnostics

    response = client.get("/fhir/Appointment?date=yesterday", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 400 and "date=yesterday" in response.content.decode()

    def queries() -> int:
        with CaptureQueriesContext(connection) as run:
            search(client, token, "patient=Patient/pat-77")
        return len(run.captured_queries)

    few = queries()
    for number in range(5, 12):
        send(client, "Appointment", alone(f"APT-{number}", days=4 + number), token=token)
    assert queries() == few


def test_if_none_exist_creates_only_when_nothing_matches(client, token, child):
    condition = "identifier=urn:oid:1.2.840.114350.1|APT-1"
    moved = alone("APT-1", days=9)
    response, body = send(client, "Appointment", moved, token=token, HTTP_IF_NONE_EXIST=condition)
    assert response.status_code == 200 and "If-None-Exist" in body["issue"][0]["diagnostics"]
    assert response["Location"].endswith("/_history/1")
    assert Procedure.objects.get().scheduled_start == _start()  # not moved: a conditional create changes nothing

    response, body = send(
        client,
        "Appointment",
        alone("APT-5"),
        token=token,
        HTTP_IF_NONE_EXIST="identifier=urn:oid:1.2.840.114350.1|APT-5",
    )
    assert response.status_code == 201, body
    response, body = send(client, "Appointment", alone("APT-6"), token=token, HTTP_IF_NONE_EXIST="patient=pat-77")
    assert response.status_code == 412 and body["issue"][0]["code"] == "conflict"
    response, body = send(client, "Appointment", alone("APT-6"), token=token, HTTP_IF_NONE_EXIST="name=Linh")
    assert response.status_code == 400 and "search by identifier" in body["issue"][0]["diagnostics"]
    assert Procedure.objects.count() == 2

    # The same inside a transaction Bundle: entry.request.ifNoneExist.
    again = json.loads(bundle(appointment(ident="APT-1", patient_ref="urn:uuid:pat-1", start=_start(days=9))))
    again["entry"][-1]["request"]["ifNoneExist"] = f"Appointment?{condition}"
    response, body = send(client, "", json.dumps(again), token=token)
    assert response.status_code == 200 and entry_status(body) == "200 OK"
    assert Procedure.objects.filter(scheduled_start=_start(days=9)).count() == 0


def test_if_match_guards_an_update(client, token, child):
    pk = ExternalAppointment.objects.get().pk
    moved = json.loads(alone("APT-1", days=7))
    moved["id"] = str(pk)
    response, body = send(
        client, f"Appointment/{pk}", json.dumps(moved), token=token, method="put", HTTP_IF_MATCH='W/"1"'
    )
    assert response.status_code == 200, body
    assert response["ETag"] == 'W/"2"'
    procedure = Procedure.objects.get()
    assert procedure.scheduled_start == _start(days=7) and procedure.version == 2

    # A client that read version 1 and changes it now is refused, and told the current version.
    stale = dict(moved, start=_start(days=8).isoformat())
    response, body = send(
        client, f"Appointment/{pk}", json.dumps(stale), token=token, method="put", HTTP_IF_MATCH='W/"1"'
    )
    assert response.status_code == 412 and response["ETag"] == 'W/"2"', body
    procedure.refresh_from_db()
    assert procedure.scheduled_start == _start(days=7)
    assert InboundMessage.objects.filter(reason__startswith="If-Match").count() == 1

    # Without identifiers the address names the appointment; with another's identifiers it is refused.
    bare = dict(stale, identifier=[])
    del bare["identifier"]
    response, body = send(client, f"Appointment/{pk}", json.dumps(bare), token=token, method="put", HTTP_IF_MATCH='"2"')
    assert response.status_code == 200, body
    send(client, "Appointment", alone("APT-2", days=10), token=token)
    theirs = dict(moved, identifier=[{"system": "urn:oid:1.2.840.114350.1", "value": "APT-2"}])
    response, body = send(client, f"Appointment/{pk}", json.dumps(theirs), token=token, method="put")
    assert response.status_code == 400 and "another appointment" in body["issue"][0]["diagnostics"]
    response, body = send(client, f"Appointment/{pk}", json.dumps(dict(moved, id="999")), token=token, method="put")
    assert response.status_code == 400 and "not the id in the address" in body["issue"][0]["diagnostics"]
    response, body = send(client, "Appointment/999999", json.dumps(moved), token=token, method="put")
    assert response.status_code == 404


def official(name: str, *, identifier: str | None, days: int) -> dict:
    """An official example as published, with only an identifier added and its dates moved into the future."""
    data = json.loads((EXAMPLES / name).read_text())
    if identifier:
        data["identifier"] = [{"system": "urn:lakeside:appointments", "value": identifier}]
    for key in ("start", "end"):
        if key in data:
            hours = dt.datetime.fromisoformat(data[key]).hour - 9
            data[key] = (_start(days=days) + dt.timedelta(hours=hours)).isoformat()
    return data


def test_the_official_examples_through_a_live_server(live_server, token, epic, clinic):
    LocationCode.objects.create(system=epic, code="1", location=clinic)
    ServiceCode.objects.create(system=epic, code="52", kind=ProcedureKind.ASPIRATION, sedation=Sedation.GENERAL)
    peter = FhirPatient(
        id="example",
        identifier=[
            {
                "use": "usual",
                "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
                "system": "urn:oid:1.2.36.146.595.217.0.1",
                "value": "12345",
            }
        ],
        name=[{"use": "official", "family": "Chalmers", "given": ["Peter", "James"]}],
        birthDate="2015-12-25",
    )
    mother = RelatedPerson(
        patient={"reference": "urn:uuid:peter"},
        relationship=[{"coding": [{"code": "MTH", "display": "Mother"}]}],
        name=[{"family": "Chalmers", "given": ["Anne"]}],
        telecom=[{"system": "email", "value": "anne.chalmers@example.org"}],
    )
    first = official("appointment-example.json", identifier="EX-1", days=5)
    transaction = Bundle(
        type="transaction",
        entry=[
            {"fullUrl": "urn:uuid:peter", "resource": peter, "request": {"method": "PUT", "url": "Patient/example"}},
            {"fullUrl": "urn:uuid:anne", "resource": mother, "request": {"method": "POST", "url": "RelatedPerson"}},
            {"resource": Appointment.model_validate(first), "request": {"method": "POST", "url": "Appointment"}},
        ],
    ).model_dump_json(exclude_none=True)
    status, _, answer = post(live_server, "", transaction, token=token)
    assert status == 200 and answer.entry[2].response.status == "201 Created", answer

    # The others alone, referring to Patient/example and Location/1 exactly as published.
    two = Appointment.model_validate(official("appointment-example2doctors.json", identifier="EX-2", days=6))
    status, headers, answer = post(live_server, "Appointment", two.model_dump_json(exclude_none=True), token=token)
    assert status == 201, answer
    assert headers["ETag"] == 'W/"1"' and "/fhir/Appointment/" in headers["Location"]
    request = Appointment.model_validate(official("appointment-example-request.json", identifier=None, days=7))
    status, _, answer = post(live_server, "Appointment", request.model_dump_json(exclude_none=True), token=token)
    # Proposed, with only a requested period: nothing to book yet, and the reason says so.
    assert status == 422 and "No service code" in answer.issue[0].diagnostics

    assert Procedure.objects.filter(patient__mrn="12345").count() == 2
    where = urllib.parse.urlsplit(headers["Location"]).path
    read = urllib.request.Request(f"{live_server.url}{where}", headers={"Authorization": f"Bearer {token}"})  # noqa: S310
    with urllib.request.urlopen(read, timeout=30) as response:  # noqa: S310 - our own test server
        back = Appointment.model_validate_json(response.read())
    assert back.start == _start(days=6) and back.participant[0].actor.identifier.value == "12345"


def test_an_update_by_address_alone_can_be_tried_again(client, token, child, epic):
    pk = ExternalAppointment.objects.get().pk
    change = json.loads(alone("APT-1", days=7))
    del change["identifier"]
    change["serviceType"] = [{"coding": [{"code": "BMA-SED"}]}]
    response, body = send(client, f"Appointment/{pk}", json.dumps(change), token=token, method="put")
    assert response.status_code == 422 and "BMA-SED" in body["issue"][0]["diagnostics"]
    ServiceCode.objects.create(system=epic, code="BMA-SED", kind=ProcedureKind.ASPIRATION, sedation=Sedation.GENERAL)
    waiting = InboundMessage.objects.get(status="failed")
    assert try_again(waiting).status == "applied"
    procedure = Procedure.objects.get()
    assert (procedure.kind, procedure.scheduled_start) == (ProcedureKind.ASPIRATION, _start(days=7))
