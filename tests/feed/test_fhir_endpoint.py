"""FHIR R4 Appointments POSTed to the running server, built with fhir.resources as a client would."""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request
import uuid

import pytest
from django.test import override_settings
from django.utils import timezone
from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.location import Location as FhirLocation
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.patient import Patient as FhirPatient
from fhir.resources.R4B.relatedperson import RelatedPerson

from procedures.feed.models import ApiToken, InboundMessage, MessageStatus
from procedures.models import Guardian, Patient, Procedure, ProcedureStatus
from reminders.models import Kind, Reminder

from .test_hl7_listener import _start


def post(live_server, path: str, body: str | bytes, *, token: str | None, content_type: str = "application/fhir+json"):
    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(f"{live_server.url}/fhir/{path}", data=data, method="POST")  # noqa: S310
    request.add_header("Content-Type", content_type)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - our own test server
            return response.status, dict(response.headers), _parsed(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), _parsed(error.read())


def _parsed(body: bytes) -> OperationOutcome | Bundle:
    """What the server answered, read as a client library would: a transaction-response or an OperationOutcome."""
    if json.loads(body).get("resourceType") == "Bundle":
        answer = Bundle.model_validate_json(body)
        assert answer.type == "transaction-response"
        return answer
    return OperationOutcome.model_validate_json(body)


def booked(answer: Bundle) -> tuple[str, str]:
    """(response.status, its outcome's text) of the Appointment entry of a transaction-response."""
    entry = next(e for e in answer.entry if e.response.location and "Appointment" in e.response.location)
    return entry.response.status, entry.response.outcome.issue[0].diagnostics


def appointment(
    *, ident: str = "APT-1", status: str = "booked", start: dt.datetime | None = None, updated=None, patient_ref: str
) -> Appointment:
    start = start or _start()
    return Appointment(
        meta={"lastUpdated": updated or timezone.now()},
        identifier=[{"system": "urn:oid:1.2.840.114350.1", "value": ident}],
        status=status,
        serviceType=[{"coding": [{"system": "urn:lakeside:services", "code": "BMAB-GA"}]}],
        start=start,
        end=start + dt.timedelta(hours=1),
        participant=[
            {"actor": {"reference": patient_ref}, "status": "accepted"},
            {"actor": {"reference": "urn:uuid:loc-1"}, "status": "accepted"},
        ],
    )


def bundle(appt: Appointment, *, with_family: bool = True) -> str:
    child = FhirPatient(
        id="pat-77",
        identifier=[
            {
                "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
                "value": "F777",
            },
        ],
        name=[{"family": "Nguyen", "given": ["Linh"]}],
        birthDate="2016-05-20",
        communication=[{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "en-US"}]}}],
    )
    mother = RelatedPerson(
        patient={"reference": "urn:uuid:pat-1"},
        relationship=[{"coding": [{"code": "MTH", "display": "Mother"}]}],
        name=[{"family": "Nguyen", "given": ["Thu"]}],
        telecom=[
            {"system": "phone", "use": "mobile", "value": "+13125550177"},
            {"system": "email", "value": "thu.nguyen@example.org"},
        ],
    )
    place = FhirLocation(identifier=[{"value": "ONC-PROC"}], name="Day Unit")
    entries = [
        {"fullUrl": "urn:uuid:pat-1", "resource": child, "request": {"method": "PUT", "url": "Patient/pat-77"}},
        {"fullUrl": "urn:uuid:loc-1", "resource": place, "request": {"method": "POST", "url": "Location"}},
        {"resource": appt, "request": {"method": "POST", "url": "Appointment"}},
    ]
    if with_family:
        entries.insert(
            1,
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": mother,
                "request": {"method": "POST", "url": "RelatedPerson"},
            },
        )
    return Bundle(type="transaction", entry=entries).model_dump_json(exclude_none=True)


