"""Hostile input to every form and endpoint: never a 500, never stored unescaped, nothing changed by a refusal."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

import pytest
from django.forms.models import model_to_dict
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from procedures.models import Patient, Procedure, SymptomReport

from .factories import ProcedureFactory

HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'; DROP TABLE procedures_patient; --",
    "1 OR 1=1",
    "٣١٢٥٥٥٠١٩٩",  # Arabic-Indic digits
    "\u202eevil\u202c",  # right-to-left override
    "𝟙𝟚𝟛",  # mathematical digits
    "x" * 10_000,
    "2026-02-30",
    "99:99",
    "-1",
    "1e309",
    "NaN",
    "+1 (000) 000-0000",
    "\x00",
    "",
    " ",
]
VALUES = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=300), st.integers().map(str))
COUNTS = {"requests": 0}

PATIENT_FIELDS = ["first_name", "last_name", "date_of_birth", "mrn", "feeding", "preferred_language", "location"]
PROCEDURE_FIELDS = ["kind", "location", "date", "start_time", "arrival_time", "sedation", "fasting_minimum_hours"]
NURSE_FORMS = {
    "nurse:patient_create": PATIENT_FIELDS,
    "nurse:patient_edit": PATIENT_FIELDS,
    "nurse:guardian_add": ["full_name", "email", "mobile_number", "relationship", "language"],
    "nurse:procedure_create": PROCEDURE_FIELDS,
    "nurse:procedure_edit": PROCEDURE_FIELDS,
    "nurse:procedure_cancel": ["reason"],
    "nurse:procedure_running_late": ["minutes", "new_start_time"],
    "nurse:procedure_done": ["ended_time"],
    "nurse:procedure_list": ["q", "day", "location"],
    "nurse:patient_list": ["q"],
}
FAMILY_FORMS = {
    "family:questions": ["standard", "own"],
    "family:acknowledge_fasting": ["version"],
    "family:confirm_contact": [],
    "family:preferences": ["email", "email_enabled", "sms_enabled", "mobile_number", "sms_consent", "language",
                           "current_password"],
    "family:check_in": ["temperature", "temperature_unit", "chills", "bleeding", "redness", "swelling", "oozing",
                        "bad_smell", "pain", "notes"],
}  # fmt: skip
PUBLIC_FORMS = {
    "login": ["username", "password"],
    "set_language": ["language", "next"],
    "reminders:twilio_inbound": ["MessageSid", "From", "Body"],
    "reminders:twilio_status": ["MessageSid", "MessageStatus", "ErrorCode"],
}
FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _url(name: str, procedure: Procedure) -> str:
    if name in ("nurse:patient_edit", "nurse:guardian_add", "nurse:procedure_create"):
        return reverse(name, args=[procedure.patient_id])
    if name.startswith(("nurse:procedure_", "family:")) and name not in (
        "nurse:procedure_list",
        "family:preferences",
    ):
        return reverse(name, args=[procedure.pk])
    return reverse(name)


def _snapshot(procedure: Procedure) -> tuple:
    procedure.refresh_from_db()
    patient = Patient.objects.get(pk=procedure.patient_id)
    return model_to_dict(procedure), model_to_dict(patient, exclude=["guardians"])


def _post(client, url: str, fields: list[str], data) -> object:
    payload = {field: data.draw(VALUES, label=field) for field in fields}
    COUNTS["requests"] += 1
    return client.post(url, payload)


@pytest.fixture
def today_procedure(patient):
    start = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)).replace(microsecond=0)
    return ProcedureFactory(patient=patient, scheduled_start=start, arrival_at=start - dt.timedelta(hours=1))


@pytest.mark.parametrize("name", sorted(NURSE_FORMS))
@FUZZ
@given(data=st.data())
def test_nurse_forms_survive_hostile_input(client, nurse, today_procedure, name, data):
    client.force_login(nurse)
    before = _snapshot(today_procedure)
    response = _post(client, _url(name, today_procedure), NURSE_FORMS[name], data)
    assert response.status_code < 500
    if response.status_code == 200 and name not in ("nurse:procedure_list", "nurse:patient_list"):
        assert _snapshot(today_procedure) == before, "a refused request changed stored data"
    assert b"<script>alert(1)</script>" not in response.content


@pytest.mark.parametrize("name", sorted(FAMILY_FORMS))
@FUZZ
@given(data=st.data())
def test_family_forms_survive_hostile_input(client, guardian, today_procedure, name, data):
    client.force_login(guardian.user)
    before = _snapshot(today_procedure)
    reports = SymptomReport.objects.count()
    response = _post(client, _url(name, today_procedure), FAMILY_FORMS[name], data)
    assert response.status_code < 500
    if response.status_code == 200 and name == "family:check_in" and b"call-now" not in response.content:
        assert SymptomReport.objects.count() in (reports, reports + 1)
    assert _snapshot(today_procedure)[1] == before[1]
    assert b"<script>alert(1)</script>" not in response.content


@pytest.mark.parametrize("name", sorted(PUBLIC_FORMS))
@FUZZ
@given(data=st.data())
def test_public_endpoints_survive_hostile_input(client, db, name, data):
    response = _post(client, reverse(name), PUBLIC_FORMS[name], data)
    assert response.status_code < 500
    assert b"<script>alert(1)</script>" not in response.content


@FUZZ
@given(token=VALUES)
def test_invitation_links_survive_hostile_tokens(client, db, token):
    COUNTS["requests"] += 1
    response = client.get("/invite/" + quote(token or "x", safe="") + "/")
    assert response.status_code in (400, 404, 410, 429)  # never the set-a-password page


def test_stored_hostile_names_are_shown_escaped(client, nurse, location):
    client.force_login(nurse)
    client.post(
        reverse("nurse:patient_create"),
        {"first_name": HOSTILE[1], "last_name": HOSTILE[0], "date_of_birth": "2019-01-01", "mrn": "FZ-1",
         "feeding": "regular", "preferred_language": "en", "location": location.pk},
    )  # fmt: skip
    patient = Patient.objects.get(mrn="FZ-1")
    for url in (reverse("nurse:patient_detail", args=[patient.pk]), reverse("nurse:patient_list")):
        html = client.get(url).content
        assert b"<script>alert(1)</script>" not in html and b"<img src=x" not in html


def test_report_how_many_hostile_requests_were_sent():
    print(f"fuzz: {COUNTS['requests']} hostile requests sent in this run")
