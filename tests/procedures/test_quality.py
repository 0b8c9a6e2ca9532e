"""The clinic quality page: twenty procedures worked by hand, from the nurse's forms to the chart's numbers."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from procedures import quality, readiness, services
from procedures.models import DayOutcome, OutcomeReason, ProcedureStatus, SymptomReport
from reminders.models import Reminder
from tests.factories import LocationFactory, PatientFactory, ProcedureFactory

CHICAGO = ZoneInfo("America/Chicago")
BOOKED_ON = dt.datetime(2026, 6, 1, 10, 0, tzinfo=CHICAGO)
NOW = dt.datetime(2026, 6, 17, 15, 0, tzinfo=CHICAGO)  # a Wednesday: this week began Monday 15 June

# day of June, what happened, the real start (or None), reason, minutes without a clear drink / food by the start.
# Every procedure is booked for 8:30, arrival 7:30: clear fluids until 6:30, food until 1:30.
HAND_WORKED = [
    # Week of 8 June
    (8, "started", "08:30", None, 120, 420),
    (8, "started", "08:32", None, None, None),  # two minutes: on time
    (9, "started", "08:30", None, 150, None),
    (9, "started", "08:30", None, None, None),
    (10, "started", "08:30", None, 180, 600),
    (10, "started", "08:30", None, None, None),
    (11, "started", "09:30", "ate-or-drank", None, None),  # 60 minutes late, about fasting
    (11, "started", "09:00", "earlier-case", None, None),  # 30 minutes late
    (12, "cancelled", None, "ate-or-drank", None, None),  # on the day, about fasting
    (12, "before", None, "unwell", None, None),  # cancelled on 5 June
    # Week of 15 June
    (15, "started", "08:30", None, 240, 720),
    (15, "started", "08:30", None, None, None),
    (15, "started", "08:30", None, None, None),
    (16, "started", "08:30", None, 300, 780),
    (16, "started", "08:30", None, None, None),
    (16, "started", "08:30", None, None, None),
    (17, "started", "08:30", None, None, None),
    (17, "started", "09:15", "arrived-late", None, None),
    (17, "cancelled", None, "did-not-come", None, None),
    (17, "cancelled", None, "ate-or-drank", None, None),  # on the day, about fasting
]
# The fasting times were confirmed by a guardian for the first three.
CONFIRMED = 3


def _reason(code: str) -> int:
    return OutcomeReason.objects.get(code=code, location=None).pk


def _clock(at: dt.datetime) -> str:
    return at.astimezone(CHICAGO).strftime("%H:%M")


@pytest.fixture
def twenty(client, nurse, guardian, location):
    client.force_login(nurse)
    made = []
    for number, (day, what, started, reason, drink, food) in enumerate(HAND_WORKED):
        start = dt.datetime(2026, 6, day, 8, 30, tzinfo=CHICAGO)
        child = PatientFactory(first_name=f"Child{number}", location=location, guardians=[guardian])
        with time_machine.travel(BOOKED_ON, tick=False):
            procedure = services.schedule_procedure(
                patient=child,
                kind="both",
                location=location,
                scheduled_start=start,
                arrival_at=start - dt.timedelta(hours=1),
                sedation="general",
                scheduled_by=nurse,
            )
        if number < CONFIRMED:
            with time_machine.travel(BOOKED_ON, tick=False):
                assert readiness.acknowledge_fasting(procedure=procedure, user=guardian.user, version=procedure.version)
        if drink or food:
            times = {"drink": _clock(start - dt.timedelta(minutes=drink)) if drink else ""}
            times["food"] = _clock(start - dt.timedelta(minutes=food)) if food else ""
            with time_machine.travel(start - dt.timedelta(minutes=10), tick=False):
                response = client.post(reverse("nurse:procedure_intake", args=[procedure.pk]), times)
                assert response.status_code == 302
        if what == "before":
            with time_machine.travel(dt.datetime(2026, 6, 5, 9, 0, tzinfo=CHICAGO), tick=False):
                url = reverse("nurse:procedure_cancel", args=[procedure.pk])
                response = client.post(url, {"reason": "Rebooked", "outcome_reason": _reason(reason)})
        else:
            data = {"what": what, "started_time": started or "", "reason": _reason(reason) if reason else ""}
            with time_machine.travel(start + dt.timedelta(hours=2), tick=False):
                response = client.post(reverse("nurse:procedure_outcome", args=[procedure.pk]), data)
        assert response.status_code == 302, response.content.decode()[-3000:]
        made.append(procedure)
    return made


def _charts(location, by="week"):
    with time_machine.travel(NOW, tick=False):
        _spans, charts = quality.build(location=location, by=by, today=NOW.date())
    return {chart.key: chart for chart in charts}


def test_twenty_procedures_from_the_nurses_forms_to_the_charts(twenty, location):
    charts = _charts(location)
    outcomes = charts["outcomes"]
    assert dict(outcomes.rows)["Jun 8"] == [6, 2, 1, 1]
    assert dict(outcomes.rows)["Jun 15"] == [7, 1, 2, 0]
    assert dict(outcomes.rows)["Jun 1"] == [0, 0, 0, 0]
    rates = charts["fasting-rate"]
    # Week of 8 June: late about fasting + cancelled about fasting, of 9 on the day (the 10th went before).
    assert dict(rates.rows)["Jun 8"] == [Decimal("22.2"), 2, 9]
    assert dict(rates.rows)["Jun 15"] == [Decimal("10.0"), 1, 10]
    assert dict(rates.rows)["Jun 1"] == [None, 0, 0]

    clear = charts["fasting-clear"]
    assert dict(clear.rows) == {
        "0 to 1 h": [0],
        "1 to 2 h": [0],
        "2 to 3 h": [2],
        "3 to 4 h": [1],
        "4 to 6 h": [2],
        "6 to 8 h": [0],
        "8 to 12 h": [0],
        "12 h or more": [0],
    }
    assert (clear.median, clear.target) == (180, 120)
    assert "5 children. Median 3 h 0 min; the plan asked at least 2 h 0 min" in clear.note
    solids = charts["fasting-solids"]
    assert [count for _label, (count,) in solids.rows] == [0, 0, 0, 0, 0, 1, 1, 2]
    # An even number: the mean of 600 and 720.
    assert (solids.median, solids.target) == (660, 420)

    ready = charts["readiness"]
    assert dict(ready.rows)["Jun 8"] == [CONFIRMED, 0, 9]
    assert dict(ready.rows)["Jun 15"] == [0, 0, 10]


def test_by_month_the_same_procedures_fall_in_june(twenty, location):
    outcomes = _charts(location, by="month")["outcomes"]
    assert [label for label, _cells in outcomes.rows] == [
        "January 2026",
        "February 2026",
        "March 2026",
        "April 2026",
        "May 2026",
        "June 2026",
    ]
    assert dict(outcomes.rows)["June 2026"] == [13, 3, 3, 1]


def test_the_page_draws_each_chart_with_its_table(client, nurse, twenty):
    with time_machine.travel(NOW, tick=False):
        page = client.get(reverse("nurse:quality")).content.decode()
    assert page.count('role="img"') == len(_charts(twenty[0].location))
    assert "<title>Jun 8, Started on time: 6</title>" in page
    assert '<th scope="row">Jun 8</th><td>22.2</td><td>2</td><td>9</td>' in page
    assert "<script" not in page.split("<main")[1].split("</main>")[0]


def test_the_export_says_fewer_than_5_for_small_counts(client, nurse, twenty):
    with time_machine.travel(NOW, tick=False):
        response = client.get(reverse("nurse:quality"), {"csv": "outcomes"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == [
        "Period",
        "Started on time",
        "Started late",
        "Cancelled or postponed on the day",
        "Cancelled before the day",
    ]
    by_week = {row[0]: row[1:] for row in rows[1:]}
    assert by_week["Jun 8"] == ["6", "fewer than 5", "fewer than 5", "fewer than 5"]
    assert by_week["Jun 15"] == ["7", "fewer than 5", "fewer than 5", "0"]
    with time_machine.travel(NOW, tick=False):
        rate = client.get(reverse("nurse:quality"), {"csv": "fasting-rate"}).content.decode()
    # A rate is not a count; the counts behind it are hidden when small.
    assert "Jun 8,22.2,fewer than 5,9" in rate


def test_the_export_in_spanish(client, nurse, twenty):
    nurse.language = "es"
    nurse.save()
    with time_machine.travel(NOW, tick=False):
        response = client.get(reverse("nurse:quality"), {"csv": "outcomes"})
    body = response.content.decode()
    assert "menos de 5" in body and "Empezó a tiempo" in body


def test_a_nurse_sees_only_her_clinics_and_others_get_404(client, nurse, other_nurse, guardian, location, admin_user):
    theirs = LocationFactory(name="Far Away Clinic")
    client.force_login(nurse)
    page = client.get(reverse("nurse:quality")).content.decode()
    assert location.name in page and "Far Away Clinic" not in page
    assert client.get(reverse("nurse:quality"), {"location": theirs.pk}).status_code == 404
    assert client.get(reverse("nurse:quality"), {"location": "x"}).status_code == 404
    assert client.get(reverse("nurse:quality"), {"csv": "nothing"}).status_code == 404
    client.force_login(other_nurse)
    assert client.get(reverse("nurse:quality"), {"location": location.pk}).status_code == 404
    client.force_login(guardian.user)
    assert client.get(reverse("nurse:quality")).status_code == 404
    client.force_login(admin_user)
    assert client.get(reverse("nurse:quality"), {"location": theirs.pk}).status_code == 200


def test_the_menu_links_to_it(client, nurse):
    client.force_login(nurse)
    assert reverse("nurse:quality") in client.get(reverse("nurse:dashboard")).content.decode()


def test_aftercare_counts_check_ins_warning_signs_and_the_time_to_deal_with_them(location, guardian):
    start = dt.datetime(2026, 6, 9, 8, 30, tzinfo=CHICAGO)
    done = [
        ProcedureFactory(
            patient=PatientFactory(location=location),
            scheduled_start=start,
            arrival_at=start - dt.timedelta(hours=1),
            status=ProcedureStatus.COMPLETED,
        )
        for _n in range(3)
    ]
    later = start + dt.timedelta(hours=8)
    for procedure, minutes in ((done[0], 30), (done[1], 90)):
        SymptomReport.objects.create(
            procedure=procedure,
            user=guardian.user,
            needs_attention=True,
            created_at=later,
            acknowledged_at=later + dt.timedelta(minutes=minutes),
        )
    SymptomReport.objects.create(procedure=done[0], user=guardian.user, created_at=later)
    aftercare = _charts(location)["aftercare"]
    assert dict(aftercare.rows)["Jun 8"] == [2, 2, 3, 60]


def test_delivery_counts_by_channel(location, guardian):
    procedure = ProcedureFactory(
        patient=PatientFactory(location=location),
        scheduled_start=dt.datetime(2026, 6, 16, 8, 30, tzinfo=CHICAGO),
        arrival_at=dt.datetime(2026, 6, 16, 7, 30, tzinfo=CHICAGO),
    )
    due = dt.datetime(2026, 6, 15, 18, 0, tzinfo=CHICAGO)
    for channel, status, late, kind in [
        ("sms", "delivered", 0, "fasting_evening"),
        ("sms", "delivered", 20, "fasting_morning"),
        ("sms", "failed", 0, "confirmation"),
        ("email", "sent", 0, "fasting_evening"),
        ("email", "unknown", 0, "fasting_morning"),
    ]:
        Reminder.objects.create(
            procedure=procedure,
            guardian=guardian,
            channel=channel,
            kind=kind,
            status=status,
            due_at=due,
            valid_until=due + dt.timedelta(hours=12),
            sent_at=due + dt.timedelta(minutes=late) if status != "failed" else None,
        )
    delivery = _charts(location)["delivery"]
    assert dict(delivery.rows) == {"Text message": [0, 2, 1, 0, 1], "Email": [1, 0, 0, 1, 0]}


def _grow(location, guardian, count):
    start = dt.datetime(2026, 6, 10, 8, 30, tzinfo=CHICAGO)
    reason = OutcomeReason.objects.get(code="earlier-case", location=None)
    for _n in range(count):
        procedure = ProcedureFactory(
            patient=PatientFactory(location=location, guardians=[guardian]),
            scheduled_start=start,
            arrival_at=start - dt.timedelta(hours=1),
            started_at=start + dt.timedelta(minutes=40),
            last_drink_at=start - dt.timedelta(hours=3),
            last_food_at=start - dt.timedelta(hours=9),
            status=ProcedureStatus.COMPLETED,
        )
        DayOutcome.objects.create(procedure=procedure, kind="late", late_minutes=40, reason=reason)
        SymptomReport.objects.create(procedure=procedure, user=guardian.user, needs_attention=True)


@override_settings(QUALITY_KEEP_SECONDS=0)
def test_the_number_of_queries_stays_flat_as_data_grows(client, nurse, guardian, location):
    client.force_login(nurse)
    counts = []
    for more in (2, 20):
        _grow(location, guardian, more)
        with time_machine.travel(NOW, tick=False), CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("nurse:quality")).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_the_figures_are_counted_once_for_a_few_minutes(client, nurse, guardian, location):
    _grow(location, guardian, 3)
    client.force_login(nurse)
    counts = []
    for _n in range(2):
        with time_machine.travel(NOW, tick=False), CaptureQueriesContext(connection) as queries:
            page = client.get(reverse("nurse:quality")).content.decode()
        counts.append(len(queries))
        assert "Counted at 3:00 PM" in page
    assert counts[1] < counts[0] - 5


def test_beat_counts_every_clinic_ahead_so_the_nurse_reads_kept_figures(client, nurse, guardian, location):
    _grow(location, guardian, 3)
    LocationFactory(name="Clinic without nurses")
    with time_machine.travel(NOW - dt.timedelta(minutes=2), tick=False):
        # One clinic with nurses: two periods in two languages.
        assert quality.count_ahead() == 4
    client.force_login(nurse)
    with time_machine.travel(NOW, tick=False), CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("nurse:quality")).content.decode()
    assert "Counted at 2:58 PM" in page
    assert not [query for query in queries if "procedures_dayoutcome" in query["sql"]]


def test_the_chart_in_spanish_keeps_svg_numbers_as_svg_reads_them(client, nurse, twenty):
    nurse.language = "es"
    nurse.save()
    with time_machine.travel(NOW, tick=False):
        page = client.get(reverse("nurse:quality")).content.decode()
    assert "Cómo fue cada procedimiento" in page
    assert 'x="150.0"' in page and 'x="150,0"' not in page