def test_a_transaction_bundle_books_and_a_resend_changes_nothing(live_server, token, clinic):
    body = bundle(appointment(patient_ref="urn:uuid:pat-1"))
    status, headers, answer = post(live_server, "", body, token=token)
    assert status == 200, answer
    assert headers["Content-Type"] == "application/fhir+json"
    assert booked(answer)[0] == "201 Created"
    # One response entry per request entry, in order: the child, the mother and the place were taken as details.
    assert [e.response.status for e in answer.entry] == ["200 OK", "200 OK", "200 OK", "201 Created"]
    procedure = Procedure.objects.get()
    assert procedure.scheduled_start == _start() and procedure.location == clinic
    assert procedure.patient.mrn == "F777" and procedure.patient.first_name == "Linh"
    mother = Guardian.objects.get()
    assert (mother.user.email, mother.mobile_number, mother.relationship) == (
        "thu.nguyen@example.org",
        "+13125550177",
        "Mother",
    )
    assert Reminder.objects.filter(kind=Kind.INVITATION).count() == 1

    status, _, answer = post(live_server, "", body, token=token)
    assert status == 200 and booked(answer)[0] == "200 OK" and "Nothing to change" in booked(answer)[1]
    assert Procedure.objects.count() == 1 and Guardian.objects.count() == 1
    assert Reminder.objects.filter(kind=Kind.INVITATION).count() == 1


def test_an_appointment_alone_refers_to_the_patient_sent_before(live_server, token):
    earlier = timezone.now() - dt.timedelta(minutes=10)
    answer = post(live_server, "", bundle(appointment(patient_ref="urn:uuid:pat-1", updated=earlier)), token=token)[2]
    assert booked(answer)[0] == "201 Created"
    moved = appointment(patient_ref="Patient/pat-77", start=_start(days=6))
    moved.participant[1].actor.reference = "Location/ONC-PROC"
    status, _, outcome = post(live_server, "Appointment", moved.model_dump_json(exclude_none=True), token=token)
    assert status == 200, outcome
    procedure = Procedure.objects.get()
    assert procedure.scheduled_start == _start(days=6) and procedure.version == 2

    cancelled = appointment(patient_ref="Patient/pat-77", status="cancelled")
    status, _, _ = post(live_server, "Appointment", cancelled.model_dump_json(exclude_none=True), token=token)
    assert status == 200
    procedure.refresh_from_db()
    assert procedure.status == ProcedureStatus.CANCELLED


def test_errors_are_operation_outcomes_with_fitting_codes(live_server, token, epic):
    good = bundle(appointment(patient_ref="urn:uuid:pat-1"))
    status, headers, outcome = post(live_server, "", good, token=None)
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
    assert outcome.issue[0].code == "login"
    assert post(live_server, "", good, token="mr_not-a-real-token")[0] == 401
    assert post(live_server, "", good, token=token, content_type="text/plain")[0] == 415

    status, _, outcome = post(live_server, "", b"{not json", token=token)
    assert status == 400 and "not JSON" in outcome.issue[0].diagnostics
    status, _, outcome = post(
        live_server, "", '{"resourceType": "Bundle", "type": "transaction", "entry": 5}', token=token
    )
    assert status == 400 and outcome.issue[0].code == "invalid"
    status, _, outcome = post(live_server, "Appointment", good, token=token)
    assert status == 400 and "takes Appointment resources" in outcome.issue[0].diagnostics

    status, _, outcome = post(
        live_server, "", bundle(appointment(patient_ref="urn:uuid:pat-1", start=_start(days=-2))), token=token
    )
    assert status == 422 and "The start is in the past" in outcome.issue[0].diagnostics
    status, _, outcome = post(
        live_server, "", bundle(appointment(patient_ref="urn:uuid:pat-1"), with_family=False), token=token
    )
    # A child with no one to invite is booked (a transaction answers 200 with its response
    # Bundle); the nurses' list asks for a guardian.
    assert status == 200
    assert "No parent or guardian" in InboundMessage.objects.filter(status=MessageStatus.APPLIED).get().reason
    alone = appointment(ident="APT-9", patient_ref="Patient/never-sent")
    status, _, outcome = post(live_server, "Appointment", alone.model_dump_json(exclude_none=True), token=token)
    assert status == 422 and "was not sent before" in outcome.issue[0].diagnostics

    assert Procedure.objects.count() == 1 and not Patient.objects.filter(guardians__isnull=False).exists()
    # What was authenticated is kept; what could not be applied waits in the nurses' queue
    # (the start in the past was replaced by the later booking of the same appointment).
    assert InboundMessage.objects.filter(status=MessageStatus.FAILED).count() == 1
    ApiToken.objects.update(revoked_at=timezone.now())
    assert post(live_server, "", good, token=token)[0] == 401


