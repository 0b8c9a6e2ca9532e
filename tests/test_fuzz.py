"""Hostile input to every form and endpoint: never a 500, never stored unescaped, nothing changed by a refusal."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import quote

import pytest
from django.forms.models import model_to_dict
from django.test import Client
from django.urls import URLResolver, get_resolver, reverse
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
    "a\x00b",
    "\x1b[2J\r\n",
    "x" * 256,  # one past most database columns
    "a" * 300 + "@example.org",
    "9999-12-30",
    "0001-01-01",
    "",
    " ",
]
# Ids no row can have: zero, negative, past a bigint (2^63), past an unsigned one (2^64), not a number at all.
EDGE_IDS = ["0", "-1", str(2**31), str(2**63 - 1), str(2**63), str(2**64), "9" * 40, "1e3", "%00", "x"]
NUMBERS = st.integers(min_value=-(2**80), max_value=2**80).map(str)
VALUES = st.one_of(st.sampled_from(HOSTILE + EDGE_IDS), st.text(max_size=300), NUMBERS)
ID_VALUES = st.one_of(st.sampled_from(EDGE_IDS), NUMBERS)
COUNTS = {"requests": 0, "server_errors": 0}

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
    "two_factor_setup": ["code"],
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
    "password_reset": ["email"],
    "password_reset_text": ["mobile_number"],
    "password_reset_code": ["code"],
    "password_reset_text_new": ["new_password1", "new_password2"],
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


def _send(client, method: str, url: str, payload: dict | None = None) -> object:
    """One request, counted; a server error is counted too, and answered as a 500 rather than raised."""
    COUNTS["requests"] += 1
    response = getattr(client, method)(url, payload or {})
    if response.status_code >= 500:
        COUNTS["server_errors"] += 1
    return response


def _post(client, url: str, fields: list[str], data) -> object:
    payload = {field: data.draw(VALUES, label=field) for field in fields}
    return _send(client, "post", url, payload)


def _routes() -> list[tuple[str, str]]:
    """(name, route) of every route but the Django admin's, e.g. ("family:child", "family/children/<id:pk>/")."""
    found = []

    def walk(patterns, prefix: str, namespace: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if pattern.app_name != "admin":
                    inner = ":".join(filter(None, [namespace, pattern.namespace]))
                    walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
            else:
                found.append((":".join(filter(None, [namespace, pattern.name])), prefix + str(pattern.pattern)))

    walk(get_resolver().url_patterns, "", "")
    return found


PLACEHOLDER = re.compile(r"<(?:(\w+):)?(\w+)>")


def _fill(route: str, hostile: str, at: int, real: dict[str, str]) -> str:
    """The route with its `at`-th placeholder set to a hostile value and the others to real ones."""
    parts = iter(range(100))

    def put(match: re.Match) -> str:
        return hostile if next(parts) == at else real[match.group(2)]

    return "/" + PLACEHOLDER.sub(put, route)


ROUTES = _routes()
ROUTES_WITH_PLACEHOLDERS = [(name, route) for name, route in ROUTES if PLACEHOLDER.search(route)]


@pytest.fixture
def client():
    """A test client that answers a server error with a 500 (counted) instead of raising it."""
    return Client(raise_request_exception=False)


def _as(client, who: str, nurse, guardian) -> None:
    if who == "nurse":
        client.force_login(nurse)
    elif who == "guardian":
        client.force_login(guardian.user)


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
    if name in ("nurse:procedure_list", "nurse:patient_list"):
        # The search is kept in the session: the list must still open afterwards.
        response = _send(client, "get", _url(name, today_procedure))
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
    response = _send(client, "get", "/invite/" + quote(token or "x", safe="") + "/")
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


SHARP = ["\x00", "a\x00b", "x" * 256, str(2**63), "9999-12-30"]
SIDES = {"nurse": NURSE_FORMS, "guardian": FAMILY_FORMS, "anonymous": PUBLIC_FORMS}


@pytest.mark.parametrize("who", sorted(SIDES))
def test_every_field_takes_nul_bytes_over_long_values_and_huge_numbers(client, nurse, guardian, today_procedure, who):
    _as(client, who, nurse, guardian)
    failures = []
    for name, fields in SIDES[who].items():
        url = _url(name, today_procedure) if who != "anonymous" else reverse(name)
        for field in fields:
            for value in SHARP:
                responses = [_send(client, "post", url, {field: value})]
                if name in ("nurse:procedure_list", "nurse:patient_list"):
                    responses.append(_send(client, "get", url))  # the search lives on in the session
                failures += [(name, field, value[:12], r.status_code) for r in responses if r.status_code >= 500]
    assert not failures


def _real_values(procedure) -> dict[str, str]:
    """A real value for each placeholder of a route, so that only the one under test is hostile."""
    return {
        "pk": str(procedure.pk),
        "question_pk": "1",
        "number": "1",
        "slug": "x",
        "token": "x",
        "uidb64": "x",
        "version": "1",
        "path": "x",
    }


@pytest.mark.parametrize("who", ["nurse", "guardian", "anonymous"])
def test_every_route_answers_impossible_ids_and_values_without_a_server_error(
    client, nurse, guardian, today_procedure, who
):
    _as(client, who, nurse, guardian)
    real = _real_values(today_procedure)
    texts = ["%00", quote("a\x00b"), "x" * 300, quote(HOSTILE[0], safe="")]
    failures = []
    for name, route in ROUTES_WITH_PLACEHOLDERS:
        for at, match in enumerate(PLACEHOLDER.finditer(route)):
            hostile = EDGE_IDS if match.group(1) in ("id", "int") else texts
            for value in hostile:
                for method in ("get", "post"):
                    response = _send(client, method, _fill(route, value, at, real))
                    if response.status_code >= 500:
                        failures.append((name, value, method, response.status_code))
    assert not failures


@FUZZ
@given(route=st.sampled_from(ROUTES_WITH_PLACEHOLDERS), raw=ID_VALUES, method=st.sampled_from(["get", "post"]))
def test_any_number_in_any_id_is_answered_without_a_server_error(client, nurse, today_procedure, route, raw, method):
    client.force_login(nurse)
    real = _real_values(today_procedure)
    response = _send(client, method, _fill(route[1], raw, 0, real))
    assert response.status_code < 500


@pytest.mark.parametrize("who", ["nurse", "guardian", "anonymous"])
@FUZZ
@given(data=st.data())
def test_every_page_survives_hostile_query_strings(client, nurse, guardian, today_procedure, who, data):
    _as(client, who, nurse, guardian)
    real = _real_values(today_procedure)
    name, route = data.draw(st.sampled_from(ROUTES), label="route")
    url = "/" + PLACEHOLDER.sub(lambda match: real[match.group(2)], route)
    query = {key: data.draw(VALUES, label=key) for key in ("page", "q", "day", "location", "next", "language")}
    response = _send(client, "get", url, query)
    assert response.status_code < 500, name


def test_report_how_many_hostile_requests_were_sent():
    print(f"fuzz: {COUNTS['requests']} hostile requests sent in this run, {COUNTS['server_errors']} server errors")
    assert COUNTS["server_errors"] == 0
