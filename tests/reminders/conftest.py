from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from django.utils import timezone

from procedures import services
from procedures.models import Guardian

PAYLOADS = Path(__file__).parent / "payloads"


def payload(name: str) -> dict:
    return json.loads((PAYLOADS / f"{name}.json").read_text())


@pytest.fixture
def texting_guardian(guardian: Guardian) -> Guardian:
    guardian.sms_enabled = True
    guardian.sms_consent_at = timezone.now()
    guardian.sms_consent_text = "I agree."
    guardian.sms_consent_by = guardian.user
    guardian.save()
    return guardian


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
