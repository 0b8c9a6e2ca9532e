"""No message names a day word that is false at the moment it is written, in English or Spanish.

Over the procedure's start (every 15 minutes of the day), the clinic's zone, the days
between booking and the day, DST days, and the moment each message is written. The
words are read back by tests/reminders/day_word_check.py, written apart from the code.
"""

from __future__ import annotations

import datetime as dt
import os
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from portal.models import User
from procedures.models import FastingPolicy, Guardian, Location, Patient, Procedure, ProcedureStatus
from reminders import messages, planning
from reminders.models import Kind

from ..conftest import state_machine_examples
from .day_word_check import read_day_words, read_text_days

ZONES = [
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "Pacific/Honolulu",
    "Europe/London",
]
# An ordinary week, and the days the clocks change (US spring and fall, UK spring and fall).
DAYS = [dt.date(2026, 6, 8), dt.date(2026, 3, 7), dt.date(2026, 10, 31), dt.date(2026, 3, 28), dt.date(2026, 10, 24)]
KINDS = [Kind.CONFIRMATION, Kind.CHANGED, Kind.CANCELLED, Kind.DELAYED, Kind.FASTING_EVENING, Kind.FASTING_MORNING]
# Examples: all under the "full" Hypothesis profile, fewer in the suite; DAY_WORD_EXAMPLES=N runs N.
EXAMPLES = {"full": 3000, "ci": 300}


def _procedure(zone: str, start: dt.datetime, *, sedation: str, feeding: str, late: int) -> Procedure:
    # Unsaved rows: a message is made from the procedure as it stands, nothing else is read.
    location = Location(name="Day Unit", address="1 Main St", phone="+13125550100", timezone=zone)
    patient = Patient(first_name="Mia", last_name="Lee", feeding=feeding, date_of_birth=dt.date(2020, 1, 1))
    patient.location = location
    return Procedure(
        pk=7,
        patient=patient,
        location=location,
        kind="both",
        sedation=sedation,
        scheduled_start=start.astimezone(dt.UTC),
        arrival_at=(start - dt.timedelta(hours=1)).astimezone(dt.UTC),
        status=ProcedureStatus.SCHEDULED,
        running_late_minutes=late,
    )


def _guardian(language: str) -> Guardian:
    return Guardian(user=User(email="p@example.org", language=language), mobile_number="+13125550142")


@st.composite
def _cases(draw: st.DrawFn) -> dict[str, object]:
    zone = draw(st.sampled_from(ZONES))
    first_day = draw(st.sampled_from(DAYS))
    days_ahead = draw(st.integers(0, 3))
    slot = draw(st.integers(0, 95))  # the start, every 15 minutes of the day
    location = Location(timezone=zone)
    start = location.at(first_day + dt.timedelta(days=days_ahead), dt.time(slot // 4, slot % 4 * 15))
    booked = location.at(first_day, dt.time(0, 0))
    minutes_before = draw(st.integers(0, int((start - booked).total_seconds() // 60)))
    return {
        "zone": zone,
        "start": start,
        "written": start - dt.timedelta(minutes=minutes_before),
        "kind": draw(st.sampled_from(KINDS)),
        "channel": draw(st.sampled_from(["sms", "email"])),
        "language": draw(st.sampled_from(["en", "es"])),
        "sedation": draw(st.sampled_from(["general", "general", "sedation", "local"])),
        "feeding": draw(st.sampled_from(["regular", "breast_milk", "formula", "breast_and_formula"])),
        "late": draw(st.sampled_from([0, 0, 30, -15])),
    }


def _check(case: dict[str, object]) -> None:
    procedure = _procedure(
        case["zone"], case["start"], sedation=case["sedation"], feeding=case["feeding"], late=case["late"]
    )
    policy = FastingPolicy()
    message = messages.compose(
        kind=case["kind"],
        channel=case["channel"],
        procedure=procedure,
        guardian=_guardian(case["language"]),
        now=case["written"],
        policy=policy,
    )
    moments = [procedure.local_arrival, procedure.local_start]
    moments += [cutoff.at for cutoff in procedure.fasting_plan(policy).cutoffs]
    # A booking says when the fasting times will be sent.
    moments += [
        p.due_at.astimezone(procedure.location.tz) for p in planning.planned_reminders(procedure, policy=policy)
    ]
    if case["channel"] == "sms":
        # A text names days its own short way (reminders.texts): checked by what each clock and weekday means,
        # while the text can still go (the evening text's use ends at the first cut-off, say).
        useful = [p.valid_until for p in planning.planned_reminders(procedure, policy=policy) if p.kind == case["kind"]]
        assume(all(case["written"] < until for until in useful))
        assume(useful or case["kind"] not in (Kind.FASTING_EVENING, Kind.FASTING_MORNING))  # a child who need not fast
        day = procedure.local_start.date()
        problems = read_text_days(
            message.body, now=case["written"], moments=moments, appointment_day=day, language=case["language"]
        )
        assert not problems, f"{case['kind']} text written {case['written']}: {problems}\n{message.body}"
        return
    for text in (message.subject, message.body):
        problems, _read = read_day_words(text, now=case["written"], moments=moments, language=case["language"])
        assert not problems, f"{case['kind']} written {case['written']}: {problems}\n{text}"
    _problems, read = read_day_words(message.body, now=case["written"], moments=moments, language=case["language"])
    if case["kind"] != Kind.CANCELLED:  # every other message gives the arrival or the start with its day
        assert read, f"no day phrase read in {message.body!r}"


DENVER = ZoneInfo("America/Denver")


@pytest.mark.django_db
@settings(
    max_examples=int(os.environ.get("DAY_WORD_EXAMPLES", 0)) or state_machine_examples(**EXAMPLES),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
@given(case=_cases())
@example(  # the 00:30 procedure: its evening text goes at 3:30 PM the day before
    case={
        "zone": "America/Denver",
        "start": dt.datetime(2026, 6, 12, 0, 30, tzinfo=DENVER),
        "written": dt.datetime(2026, 6, 11, 15, 30, tzinfo=DENVER),
        "kind": Kind.FASTING_EVENING,
        "channel": "email",
        "language": "en",
        "sedation": "general",
        "feeding": "regular",
        "late": 0,
    }
)
def test_no_message_names_a_false_day_word(case: dict[str, object]) -> None:
    _check(case)
