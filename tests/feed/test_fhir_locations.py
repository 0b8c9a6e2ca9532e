"""FHIR Location references resolve to a clinic the way Patient references resolve to a child:
in the Bundle, by the id or full URL a Location was sent under before, or by identifier."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import override_settings
from django.utils import timezone

from procedures.feed.models import ExternalLocation, LocationCode
from procedures.models import Procedure, ProcedureStatus
from tests.factories import LocationFactory

from .test_fhir_endpoint import appointment, bundle, entry_status, send
from .test_hl7_listener import _start

REMOTE = "https://ehr.lakeside.example/api/FHIR/R4/Location/e4W-Hm2pZ"


@pytest.fixture
def east(epic):
    east = LocationFactory(name="East Infusion Suite", timezone="America/Chicago")
    epic.clinics.add(east)
    LocationCode.objects.create(system=epic, code="ONC-EAST", location=east)
    return east


def _booked_at_east(client, token, *, full_url: str, resource_id: str | None = None) -> None:
    """A Bundle whose Location (identifier ONC-EAST) is sent under `full_url`."""
    body = json.loads(bundle(appointment(patient_ref="urn:uuid:pat-1")))
    place = next(entry for entry in body["entry"] if entry["resource"]["resourceType"] == "Location")
    place["fullUrl"] = full_url
    place["resource"]["identifier"] = [{"system": "urn:lakeside:departments", "value": "ONC-EAST"}]
    if resource_id:
        place["resource"]["id"] = resource_id
    appt = body["entry"][-1]["resource"]
    appt["participant"][1]["actor"]["reference"] = full_url
    _, answer = send(client, "", json.dumps(body), token=token)
    assert entry_status(answer) == "201 Created", answer


def _alone(client, token, ident: str, actor: dict, *, days: int, status: str = "booked"):
    later = appointment(ident=ident, patient_ref="Patient/pat-77", start=_start(days=days), status=status)
    later.meta.lastUpdated = timezone.now() + dt.timedelta(seconds=days)
    later.participant[1].actor = actor
    return send(client, "Appointment", later.model_dump_json(exclude_none=True), token=token)


def test_a_location_sent_under_its_servers_url_is_found_by_that_url(client, token, clinic, east):
    _booked_at_east(client, token, full_url=REMOTE)
    assert Procedure.objects.get().location == east
    assert ExternalLocation.objects.get().code == "ONC-EAST"

    response, answer = _alone(client, token, "APT-2", {"reference": REMOTE}, days=7)
    assert response.status_code == 201, answer
    assert Procedure.objects.get(scheduled_start=_start(days=7)).location == east
    # Its history URL names the same Location.
    response, answer = _alone(client, token, "APT-3", {"reference": f"{REMOTE}/_history/3"}, days=8)
    assert response.status_code == 201, answer
    assert Procedure.objects.get(scheduled_start=_start(days=8)).location == east


def test_another_servers_location_is_not_ours_even_with_our_codes_id(client, token, clinic, east):
    _booked_at_east(client, token, full_url="urn:uuid:loc-1")
    stranger = {"reference": "http://other.example/fhir/Location/ONC-EAST"}
    response, answer = _alone(client, token, "APT-2", stranger, days=7)
    assert response.status_code == 422
    reason = answer["issue"][0]["diagnostics"]
    assert "http://other.example/fhir/Location/ONC-EAST" in reason and "another server" in reason
    assert "refer to it by identifier" in reason
    assert Procedure.objects.count() == 1

    # The same with an identifier: the identifier says which clinic.
    named = {**stranger, "identifier": {"system": "urn:lakeside:departments", "value": "ONC-PROC"}}
    response, answer = _alone(client, token, "APT-3", named, days=8)
    assert response.status_code == 201, answer
    assert Procedure.objects.get(scheduled_start=_start(days=8)).location == clinic


def test_a_location_sent_with_an_id_is_found_by_that_id_and_a_code_by_its_own(client, token, clinic, east):
    _booked_at_east(client, token, full_url="urn:uuid:loc-1", resource_id="loc-7")
    response, answer = _alone(client, token, "APT-2", {"reference": "Location/loc-7"}, days=7)
    assert response.status_code == 201, answer
    assert Procedure.objects.get(scheduled_start=_start(days=7)).location == east
    # A Location never sent is named by its code, relative or under our own base URL.
    response, answer = _alone(client, token, "APT-3", {"reference": "Location/ONC-PROC"}, days=8)
    assert response.status_code == 201, answer
    assert Procedure.objects.get(scheduled_start=_start(days=8)).location == clinic
    with override_settings(SITE_URL="http://127.0.0.1:8000"):
        ours = {"reference": "http://127.0.0.1:8000/fhir/Location/ONC-EAST"}
        response, answer = _alone(client, token, "APT-4", ours, days=9)
    assert response.status_code == 201, answer
    assert Procedure.objects.get(scheduled_start=_start(days=9)).location == east


def test_a_cancel_naming_an_unknown_location_still_cancels(client, token, clinic, east):
    _booked_at_east(client, token, full_url=REMOTE)
    gone = appointment(patient_ref="Patient/pat-77", status="cancelled")
    gone.meta.lastUpdated = timezone.now() + dt.timedelta(minutes=1)
    gone.participant[1].actor = {"reference": "http://other.example/fhir/Location/x"}
    response, answer = send(client, "Appointment", gone.model_dump_json(exclude_none=True), token=token)
    assert response.status_code == 200, answer
    assert Procedure.objects.get().status == ProcedureStatus.CANCELLED
