"""A shift is stated against the start this guardian was last told, not against the version before."""

from __future__ import annotations

import datetime as dt

import time_machine

from procedures import services
from reminders.models import DeliveryAttempt, Kind, OutboxMessage, Reminder, Status

from .conftest import CHICAGO, run_due

# `booked`: arrival 7:30 AM, start 8:30 AM on Thursday 11 June 2026.
SIX = dt.datetime(2026, 6, 11, 6, 0, tzinfo=CHICAGO)


def _late(procedure, nurse, minutes: int, at: dt.datetime):
    with time_machine.travel(at, tick=False):
        return services.mark_running_late(procedure=procedure, changed_by=nurse, minutes=minutes)


def _delayed(channel: str = "sms") -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(reminder__kind=Kind.DELAYED, channel=channel).order_by("pk"))


def test_each_message_records_the_start_it_gave(booked):
    run_due(booked.created_at)
    attempt = DeliveryAttempt.objects.get(reminder__kind=Kind.CONFIRMATION, reminder__channel="sms")
    assert attempt.told_start == booked.scheduled_start


def test_moved_earlier_after_a_delay_was_told_says_the_minutes_from_what_they_were_told(booked, nurse):
    run_due(booked.created_at)
    booked = _late(booked, nurse, 5, SIX)  # told: 8:35
    run_due(SIX)
    booked = _late(booked, nurse, -11, SIX + dt.timedelta(minutes=10))  # now 8:24: 6 earlier than booked
    run_due(SIX + dt.timedelta(minutes=10))
    last = _delayed("email")[-1].body
    assert booked.running_late_minutes == -6
    assert "IMPORTANT: Mia now starts EARLIER, at 8:24 AM." in _delayed()[-1].body
    assert "IMPORTANT: Mia's procedure is now EARLIER, today at 8:24 AM." in last
    assert "That is 11 minutes earlier than we last told you." in last
    assert "6 minutes" not in last


def test_a_notice_that_never_reached_them_does_not_count_as_told(booked, nurse):
    run_due(booked.created_at)
    booked = _late(booked, nurse, 20, SIX)
    Reminder.objects.filter(kind=Kind.DELAYED, status=Status.SCHEDULED).update(status=Status.FAILED)
    booked = _late(booked, nurse, -11, SIX + dt.timedelta(minutes=5))  # 8:39: 9 later than the booking said
    run_due(SIX + dt.timedelta(minutes=5))
    (message,) = _delayed("email")
    assert "It should now start today at 8:39 AM, 9 minutes later than we last told you." in message.body
    (text,) = _delayed()
    assert "running about 9 minutes late. It should now start at 8:39 AM." in text.body
