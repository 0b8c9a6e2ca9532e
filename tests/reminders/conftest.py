from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from procedures import services

PAYLOADS = Path(__file__).parent / "payloads"


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
