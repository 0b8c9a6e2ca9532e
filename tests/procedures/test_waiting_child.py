"""While a delayed child waits: the dashboard says how long since the last clear drink, past the clinic's limit."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from procedures import intake, outcomes, services
from procedures.fasting import Intake
from procedures.models import OutcomeReason

CHICAGO = ZoneInfo("America/Chicago")
START = dt.datetime(2026, 6, 11, 8, 30, tzinfo=CHICAGO)
LAST_DRINK = dt.datetime(2026, 6, 11, 5, 50, tzinfo=CHICAGO)
WARNING = "Mia has had nothing to drink for"


@pytest.fixture
def delayed(patient, nurse, guardian):
    with time_machine.travel(dt.datetime(2026, 6, 8, 10, 0, tzinfo=CHICAGO), tick=False):
        procedure = services.schedule_procedure(
            patient=patient,
            kind="both",
            location=patient.location,
            scheduled_start=START,
            arrival_at=START - dt.timedelta(hours=1),
            sedation="general",
            scheduled_by=nurse,
        )
    with time_machine.travel(dt.datetime(2026, 6, 11, 6, 0, tzinfo=CHICAGO), tick=False):
        intake.family_answer(procedure=procedure, user=guardian.user, times={Intake.DRINK: LAST_DRINK})
        services.mark_running_late(procedure=procedure, changed_by=nurse, minutes=120)
    return procedure


def _board(client, at: dt.datetime) -> str:
    with time_machine.travel(at, tick=False):
        return client.get(reverse("nurse:dashboard")).content.decode()


def test_the_board_says_how_long_once_past_the_limit(client, nurse, delayed):
    client.force_login(nurse)
    # Clear fluids 1 h + the clinic's 2 h: quiet until 8:50, three hours after the 5:50 drink.
    assert WARNING not in _board(client, dt.datetime(2026, 6, 11, 8, 50, tzinfo=CHICAGO))
    page = _board(client, dt.datetime(2026, 6, 11, 10, 0, tzinfo=CHICAGO))
    assert "Mia has had nothing to drink for 4 h 10 min" in page


def test_the_clinic_sets_its_own_limit(client, nurse, delayed):
    delayed.location.thirst_alert_hours = Decimal("4.0")
    delayed.location.save()
    client.force_login(nurse)
    assert WARNING not in _board(client, dt.datetime(2026, 6, 11, 10, 0, tzinfo=CHICAGO))
    assert "for 5 h 10 min" in _board(client, dt.datetime(2026, 6, 11, 11, 0, tzinfo=CHICAGO))


def test_no_warning_without_a_delay_or_once_started(client, nurse, delayed):
    client.force_login(nurse)
    at = dt.datetime(2026, 6, 11, 10, 0, tzinfo=CHICAGO)
    with time_machine.travel(at, tick=False):
        reason = OutcomeReason.objects.get(code="earlier-case", location=None)
        outcomes.record_start(procedure=delayed, started_at=at, by=nurse, reason=reason)
    assert WARNING not in _board(client, at + dt.timedelta(minutes=1))


def test_no_warning_when_the_start_is_not_delayed(client, nurse, patient, guardian):
    with time_machine.travel(dt.datetime(2026, 6, 8, 10, 0, tzinfo=CHICAGO), tick=False):
        procedure = services.schedule_procedure(
            patient=patient,
            kind="both",
            location=patient.location,
            scheduled_start=START + dt.timedelta(hours=3),
            arrival_at=START + dt.timedelta(hours=2),
            sedation="general",
            scheduled_by=nurse,
        )
    with time_machine.travel(dt.datetime(2026, 6, 11, 6, 0, tzinfo=CHICAGO), tick=False):
        intake.family_answer(procedure=procedure, user=guardian.user, times={Intake.DRINK: LAST_DRINK})
    client.force_login(nurse)
    assert WARNING not in _board(client, dt.datetime(2026, 6, 11, 10, 0, tzinfo=CHICAGO))
