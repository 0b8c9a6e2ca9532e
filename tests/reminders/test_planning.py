"""Which reminders a procedure gets, when (in UTC, for the clinic's zone), and re-planning on change."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from procedures import services
from reminders.models import Kind, Reminder, Status
from reminders.planning import sync_reminders

from .conftest import book

CHICAGO = ZoneInfo("America/Chicago")
UTC = dt.UTC


def due(procedure, kind, channel="email"):
    procedure.refresh_from_db()
    return Reminder.objects.get(
        procedure=procedure, kind=kind, channel=channel, procedure_version=procedure.version
    ).due_at


def done_two_hours_in(procedure, nurse):
    """The nurse marks it done two hours after the start, at that moment."""
    ended = procedure.scheduled_start + dt.timedelta(hours=2)
    with time_machine.travel(ended, tick=False):
        return services.mark_done(procedure=procedure, ended_at=ended, done_by=nurse)


@pytest.fixture
def booked_thursday(patient, nurse, texting_guardian):
    # Booked Monday 8 June 2026 at 10:00 CDT for Thursday 11 June, arrival 07:30 CDT.
    with time_machine.travel(dt.datetime(2026, 6, 8, 15, 0, tzinfo=UTC), tick=False):
        return book(patient, nurse, arrival=dt.datetime(2026, 6, 11, 7, 30, tzinfo=CHICAGO))


def test_scheduling_plans_each_kind_for_each_channel(booked_thursday):
    kinds = set(Reminder.objects.values_list("kind", "channel"))
    expected = {
        Kind.CONFIRMATION,
        Kind.FASTING_EVENING,
        Kind.FASTING_MORNING,
    }
    assert kinds == {(k, c) for k in expected for c in ("sms", "email")}


def test_aftercare_is_planned_only_once_the_procedure_is_marked_done(booked_thursday, nurse):
    aftercare = {Kind.AFTERCARE_EVENING, Kind.AFTERCARE_NEXT_DAY}
    assert not Reminder.objects.filter(kind__in=aftercare).exists()
    done_two_hours_in(booked_thursday, nurse)
    planned = set(Reminder.objects.filter(status=Status.SCHEDULED).values_list("kind", "channel"))
    assert planned == {(k, c) for k in aftercare for c in ("sms", "email")}


def test_reminders_are_due_at_the_right_utc_instants(booked_thursday, nurse):
    p = booked_thursday
    assert due(p, Kind.CONFIRMATION) == dt.datetime(2026, 6, 8, 15, 0, tzinfo=UTC)  # at once
    assert due(p, Kind.FASTING_EVENING) == dt.datetime(2026, 6, 10, 23, 0, tzinfo=UTC)  # 18:00 CDT Wed
    assert due(p, Kind.FASTING_MORNING) == dt.datetime(2026, 6, 11, 10, 30, tzinfo=UTC)  # 05:30 CDT, 1 h before 06:30
    done_two_hours_in(p, nurse)  # 10:30 CDT Thu
    assert due(p, Kind.AFTERCARE_EVENING) == dt.datetime(2026, 6, 11, 23, 0, tzinfo=UTC)  # 18:00 CDT Thu
    assert due(p, Kind.AFTERCARE_NEXT_DAY) == dt.datetime(2026, 6, 12, 15, 0, tzinfo=UTC)  # 10:00 CDT Fri


def test_fasting_reminders_are_useful_only_until_the_cutoff_they_announce(booked_thursday):
    evening = Reminder.objects.filter(kind=Kind.FASTING_EVENING).first()
    morning = Reminder.objects.filter(kind=Kind.FASTING_MORNING).first()
    assert evening.valid_until == dt.datetime(2026, 6, 11, 4, 30, tzinfo=UTC)  # fatty food 23:30 CDT
    assert morning.valid_until == dt.datetime(2026, 6, 11, 11, 30, tzinfo=UTC)  # clear fluids 06:30 CDT


def test_spring_forward_sunday(patient, nurse, guardian):
    # Sunday 8 March 2026, clocks jump 02:00 CST -> 03:00 CDT. Arrival 07:00 CDT = 12:00 UTC.
    with time_machine.travel(dt.datetime(2026, 3, 2, 15, 0, tzinfo=UTC), tick=False):
        p = book(patient, nurse, arrival=dt.datetime(2026, 3, 8, 7, 0, tzinfo=CHICAGO))
    assert due(p, Kind.FASTING_EVENING) == dt.datetime(2026, 3, 8, 0, 0, tzinfo=UTC)  # 18:00 CST Sat
    assert due(p, Kind.FASTING_MORNING) == dt.datetime(2026, 3, 8, 10, 0, tzinfo=UTC)  # 05:00 CDT
    done_two_hours_in(p, nurse)
    assert due(p, Kind.AFTERCARE_EVENING) == dt.datetime(2026, 3, 8, 23, 0, tzinfo=UTC)  # 18:00 CDT Sun
    assert due(p, Kind.AFTERCARE_NEXT_DAY) == dt.datetime(2026, 3, 9, 15, 0, tzinfo=UTC)  # 10:00 CDT Mon


def test_fall_back_sunday(patient, nurse, guardian):
    # Sunday 1 November 2026, clocks go back 02:00 CDT -> 01:00 CST. Arrival 07:00 CST = 13:00 UTC.
    with time_machine.travel(dt.datetime(2026, 10, 26, 15, 0, tzinfo=UTC), tick=False):
        p = book(patient, nurse, arrival=dt.datetime(2026, 11, 1, 7, 0, tzinfo=CHICAGO))
    assert due(p, Kind.FASTING_EVENING) == dt.datetime(2026, 10, 31, 23, 0, tzinfo=UTC)  # 18:00 CDT Sat
    assert due(p, Kind.FASTING_MORNING) == dt.datetime(2026, 11, 1, 11, 0, tzinfo=UTC)  # 05:00 CST
    done_two_hours_in(p, nurse)
    assert due(p, Kind.AFTERCARE_EVENING) == dt.datetime(2026, 11, 2, 0, 0, tzinfo=UTC)  # 18:00 CST Sun
    assert due(p, Kind.AFTERCARE_NEXT_DAY) == dt.datetime(2026, 11, 2, 16, 0, tzinfo=UTC)  # 10:00 CST Mon


def test_local_only_gets_no_fasting_reminders(patient, nurse, guardian):
    with time_machine.travel(dt.datetime(2026, 6, 8, 15, 0, tzinfo=UTC), tick=False):
        book(patient, nurse, arrival=dt.datetime(2026, 6, 11, 7, 30, tzinfo=CHICAGO), sedation="local")
    kinds = set(Reminder.objects.values_list("kind", flat=True))
    assert kinds == {Kind.CONFIRMATION}


def test_a_booking_inside_quiet_hours_confirms_at_seven(patient, nurse, guardian):
    with time_machine.travel(dt.datetime(2026, 6, 9, 3, 30, tzinfo=UTC), tick=False):  # 22:30 CDT
        p = book(patient, nurse, arrival=dt.datetime(2026, 6, 11, 7, 30, tzinfo=CHICAGO))
    assert due(p, Kind.CONFIRMATION) == dt.datetime(2026, 6, 9, 12, 0, tzinfo=UTC)  # 07:00 CDT


def test_fasting_reminders_go_out_inside_quiet_hours(booked_thursday):
    # 05:30 is inside the 21:00-07:00 quiet hours, and the morning message still goes then.
    assert due(booked_thursday, Kind.FASTING_MORNING).astimezone(CHICAGO).hour == 5


def test_only_consenting_guardians_get_texts(patient, nurse, guardian):
    with time_machine.travel(dt.datetime(2026, 6, 8, 15, 0, tzinfo=UTC), tick=False):
        book(patient, nurse, arrival=dt.datetime(2026, 6, 11, 7, 30, tzinfo=CHICAGO))
    assert set(Reminder.objects.values_list("channel", flat=True)) == {"email"}


def test_rescheduling_cancels_old_reminders_and_tells_the_family(booked_thursday, nurse):
    p = booked_thursday
    with time_machine.travel(dt.datetime(2026, 6, 9, 15, 0, tzinfo=UTC), tick=False):
        p = services.update_procedure(
            procedure=p,
            changed_by=nurse,
            scheduled_start=p.scheduled_start + dt.timedelta(days=1),
            arrival_at=p.arrival_at + dt.timedelta(days=1),
        )
    old = Reminder.objects.filter(procedure_version=1)
    assert set(old.filter(kind=Kind.FASTING_EVENING).values_list("status", flat=True)) == {Status.CANCELLED}
    assert due(p, Kind.CHANGED) == dt.datetime(2026, 6, 9, 15, 0, tzinfo=UTC)
    assert due(p, Kind.FASTING_EVENING) == dt.datetime(2026, 6, 11, 23, 0, tzinfo=UTC)
    assert not Reminder.objects.filter(procedure_version=1, status=Status.SCHEDULED).exists()


def test_a_change_to_local_only_drops_the_fasting_reminders(booked_thursday, nurse):
    with time_machine.travel(dt.datetime(2026, 6, 9, 15, 0, tzinfo=UTC), tick=False):
        services.update_procedure(procedure=booked_thursday, changed_by=nurse, sedation="local")
    current = Reminder.objects.filter(procedure_version=2)
    assert not current.filter(kind__startswith="fasting").exists()
    assert current.filter(kind=Kind.CHANGED).count() == 2


def test_cancelling_cancels_every_open_reminder_and_says_so(booked_thursday, nurse):
    with time_machine.travel(dt.datetime(2026, 6, 9, 15, 0, tzinfo=UTC), tick=False):
        services.cancel_procedure(procedure=booked_thursday, reason="x", cancelled_by=nurse)
    open_ = Reminder.objects.filter(status=Status.SCHEDULED)
    assert set(open_.values_list("kind", flat=True)) == {Kind.CANCELLED}


def test_planning_twice_creates_nothing_new(booked_thursday):
    before = Reminder.objects.count()
    with time_machine.travel(dt.datetime(2026, 6, 8, 16, 0, tzinfo=UTC), tick=False):
        sync_reminders(booked_thursday)
        sync_reminders(booked_thursday)
    assert Reminder.objects.count() == before


def test_reminders_whose_moment_has_passed_are_not_planned(patient, nurse, guardian):
    # Booked at 06:00 on the day: the evening-before reminder is useless, the morning one still helps.
    with time_machine.travel(dt.datetime(2026, 6, 11, 10, 0, tzinfo=UTC), tick=False):
        p = book(patient, nurse, arrival=dt.datetime(2026, 6, 11, 9, 30, tzinfo=CHICAGO))
    kinds = set(Reminder.objects.filter(procedure=p).values_list("kind", flat=True))
    assert Kind.FASTING_MORNING in kinds
    assert Reminder.objects.get(kind=Kind.FASTING_MORNING).due_at == dt.datetime(2026, 6, 11, 12, 30, tzinfo=UTC)
