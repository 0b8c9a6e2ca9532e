from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine

from procedures import services
from reminders import dispatch

PAYLOADS = Path(__file__).parent / "payloads"
CHICAGO = ZoneInfo("America/Chicago")
UTC = dt.UTC
# Booked Monday 8 June 2026 (10:00 CDT) for Thursday 11 June, arrival 7:30 AM; the evening text goes Wednesday 6 PM.
BOOKED_AT = dt.datetime(2026, 6, 8, 15, 0, tzinfo=UTC)
EVENING = dt.datetime(2026, 6, 10, 23, 0, tzinfo=UTC)


def payload(name: str) -> dict:
    return json.loads((PAYLOADS / f"{name}.json").read_text())


def book(patient, nurse, *, arrival: dt.datetime, sedation: str = "general", minutes: int = 60):
    return services.schedule_procedure(
        patient=patient,
        kind="both",
        location=patient.location,
        scheduled_start=arrival + dt.timedelta(minutes=minutes),
        arrival_at=arrival,
        sedation=sedation,
        scheduled_by=nurse,
    )


@pytest.fixture
def booked(patient, nurse, texting_guardian):
    with time_machine.travel(BOOKED_AT, tick=False):
        return book(patient, nurse, arrival=dt.datetime(2026, 6, 11, 7, 30, tzinfo=CHICAGO))


def run_due(at: dt.datetime) -> list[int]:
    """What beat and a worker do at a moment: claim, then send each.

    Inside a test's transaction on_commit never fires, so the claimed ids are sent directly.
    """
    with time_machine.travel(at, tick=False):
        ids = dispatch.claim_due(enqueue=lambda pk: None)
        for pk in ids:
            dispatch.send(pk)
    return ids


@pytest.fixture
def no_quiet_hours(location):
    """For tests that book now, on the real clock, and need its confirmations due at once.

    A clinic's quiet hours (21:00-07:00 by default) would hold them until the morning
    whenever the suite runs in those hours of the clinic's time zone.
    """
    location.quiet_hours_start = location.quiet_hours_end
    location.save(update_fields=["quiet_hours_start"])
    return location
