"""After the procedure: check-ins, every warning-sign rule, the call-now screen and the nurse's dashboard."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from procedures.aftercare import to_celsius, triggered
from procedures.models import Procedure, ProcedureStatus, RedFlagRule, SymptomReport
from reminders.models import Reminder

from ..conftest import send_queued_email
from ..factories import GuardianFactory, PatientFactory


@pytest.fixture
def done(procedure):
    procedure.status = ProcedureStatus.COMPLETED
    procedure.ended_at = timezone.now() - dt.timedelta(hours=1)
    procedure.scheduled_start = timezone.now() - dt.timedelta(hours=2)
    procedure.arrival_at = procedure.scheduled_start - dt.timedelta(hours=1)
    procedure.save()
    procedure.location.team_email = "team@clinic.example.org"
    procedure.location.save()
    return procedure


def _check_in(client, procedure, **data):
    payload = {"temperature_unit": "F", **data}
    return client.post(reverse("family:check_in", args=[procedure.pk]), payload)


def _report(**fields):
    return SymptomReport(**{"pain": "same", **fields})


@pytest.mark.parametrize(
    ("fields", "codes"),
    [
        ({"temperature_c": Decimal("38.0")}, ["fever"]),
        ({"temperature_c": Decimal("37.9")}, []),
        ({"chills": True}, ["chills"]),
        ({"bleeding": True}, ["bleeding"]),
        ({"redness": True}, ["redness"]),
        ({"swelling": True}, ["swelling"]),
        ({"oozing": True}, ["oozing"]),
        ({"bad_smell": True}, ["bad-smell"]),
        ({"pain": "worse"}, []),  # off by default
        ({}, []),
    ],
)
def test_each_default_rule(db, location, fields, codes):
    rules = RedFlagRule.objects.filter(is_active=True)
    assert [r.code for r in triggered(_report(**fields), rules, location)] == codes


def test_an_admin_can_switch_on_worse_pain(db, location):
    RedFlagRule.objects.filter(code="pain-worse").update(is_active=True)
    hits = triggered(_report(pain="worse"), RedFlagRule.objects.filter(is_active=True), location)
    assert [r.code for r in hits] == ["pain-worse"]


def test_an_admin_can_switch_a_rule_off(db, location):
    RedFlagRule.objects.filter(code="chills").update(is_active=False)
    assert triggered(_report(chills=True), RedFlagRule.objects.filter(is_active=True), location) == []


def test_the_fever_threshold_is_the_clinics(db, location):
    location.fever_threshold_c = Decimal("38.5")
    rules = RedFlagRule.objects.filter(is_active=True)
    assert triggered(_report(temperature_c=Decimal("38.4")), rules, location) == []
    assert [r.code for r in triggered(_report(temperature_c=Decimal("38.5")), rules, location)] == ["fever"]


@pytest.mark.parametrize(
    ("value", "unit", "celsius"), [("100.4", "F", "38.0"), ("98.6", "F", "37.0"), ("38.6", "C", "38.6")]
)
def test_temperatures_are_compared_in_celsius(value, unit, celsius):
    assert to_celsius(Decimal(value), unit) == Decimal(celsius)


def test_a_fever_shows_the_call_now_screen_and_alerts_the_team(
    client, guardian, done, django_capture_on_commit_callbacks
):
    client.force_login(guardian.user)
    with django_capture_on_commit_callbacks(execute=True):
        response = _check_in(client, done, temperature="38.6", temperature_unit="C", notes="She is tired")
    html = response.content.decode()
    assert "Call your care team now" in html
    assert f'href="tel:{done.location.phone}"' in html
    report = SymptomReport.objects.get()
    assert report.needs_attention and report.flags == ["fever"]
    (alert,) = [m for m in send_queued_email() if m.to == ["team@clinic.example.org"]]
    body = alert.body
    assert "fever" in body and done.patient.first_name not in body and "tired" not in body


def test_100_4_fahrenheit_is_a_fever(client, guardian, done):
    client.force_login(guardian.user)
    assert "Call your care team now" in _check_in(client, done, temperature="100.4").content.decode()


def test_nothing_worrying_is_recorded_and_thanked(client, guardian, done):
    client.force_login(guardian.user)
    html = _check_in(client, done, temperature="98.9", pain="none").content.decode()
    assert "Thank you" in html and "Call your care team now" not in html
    assert not SymptomReport.objects.get().needs_attention
    assert not [m for m in send_queued_email() if m.to == ["team@clinic.example.org"]]


@pytest.mark.parametrize(("value", "unit"), [("386", "C"), ("38.6", "F"), ("abc", "C"), ("1e9", "F")])
def test_impossible_temperatures_get_a_message_and_nothing_is_saved(client, guardian, done, value, unit):
    client.force_login(guardian.user)
    response = _check_in(client, done, temperature=value, temperature_unit=unit)
    assert response.status_code == 200
    assert response.context["form"].errors["temperature"]
    assert not SymptomReport.objects.exists()


def test_check_in_is_closed_before_the_procedure(client, guardian, procedure):
    client.force_login(guardian.user)
    response = client.get(reverse("family:check_in", args=[procedure.pk]))
    assert "Check-in opens after the procedure" in response.content.decode()
    assert _check_in(client, procedure, chills="on").status_code == 200
    assert not SymptomReport.objects.exists()


def test_the_report_is_at_the_top_of_the_dashboard_and_the_nurse_acknowledges_it(client, guardian, nurse, done):
    client.force_login(guardian.user)
    _check_in(client, done, bleeding="on")
    client.force_login(nurse)
    board = client.get(reverse("nurse:dashboard")).context["board"]
    report = SymptomReport.objects.get()
    assert [card.reports for card in board.flag_cards] == [[report]]
    response = client.post(reverse("nurse:check_in_acknowledge", args=[report.pk]), follow=True)
    assert "Acknowledged" in response.content.decode()
    report.refresh_from_db()
    assert report.acknowledged_by == nurse and report.acknowledged_at is not None
    board = client.get(reverse("nurse:dashboard")).context["board"]
    assert board.flag_cards == [] and board.recently_acknowledged == [report]
    again = client.post(reverse("nurse:check_in_acknowledge", args=[report.pk]), follow=True)
    assert "already acknowledged" in again.content.decode()


def test_one_childs_reports_share_a_card_newest_first(client, nurse, guardian, done):
    now = timezone.now()
    newer = SymptomReport.objects.create(procedure=done, user=guardian.user, needs_attention=True, created_at=now)
    older = SymptomReport.objects.create(
        procedure=done, user=guardian.user, needs_attention=True, created_at=now - dt.timedelta(hours=3)
    )
    client.force_login(nurse)
    cards = client.get(reverse("nurse:dashboard")).context["board"].flag_cards
    assert [card.reports for card in cards] == [[newer, older]]


def test_the_child_waiting_longest_has_the_first_card(client, nurse, guardian, done, location):
    now = timezone.now()
    other = PatientFactory(location=location, guardians=[guardian])
    later = Procedure.objects.create(
        patient=other, location=location, scheduled_start=done.scheduled_start, arrival_at=done.arrival_at
    )
    SymptomReport.objects.create(procedure=done, user=guardian.user, needs_attention=True, created_at=now)
    SymptomReport.objects.create(
        procedure=later, user=guardian.user, needs_attention=True, created_at=now - dt.timedelta(hours=2)
    )
    client.force_login(nurse)
    cards = client.get(reverse("nurse:dashboard")).context["board"].flag_cards
    assert [card.patient for card in cards] == [other, done.patient]


def test_dashboard_lists_failed_reminders_and_unreachable_families(client, nurse, guardian, procedure):
    Reminder.objects.create(
        procedure=procedure, guardian=guardian, channel="email", kind="confirmation", status="failed",
        due_at=timezone.now(), valid_until=timezone.now(), procedure_version=procedure.version,
    )  # fmt: skip
    guardian.sms_opted_out_at = timezone.now()
    guardian.save()
    client.force_login(nurse)
    board = client.get(reverse("nurse:dashboard")).context["board"]
    # The delivery section is reminders' own, added to the page through procedures.events.
    [delivery] = [
        section for section in board.sections if section.template == "reminders/nurse/_delivery_problems.html"
    ]
    assert len(delivery.context["problems"]["problems"]) == 1
    assert list(delivery.context["problems"]["unreachable"]) == [guardian]


def _fill(location, n):
    guardian = GuardianFactory()
    now = timezone.now()
    patients = [PatientFactory.build(location=location) for _ in range(n)]
    for i, patient in enumerate(patients):
        patient.mrn = f"BULK{n}-{i}"
    patients = type(patients[0]).objects.bulk_create(patients)
    for patient in patients:
        patient.guardians.add(guardian)
    procedures = Procedure.objects.bulk_create(
        Procedure(
            patient=p,
            location=location,
            scheduled_start=now + dt.timedelta(hours=i % 40),
            arrival_at=now + dt.timedelta(hours=i % 40) - dt.timedelta(hours=1),
        )
        for i, p in enumerate(patients)
    )
    SymptomReport.objects.bulk_create(
        SymptomReport(procedure=p, user=guardian.user, needs_attention=i % 3 == 0) for i, p in enumerate(procedures)
    )
    Reminder.objects.bulk_create(
        Reminder(
            procedure=p,
            guardian=guardian,
            channel="email",
            kind="confirmation",
            status="failed",
            due_at=now,
            valid_until=now,
            procedure_version=1,
        )
        for p in procedures
    )


def test_dashboard_query_count_is_flat_with_a_thousand_procedures(client, nurse, location):
    client.force_login(nurse)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("nurse:dashboard")).status_code == 200
        # The page's own queries: not the session's (read from the table on SQLite).
        return sum('"django_session"' not in query["sql"] for query in ctx.captured_queries)

    _fill(location, 10)
    few = count()
    _fill(location, 990)
    many = count()
    print(f"nurse:dashboard: {few} queries with 10 procedures, {many} with 1,000")
    assert few == many
    # Flag cards and unreachable families: one query a list, rows and total together (portal.paging);
    # the families' answers and their texts (reminders.replies): one query each.
    assert many <= 15
