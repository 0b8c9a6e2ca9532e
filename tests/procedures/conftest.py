"""What procedure tests share: one booking for Thursday 11 June 2026 at 8:30 AM in Chicago, made on the Monday."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from procedures import services

CHICAGO = ZoneInfo("America/Chicago")
BOOKED_ON = dt.datetime(2026, 6, 8, 10, 0, tzinfo=CHICAGO)
START = dt.datetime(2026, 6, 11, 8, 30, tzinfo=CHICAGO)  # arrival 7:30: clear fluids until 6:30, food until 1:30


@pytest.fixture
def booked_thursday(patient, nurse):
    with time_machine.travel(BOOKED_ON, tick=False):
        return services.schedule_procedure(
            patient=patient,
            kind="both",
            location=patient.location,
            scheduled_start=START,
            arrival_at=START - dt.timedelta(hours=1),
            sedation="general",
            scheduled_by=nurse,
        )
