"""A procedure just after midnight: every day word in its messages is true when the message goes."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import translation

from procedures.day_words import when
from reminders.models import Kind, OutboxMessage

from .conftest import CHICAGO, book, run_due

# Arrive at midnight between Thursday 11 and Friday 12 June 2026, start 00:30 Friday.
ARRIVAL = dt.datetime(2026, 6, 12, 0, 0, tzinfo=CHICAGO)
BOOKED = dt.datetime(2026, 6, 8, 10, 0, tzinfo=CHICAGO)
THURSDAY_3PM = dt.datetime(2026, 6, 11, 15, 0, tzinfo=CHICAGO)  # the evening text is due (4 PM cut-off - 1 h)
THURSDAY_10PM = dt.datetime(2026, 6, 11, 22, 0, tzinfo=CHICAGO)  # the "morning" text (11 PM last drink - 1 h)


@pytest.fixture
def just_after_midnight(patient, nurse, texting_guardian):
    with time_machine.travel(BOOKED, tick=False):
        procedure = book(patient, nurse, arrival=ARRIVAL, minutes=30)
    run_due(BOOKED)
    return procedure


def _sent(kind: str, channel: str) -> OutboxMessage:
    return OutboxMessage.objects.get(reminder__kind=kind, channel=channel)


def test_the_evening_subject_of_a_0030_procedure_does_not_say_tomorrow(just_after_midnight):
    run_due(THURSDAY_3PM)
    email = _sent(Kind.FASTING_EVENING, "email")
    assert "Tomorrow" not in email.subject
    # Every cut-off is the same Thursday: the first is today, the last tonight.
    assert email.subject == "Mia's fasting starts today at 4:00 PM"
    assert "Stop fatty or fried food today at 4:00 PM." in email.body
    assert "Stop clear fluids tonight at 11:00 PM." in email.body


def test_the_morning_text_sent_at_ten_at_night_does_not_say_good_morning(just_after_midnight):
    run_due(THURSDAY_3PM)
    run_due(THURSDAY_10PM)
    sms = _sent(Kind.FASTING_MORNING, "sms")
    email = _sent(Kind.FASTING_MORNING, "email")
    assert "good morning" not in sms.body.lower()
    assert "Today" not in email.subject
    assert "may have clear fluids until tonight at 11:00 PM" in email.body
    # The text, read at 10 PM on Thursday: the clear drinks stop tonight, the arrival is Friday's.
    assert "may have clear drinks until 11:00 PM," in sms.body
    assert "Arrive at 12:00 AM Friday" in sms.body


def test_an_arrival_on_another_day_than_the_reading_carries_its_day(just_after_midnight):
    run_due(THURSDAY_3PM)
    run_due(THURSDAY_10PM)
    for kind in (Kind.FASTING_EVENING, Kind.FASTING_MORNING):
        body = _sent(kind, "email").body
        assert "Arrive at 12:00 AM." not in body
        assert "Arrive at midnight tonight." in body
        assert "12:00 AM Friday" in _sent(kind, "sms").body  # the text names the arrival's day too


def test_the_booking_names_the_arrival_with_its_weekday(just_after_midnight):
    body = _sent(Kind.CONFIRMATION, "email").body
    assert "Please arrive at midnight on Thursday night (the start of Friday)" in body
    assert "booked for Friday, June 12. Arrive at 12:00 AM at" in _sent(Kind.CONFIRMATION, "sms").body


@pytest.mark.parametrize(
    ("at", "now", "english", "spanish"),
    [
        ((11, 18, 30), (11, 9, 0), "tonight at 6:30 PM", "esta noche a las 6:30 PM"),
        ((11, 12, 0), (11, 9, 0), "today at noon", "hoy a mediodía"),
        ((12, 7, 0), (11, 20, 0), "tomorrow at 7:00 AM", "mañana a las 7:00 AM"),
        ((12, 1, 15), (11, 20, 0), "tonight at 1:15 AM (early Friday)",
         "esta noche a la 1:15 AM (madrugada del viernes)"),
        ((12, 0, 30), (12, 0, 10), "tonight at 12:30 AM (early Friday)",
         "esta noche a las 12:30 AM (madrugada del viernes)"),
        ((12, 0, 0), (11, 15, 0), "at midnight tonight", "esta noche a medianoche"),
        ((14, 7, 0), (11, 15, 0), "Sunday at 7:00 AM", "el domingo a las 7:00 AM"),
        ((14, 0, 0), (11, 15, 0), "at midnight on Saturday night (the start of Sunday)",
         "a medianoche de la noche del sábado al domingo"),
        ((25, 7, 0), (11, 15, 0), "Thursday, June 25, 2026 at 7:00 AM", "el jueves 25 de junio de 2026 a las 7:00 AM"),
    ],
)  # fmt: skip
def test_day_words_in_english_and_spanish(at, now, english, spanish):
    moment = dt.datetime(2026, 6, *at, tzinfo=CHICAGO)
    reader = dt.datetime(2026, 6, *now, tzinfo=CHICAGO).astimezone(dt.UTC)
    with translation.override("en"):
        assert when(moment, now=reader) == english
    with translation.override("es"):
        assert when(moment, now=reader) == spanish


def test_on_the_night_the_clocks_go_back_the_day_word_keeps_the_zone():
    second_130 = dt.datetime(2026, 11, 1, 7, 30, tzinfo=dt.UTC).astimezone(CHICAGO)
    evening = dt.datetime(2026, 10, 31, 18, 0, tzinfo=CHICAGO)
    with translation.override("en"):
        assert when(second_130, now=evening) == "tonight at 1:30 AM CST (early Sunday)"
