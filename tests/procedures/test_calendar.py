"""The calendar file: the appointment, and alarms that say what to do before each cut-off, never at night."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import icalendar
import time_machine
from django.urls import reverse

from procedures.calendar import alarms
from procedures.fasting import FastingRules, compute_fasting_plan
from procedures.models import Location
from procedures.services import cancel_procedure, update_procedure

from ..factories import ProcedureFactory

CHICAGO = ZoneInfo("America/Chicago")
UTC = dt.UTC
ARRIVAL = dt.datetime(2032, 6, 10, 12, 30, tzinfo=UTC)  # 7:30 AM CDT, a Thursday
LONG_AGO = dt.datetime(2032, 6, 1, 12, 0, tzinfo=UTC)


def _unfold(text: str) -> str:
    return text.replace("\r\n ", "")


def _alarms(arrival, *, now=LONG_AGO, feeding="regular", location=None, rules=None):
    plan = compute_fasting_plan(
        start=arrival + dt.timedelta(hours=1),
        arrival=arrival,
        time_zone="America/Chicago",
        feeding=feeding,
        sedation="general",
        rules=rules or FastingRules(),
    )
    return alarms(plan, location=location or Location(), arrival=arrival.astimezone(CHICAGO), now=now, name="Mia")


def _local(alarm):
    return alarm.at.astimezone(CHICAGO).strftime("%a %H:%M")


def test_calendar_file_has_the_arrival_place_and_the_alarms(client, guardian, patient):
    procedure = ProcedureFactory(patient=patient, arrival_at=ARRIVAL, scheduled_start=ARRIVAL + dt.timedelta(hours=1))
    client.force_login(guardian.user)
    response = client.get(reverse("family:calendar", args=[procedure.pk]))
    assert response["Content-Type"].startswith("text/calendar")
    body = response.content.decode()
    assert all(len(line.encode()) <= 75 for line in body.split("\r\n"))
    text = _unfold(body)
    event = icalendar.Calendar.from_ical(body).events[0]
    assert event.start == ARRIVAL
    assert event.start.tzinfo.key == "America/Chicago"  # the clinic's local 7:30, described by its VTIMEZONE
    assert "DTSTART;TZID=America/Chicago:20320610T073000" in text
    assert "LOCATION:Lakeside Day Unit\\, 1 Main St" in text
    assert "Phone: (312) 555-0100" in text
    # Fatty food (11:30 PM), solid food and milk (1:30 AM) share one alarm before bed; the
    # last clear drink (6:30 AM) is part of the morning and gets its own.
    assert text.count("BEGIN:VALARM") == 2
    assert "TRIGGER;VALUE=DATE-TIME:20320610T013000Z" in text  # 8:30 PM Wednesday
    assert "TRIGGER;VALUE=DATE-TIME:20320610T110000Z" in text  # 6:00 AM, 30 minutes before 6:30
    assert "In 30 minutes: last clear drink for Mia. After 6:30 AM\\, nothing to eat or drink." in text
    assert patient.last_name not in text
    assert "Mia: hospital appointment" in text


def test_local_only_calendar_has_no_alarms(client, guardian, patient):
    procedure = ProcedureFactory(patient=patient, sedation="local")
    client.force_login(guardian.user)
    body = client.get(reverse("family:calendar", args=[procedure.pk])).content.decode()
    assert "BEGIN:VALARM" not in body


def test_an_afternoon_procedure_gets_an_alarm_before_each_cutoff_in_the_day():
    arrival = dt.datetime(2032, 6, 10, 16, 0, tzinfo=CHICAGO)  # fatty 8:00, solids and milk 10:00, clear 3:00 PM
    found = _alarms(arrival)
    assert [_local(alarm) for alarm in found] == ["Thu 07:30", "Thu 09:30", "Thu 14:30"]
    assert found[0].text == "In 30 minutes: last fatty or fried food for Mia. After 8:00 AM, no fatty or fried food."
    assert found[2].text == "In 30 minutes: last clear drink for Mia. After 3:00 PM, nothing to eat or drink."


def test_cutoffs_at_the_same_moment_share_one_alarm_that_names_them_all():
    arrival = dt.datetime(2032, 6, 10, 16, 0, tzinfo=CHICAGO)
    solids_and_milk = _alarms(arrival)[1]
    assert solids_and_milk.text == (
        "In 30 minutes: last solid food and milk for Mia. After 10:00 AM, no solid food or milk."
    )


def test_no_alarm_rings_in_quiet_hours_except_on_the_morning_itself():
    found = _alarms(ARRIVAL.astimezone(CHICAGO))
    assert [_local(alarm) for alarm in found] == ["Wed 20:30", "Thu 06:00"]
    # 6:00 is inside the clinic's quiet hours (until 7:00), but it is the morning of the visit.


def test_night_cutoffs_get_one_alarm_before_bed_that_says_what_to_stop():
    bedtime = _alarms(ARRIVAL.astimezone(CHICAGO))[0]
    assert bedtime.text == (
        "Before bed: no fatty or fried food for Mia after 11:30 PM. No solid food or milk after 1:30 AM."
    )


def test_the_clinics_own_quiet_hours_decide_what_is_night():
    location = Location(quiet_hours_start=dt.time(23, 0), quiet_hours_end=dt.time(6, 0))
    found = _alarms(ARRIVAL.astimezone(CHICAGO), location=location)
    # Fatty food at 11:30 PM rings at 11:00 PM, inside these quiet hours: folded into 10:30 PM.
    assert [_local(alarm) for alarm in found] == ["Wed 22:30", "Thu 06:00"]


def test_a_breast_milk_cutoff_in_the_small_hours_is_told_before_bed():
    found = _alarms(ARRIVAL.astimezone(CHICAGO), feeding="breast_milk")  # breast milk 3:30 AM, clear 6:30 AM
    assert [_local(alarm) for alarm in found] == ["Wed 20:30", "Thu 06:00"]
    assert found[0].text == "Before bed: no breast milk for Mia after 3:30 AM."


def test_alarms_already_past_when_the_file_is_made_are_left_out():
    now = dt.datetime(2032, 6, 10, 1, 45, tzinfo=CHICAGO)
    found = _alarms(ARRIVAL.astimezone(CHICAGO), now=now)
    assert [_local(alarm) for alarm in found] == ["Thu 06:00"]
    assert _alarms(ARRIVAL.astimezone(CHICAGO), now=dt.datetime(2032, 6, 10, 6, 0, tzinfo=CHICAGO)) == []


def test_the_file_made_at_five_in_the_morning_only_has_the_clear_drink_alarm(client, guardian, patient):
    procedure = ProcedureFactory(patient=patient, arrival_at=ARRIVAL, scheduled_start=ARRIVAL + dt.timedelta(hours=1))
    with time_machine.travel(dt.datetime(2032, 6, 10, 5, 0, tzinfo=CHICAGO), tick=False):
        client.force_login(guardian.user)
        text = _unfold(client.get(reverse("family:calendar", args=[procedure.pk])).content.decode())
    assert text.count("BEGIN:VALARM") == 1
    assert "last clear drink for Mia" in text


def test_alarm_text_on_the_night_the_clocks_go_back_carries_the_zone():
    # 1 November 2026: arrive 7:30 CST; solid food and milk stop at the second 1:30 (CST).
    found = _alarms(dt.datetime(2026, 11, 1, 7, 30, tzinfo=CHICAGO), now=dt.datetime(2026, 10, 1, tzinfo=UTC))
    assert found[0].text == (
        "Before bed: no fatty or fried food for Mia after 12:30 AM. No solid food or milk after 1:30 AM CST."
    )
    assert found[0].at.astimezone(CHICAGO).strftime("%a %H:%M %Z") == "Sat 20:30 CDT"


def test_every_alarm_rings_before_what_it_warns_about():
    for hour in range(0, 24):
        arrival = dt.datetime(2032, 6, 10, hour, 15, tzinfo=CHICAGO)
        plan = compute_fasting_plan(
            start=arrival,
            arrival=arrival,
            time_zone="America/Chicago",
            feeding="regular",
            sedation="general",
            rules=FastingRules(),
        )
        found = alarms(plan, location=Location(), arrival=arrival, now=LONG_AGO, name="Mia")
        assert found, hour
        first_cutoff = plan.cutoffs[0].at
        assert found[0].at < first_cutoff
        quiet = [a for a in found if not dt.time(7, 0) <= a.at.astimezone(CHICAGO).time() < dt.time(21, 0)]
        for alarm in quiet:
            assert arrival - alarm.at <= dt.timedelta(hours=3, minutes=30), (hour, alarm)


def test_the_file_describes_the_clinics_time_zone_across_a_clock_change(client, guardian, patient):
    # Arrive 7:30 CST on the morning the clocks go back; the bedtime alarm rang the evening before, in CDT.
    arrival = dt.datetime(2026, 11, 1, 7, 30, tzinfo=CHICAGO)
    procedure = ProcedureFactory(patient=patient, arrival_at=arrival, scheduled_start=arrival + dt.timedelta(hours=1))
    client.force_login(guardian.user)
    with time_machine.travel(dt.datetime(2026, 10, 1, tzinfo=UTC), tick=False):
        body = client.get(reverse("family:calendar", args=[procedure.pk])).content.decode()
    calendar = icalendar.Calendar.from_ical(body)
    assert calendar.get_missing_tzids() == set()
    (zone,) = calendar.timezones
    assert zone.tz_name == "America/Chicago"
    # The zone's own rules, read back from the file, turn the local times into the right instants.
    event = calendar.events[0]
    assert event.start == arrival and event.start.utcoffset() == dt.timedelta(hours=-6)
    assert event.end == arrival + dt.timedelta(hours=3)
    assert [alarm["TRIGGER"].dt for alarm in event.walk("VALARM")] == [
        dt.datetime(2026, 11, 1, 1, 30, tzinfo=UTC),  # 8:30 PM CDT on Saturday
        dt.datetime(2026, 11, 1, 12, 0, tzinfo=UTC),  # 6:00 AM CST
    ]
    described = zone.to_tz()
    assert dt.datetime(2026, 10, 31, 20, 30, tzinfo=described).utcoffset() == dt.timedelta(hours=-5)
    assert dt.datetime(2026, 11, 1, 7, 30, tzinfo=described).utcoffset() == dt.timedelta(hours=-6)


def test_one_event_per_appointment_whose_sequence_rises_on_each_change_and_a_cancel_is_published(
    client, guardian, patient, nurse
):
    # An updated file imported again must replace the event, not add a second one with its own alarms.
    procedure = ProcedureFactory(patient=patient, arrival_at=ARRIVAL, scheduled_start=ARRIVAL + dt.timedelta(hours=1))

    def event():
        response = client.get(reverse("family:calendar", args=[procedure.pk]))
        assert response.status_code == 200
        calendar = icalendar.Calendar.from_ical(response.content.decode())
        assert calendar["METHOD"] == "PUBLISH"
        (only,) = calendar.events
        return only

    with time_machine.travel(LONG_AGO, tick=False):
        client.force_login(guardian.user)
        first = event()
        update_procedure(
            procedure=procedure,
            changed_by=nurse,
            scheduled_start=ARRIVAL + dt.timedelta(days=1, hours=1),
            arrival_at=ARRIVAL + dt.timedelta(days=1),
        )
        moved = event()
        cancel_procedure(procedure=procedure, reason="family asked", cancelled_by=nurse)
        cancelled = event()
    assert first.uid == moved.uid == cancelled.uid == f"procedure-{procedure.pk}@marrow-ready"
    assert first.sequence < moved.sequence < cancelled.sequence
    assert moved.start == ARRIVAL + dt.timedelta(days=1)
    assert first["STATUS"] == moved["STATUS"] == "CONFIRMED"
    assert first.walk("VALARM") and moved.walk("VALARM")
    assert cancelled["STATUS"] == "CANCELLED"
    assert cancelled.walk("VALARM") == []  # nothing rings for a visit that will not happen