def test_a_token_is_shown_once_in_the_admin_and_kept_only_as_a_hash(client, admin_user, epic):
    client.force_login(admin_user)
    response = client.post("/admin/feed/apitoken/add/", {"system": epic.pk, "label": "gateway"}, follow=True)
    text = response.content.decode()
    assert "Copy it now" in text
    row = ApiToken.objects.get()
    clear = text.split("The new token is ", 1)[1].split(".", 1)[0]
    assert clear.startswith(row.prefix) and clear not in json.dumps(list(ApiToken.objects.values()), default=str)
    assert ApiToken.find_active(clear) == row
    client.post("/admin/feed/apitoken/", {"action": "revoke", "_selected_action": [row.pk]})
    assert ApiToken.find_active(clear) is None


def test_a_cancel_before_its_booking_is_not_undone_by_the_late_booking(live_server, token):
    booked_at = timezone.now() - dt.timedelta(minutes=5)
    cancel = appointment(patient_ref="Patient/pat-77", status="cancelled")
    status, _, outcome = post(live_server, "Appointment", cancel.model_dump_json(exclude_none=True), token=token)
    assert status == 200, outcome
    late = bundle(appointment(patient_ref="urn:uuid:pat-1", updated=booked_at))
    status, _, answer = post(live_server, "", late, token=token)
    assert status == 200 and "Older" in booked(answer)[1]
    assert not Procedure.objects.exists()


def test_a_logical_reference_by_mrn_finds_the_child(live_server, token, clinic):
    post(live_server, "", bundle(appointment(patient_ref="urn:uuid:pat-1")), token=token)
    second = appointment(ident="APT-2", patient_ref="Patient/unknown-id", start=_start(days=7))
    second.participant[0].actor.reference = None
    second.participant[0].actor.type = "Patient"
    second.participant[0].actor.identifier = {"system": "urn:lakeside:mrn", "value": "F777"}
    second.participant[1].actor.reference = "Location/ONC-PROC"
    status, _, outcome = post(live_server, "Appointment", second.model_dump_json(exclude_none=True), token=token)
    assert status == 201, outcome
    assert Procedure.objects.filter(patient__mrn="F777").count() == 2


# --- what clients expect (through the test client: the same views, no socket) ----------------------


def send(client, path: str, body: str | bytes, *, token: str, method: str = "post", **headers: str):
    response = getattr(client, method)(
        f"/fhir/{path}",
        data=body,
        content_type="application/fhir+json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        **headers,
    )
    assert response["Content-Type"] == "application/fhir+json", response.content[:200]
    return response, json.loads(response.content)


def entry_status(answer: dict) -> str:
    assert answer["resourceType"] == "Bundle" and answer["type"] == "transaction-response", answer
    return next(e["response"]["status"] for e in answer["entry"] if "Appointment" in e["response"].get("location", ""))


def two_identifiers(appt: Appointment, *, reverse: bool = False) -> Appointment:
    appt.identifier = [
        {"system": "urn:oid:1.2.840.114350.1.13.0.1.7.3.698084.8", "value": "CSN-5511"},
        {"system": "urn:oid:1.2.840.114350.1.13.0.1.7.2.798268", "value": "APT-1"},
    ]
    if reverse:
        appt.identifier.reverse()
    return appt


