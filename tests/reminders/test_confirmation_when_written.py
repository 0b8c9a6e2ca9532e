"""A booking confirmation says what is true when it is written, for a guardian added on the day too."""

from __future__ import annotations

import datetime as dt

import time_machine

from procedures import services
from reminders.models import Kind, OutboxMessage
from tests.factories import GuardianFactory

from .conftest import BOOKED_AT, CHICAGO, run_due

# Thursday 11 June 2026, 5:00 AM: fatty food (11:30 PM), solid food and milk (1:30 AM) have passed;
# clear fluids stop at 6:30 AM, arrival 7:30 AM.
ON_THE_DAY = dt.datetime(2026, 6, 11, 5, 0, tzinfo=CHICAGO)


def _confirmation(to: str) -> OutboxMessage:
    return OutboxMessage.objects.get(reminder__kind=Kind.CONFIRMATION, to=to)


def test_booked_days_ahead_says_when_the_fasting_times_will_come(booked, texting_guardian):
    run_due(BOOKED_AT)  # Monday 10 AM
    body = _confirmation(texting_guardian.user.email).body
    assert "We will send the times to stop eating and drinking Wednesday at 6:00 PM." in body
    assert "Please arrive Thursday at 7:30 AM" in body


def test_a_guardian_added_after_the_cutoffs_passed_is_told_they_passed_and_what_is_still_ahead(booked):
    run_due(BOOKED_AT)
    added = GuardianFactory(user__email="grandma@example.org", user__language="en")
    with time_machine.travel(ON_THE_DAY, tick=False):
        services.update_guardians(
            patient=booked.patient, changed_by=None, apply=lambda: booked.patient.guardians.add(added)
        )
    run_due(ON_THE_DAY)
    body = _confirmation("grandma@example.org").body
    assert "the evening before" not in body
    assert "We will send" not in body
    assert "The time to stop solid food has passed." in body
    assert "If Mia has had solid food since 1:30 AM, call us at (312) 555-0100." in body
    assert "Stop clear fluids today at 6:30 AM. After that, nothing to eat or drink." in body
    assert "Please arrive today at 7:30 AM" in body


def test_added_after_the_arrival_time_the_guardian_is_told_to_come_now(booked):
    run_due(BOOKED_AT)
    added = GuardianFactory(user__email="dad@example.org", user__language="es")
    at = dt.datetime(2026, 6, 11, 7, 45, tzinfo=CHICAGO)
    with time_machine.travel(at, tick=False):
        services.update_guardians(
            patient=booked.patient, changed_by=None, apply=lambda: booked.patient.guardians.add(added)
        )
    run_due(at)
    body = _confirmation("dad@example.org").body
    assert "Por favor, llegue" not in body
    assert "Empieza hoy a las 8:30 AM. Si todavía no está en el hospital, venga ahora." in body
    assert "Ya pasó la hora del último líquido claro. Mia no debe comer ni beber nada más." in body
    assert "Si Mia comió o bebió algo después de las 6:30 AM, llámenos al (312) 555-0100." in body
