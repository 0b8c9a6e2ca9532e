"""Every kind of text, in every language, with the longest real values: how many segments each takes.

The values are the longest a clinic here really has (a hospital's name with its
unit, an address with floor and ZIP, a two-part first name, a diet with four
cut-offs at four times, a production site address); nothing is saved. The test
(tests/reminders/test_text_budget.py) asserts the budget on these cases, and
scripts/text_budget.py prints them against the text as it was before (the
email's words sent as a text).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.test import override_settings
from django.utils import translation

from procedures.models import FastingPolicy, Location, Patient, Procedure

from . import sms
from .models import Channel, Kind

LONGEST_CLINIC = "Ann & Robert H. Lurie Children's Hospital – Day Procedure Unit"
# As long as a name in texts can be (Location.TEXT_NAME_MAX), with a dash and a curly quote to write in GSM-7.
LONGEST_TEXT_NAME = "Lurie Children’s – Day Unit, 3rd"
LONGEST_ADDRESS = "225 E Chicago Ave, 3rd floor, Box 30, Chicago, IL 60611"
LONGEST_NAME = "María Guadalupe"
LONGEST_SITE = "https://ready.luriechildrens.org"
LONGEST_PK = 9_999_999
LANGUAGES = ("en", "es")

_ZONE = ZoneInfo("America/Chicago")
_DAY = dt.date(2026, 11, 12)  # a Thursday


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=_ZONE)


@dataclass(frozen=True)
class Case:
    kind: str
    label: str
    now: dt.datetime
    running_late_minutes: int = 0


# Each kind at the moment it goes out; a change and "earlier" with cut-offs already past, the longest they get.
CASES = (
    Case(Kind.CONFIRMATION, "booked", _at(_DAY - dt.timedelta(days=5), 10)),
    Case(Kind.CHANGED, "changed", _at(_DAY - dt.timedelta(days=2), 10)),
    Case(Kind.CHANGED, "changed, some cut-offs past", _at(_DAY, 3)),
    Case(Kind.CANCELLED, "cancelled", _at(_DAY - dt.timedelta(days=1), 10)),
    Case(Kind.DELAYED, "running late", _at(_DAY, 5), 45),
    Case(Kind.DELAYED, "earlier, cut-offs past", _at(_DAY, 3), -90),
    Case(Kind.FASTING_EVENING, "fasting, evening", _at(_DAY - dt.timedelta(days=1), 18)),
    Case(Kind.FASTING_MORNING, "fasting, morning", _at(_DAY, 5)),
    Case(Kind.AFTERCARE_EVENING, "aftercare, evening", _at(_DAY, 18)),
    Case(Kind.AFTERCARE_NEXT_DAY, "aftercare, next day", _at(_DAY + dt.timedelta(days=1), 10)),
)


def longest_procedure(*, running_late_minutes: int = 0) -> tuple[Procedure, FastingPolicy]:
    location = Location(
        name=LONGEST_CLINIC,
        text_name=LONGEST_TEXT_NAME,
        address=LONGEST_ADDRESS,
        phone="+13125550100",
        timezone=_ZONE.key,
    )
    # Under one on a regular diet: fatty food, solid food, formula or milk and clear drinks.
    patient = Patient(
        first_name=LONGEST_NAME, last_name="Testchild", date_of_birth=_DAY - dt.timedelta(days=300), feeding="regular"
    )
    patient.location = location
    # A policy with formula apart from solids: four cut-offs at four times.
    policy = FastingPolicy(solids_hours=Decimal(6), fatty_food_hours=Decimal(8), formula_hours=Decimal(5))
    shift = dt.timedelta(minutes=running_late_minutes)
    procedure = Procedure(
        pk=LONGEST_PK,
        patient=patient,
        location=location,
        scheduled_start=_at(_DAY, 8, 45) + shift,
        arrival_at=_at(_DAY, 7, 15) + shift,
        running_late_minutes=running_late_minutes,
    )
    return procedure, policy


@dataclass(frozen=True)
class Row:
    label: str
    language: str
    before: sms.Count
    after: sms.Count
    # The same words with every accent kept (UCS-2 in Spanish): what `sms.for_language` weighs.
    accented: sms.Count
    text: str

    @property
    def budget(self) -> int:
        return sms.budget(self.language)


def measure() -> list[Row]:
    from .messages import compose  # messages uses this app's models: imported when measuring
    from .texts import draft

    rows = []
    with override_settings(SITE_URL=LONGEST_SITE):
        for case in CASES:
            procedure, policy = longest_procedure(running_late_minutes=case.running_late_minutes)
            for language in LANGUAGES:
                with translation.override(language):
                    now = case.now
                    text = compose(
                        kind=case.kind, channel=Channel.SMS, procedure=procedure, guardian=None, now=now, policy=policy
                    ).body
                    email = compose(
                        kind=case.kind,
                        channel=Channel.EMAIL,
                        procedure=procedure,
                        guardian=None,
                        now=now,
                        policy=policy,
                    ).body
                    # Before: the email's words went out as the text, with the stop line.
                    before = email.rsplit("\n\n", 1)[0] + "\n" + translation.gettext("Reply STOP to stop texts.")
                    body, stop = draft(case.kind, procedure, now=now, policy=policy)
                    accented = sms.count(sms.typography(f"{body}\n{stop}"))
                rows.append(Row(case.label, language, sms.count(before), sms.count(text), accented, text))
    return rows