def test_any_identifier_finds_the_appointment_in_whatever_order(client, token, clinic):
    first = two_identifiers(appointment(patient_ref="urn:uuid:pat-1"))
    response, body = send(client, "", bundle(first), token=token)
    assert entry_status(body) == "201 Created"
    again = two_identifiers(appointment(patient_ref="urn:uuid:pat-1"), reverse=True)
    response, body = send(client, "", bundle(again), token=token)
    assert response.status_code == 200 and entry_status(body) == "200 OK", body
    assert Procedure.objects.count() == 1

    # Later only one of them, with one more the system added: still the same appointment, moved.
    moved = appointment(patient_ref="Patient/pat-77", start=_start(days=6))
    moved.identifier = [
        {"system": "urn:lakeside:scheduling", "value": "S-90"},
        {"system": "urn:oid:1.2.840.114350.1.13.0.1.7.3.698084.8", "value": "CSN-5511"},
    ]
    moved.participant[1].actor.reference = "Location/ONC-PROC"
    response, body = send(client, "Appointment", moved.model_dump_json(exclude_none=True), token=token)
    assert response.status_code == 200, body
    procedure = Procedure.objects.get()
    assert procedure.scheduled_start == _start(days=6)

    # The same value under another identifier system is another appointment, not this one.
    other = appointment(ident="CSN-5511", patient_ref="Patient/pat-77", start=_start(days=8))
    other.identifier[0].system = "urn:another:scheduler"
    other.participant[1].actor.reference = "Location/ONC-PROC"
    response, body = send(client, "Appointment", other.model_dump_json(exclude_none=True), token=token)
    assert response.status_code == 201, body
    assert Procedure.objects.count() == 2

    # Identifiers of two different appointments in one: refused, nothing moves.
    mixed = appointment(patient_ref="Patient/pat-77", start=_start(days=9))
    mixed.identifier = [
        {"system": "urn:lakeside:scheduling", "value": "S-90"},
        {"system": "urn:another:scheduler", "value": "CSN-5511"},
    ]
    response, body = send(client, "Appointment", mixed.model_dump_json(exclude_none=True), token=token)
    assert response.status_code == 400 and "more than one appointment" in body["issue"][0]["diagnostics"]
    assert sorted(Procedure.objects.values_list("scheduled_start", flat=True)) == [_start(days=6), _start(days=8)]


def test_another_servers_patient_is_not_ours(client, token):
    response, body = send(client, "", bundle(appointment(patient_ref="urn:uuid:pat-1")), token=token)
    assert entry_status(body) == "201 Created"
    # Patient pat-77 was sent here: "Patient/pat-77" is it; the same id on another server is not.
    stranger = appointment(ident="APT-2", patient_ref="http://other.example/fhir/Patient/pat-77", start=_start(days=7))
    stranger.participant[1].actor.reference = "Location/ONC-PROC"
    response, body = send(client, "Appointment", stranger.model_dump_json(exclude_none=True), token=token)
    assert response.status_code == 422
    assert "another server" in body["issue"][0]["diagnostics"]
    assert "http://other.example/fhir/Patient/pat-77" in body["issue"][0]["diagnostics"]
    assert Procedure.objects.count() == 1

    # Our own base URL is ours.
    ours = appointment(ident="APT-3", patient_ref="http://127.0.0.1:8000/fhir/Patient/pat-77", start=_start(days=7))
    ours.participant[1].actor.reference = "Location/ONC-PROC"
    with override_settings(SITE_URL="http://127.0.0.1:8000"):
        response, body = send(client, "Appointment", ours.model_dump_json(exclude_none=True), token=token)
    assert response.status_code == 201, body


def test_a_patient_sent_under_its_own_servers_url_is_found_by_that_url_only(client, token):
    remote = "https://ehr.lakeside.example/api/FHIR/R4/Patient/pat-77"
    body = json.loads(bundle(appointment(patient_ref=remote)))
    body["entry"][0]["fullUrl"] = remote
    response, answer = send(client, "", json.dumps(body), token=token)
    assert entry_status(answer) == "201 Created", answer

    later = appointment(ident="APT-2", patient_ref=remote, start=_start(days=7))
    later.participant[1].actor.reference = "Location/ONC-PROC"
    response, answer = send(client, "Appointment", later.model_dump_json(exclude_none=True), token=token)
    assert response.status_code == 201, answer
    assert Procedure.objects.filter(patient__mrn="F777").count() == 2

    # "Patient/pat-77" means this server's, which was never sent under that id.
    local = appointment(ident="APT-3", patient_ref="Patient/pat-77", start=_start(days=8))
    local.participant[1].actor.reference = "Location/ONC-PROC"
    response, answer = send(client, "Appointment", local.model_dump_json(exclude_none=True), token=token)
    assert response.status_code == 422 and "was not sent before" in answer["issue"][0]["diagnostics"]

    # Inside a Bundle, a relative reference from that server's entries resolves on that server.
    relative = json.loads(bundle(appointment(ident="APT-4", patient_ref="Patient/pat-77", start=_start(days=9))))
    relative["entry"][0]["fullUrl"] = remote
    relative["entry"][-1]["fullUrl"] = "https://ehr.lakeside.example/api/FHIR/R4/Appointment/apt-4"
    response, answer = send(client, "", json.dumps(relative), token=token)
    assert entry_status(answer) == "201 Created", answer
    assert Procedure.objects.filter(patient__mrn="F777").count() == 3


@pytest.mark.parametrize("status", ["arrived", "checked-in", "fulfilled", "waitlist"])
def test_steps_of_the_day_are_taken_and_change_nothing(client, token, status):
    send(client, "", bundle(appointment(patient_ref="urn:uuid:pat-1")), token=token)
    before = Procedure.objects.get()
    step = appointment(patient_ref="Patient/pat-77", status=status)
    response, body = send(client, "Appointment", step.model_dump_json(exclude_none=True), token=token)
    assert response.status_code == 200, body
    assert body["issue"][0]["severity"] == "information" and "Nothing changes here" in body["issue"][0]["diagnostics"]
    after = Procedure.objects.get()
    assert (after.status, after.version, after.scheduled_start) == (
        before.status,
        before.version,
        before.scheduled_start,
    )
    assert InboundMessage.objects.filter(status=MessageStatus.UNCHANGED).count() == 1


def test_unknown_addresses_and_bad_bodies_answer_operation_outcomes(client, token):
    for path in ("Patient/1", "Appointment/", "no/such/thing", "metadata/extra"):
        response = client.get(f"/fhir/{path}")
        assert response.status_code == 404, path
        assert response["Content-Type"] == "application/fhir+json"
        assert OperationOutcome.model_validate_json(response.content).issue[0].code == "not-found"

    foo = '{"resourceType": "Foo", "id": "1"}'
    response, body = send(client, "", foo, token=token)
    assert response.status_code == 400 and "not a FHIR R4 resource type" in body["issue"][0]["diagnostics"]
    in_bundle = json.loads(bundle(appointment(patient_ref="urn:uuid:pat-1")))
    in_bundle["entry"].append({"resource": {"resourceType": "Foo"}, "request": {"method": "POST", "url": "Foo"}})
    response, body = send(client, "", json.dumps(in_bundle), token=token)
    assert response.status_code == 400 and "entry[4]" in body["issue"][0]["diagnostics"]

    deep = '{"resourceType": "Appointment", "extension": ' + "[" * 5000 + "]" * 5000 + "}"
    response, body = send(client, "Appointment", deep, token=token)
    assert response.status_code == 400 and "nested" in body["issue"][0]["diagnostics"]
    deep = '{"resourceType": "Appointment", "x": ' + '{"a": ' * 200 + "1" + "}" * 200 + "}"
    response, body = send(client, "Appointment", deep, token=token)
    assert response.status_code == 400 and "nested" in body["issue"][0]["diagnostics"]
    assert not InboundMessage.objects.filter(status=MessageStatus.FAILED).exists()
