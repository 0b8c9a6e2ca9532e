"""Every kind of text, in both languages, with the longest real values, fits its segment budget."""

from __future__ import annotations

import pytest
from django.urls import reverse

from reminders import sms
from reminders.models import ACCOUNT_KINDS, Kind
from reminders.text_budget import CASES, LONGEST_PK, measure

ROWS = measure()


def test_every_kind_of_appointment_text_is_measured_in_both_languages():
    kinds = {case.kind for case in CASES}
    assert kinds == set(Kind) - set(ACCOUNT_KINDS)
    assert {row.language for row in ROWS} == {"en", "es"}


@pytest.mark.parametrize("row", ROWS, ids=lambda row: f"{row.label}-{row.language}")
def test_each_text_fits_two_segments_in_english_and_three_in_spanish(row):
    assert row.after.segments <= {"en": 2, "es": 3}[row.language], row.text
    assert row.after.encoding == sms.GSM7, row.text


@pytest.mark.parametrize("row", ROWS, ids=lambda row: f"{row.label}-{row.language}")
def test_each_text_gives_the_phone_number_once_and_a_short_link(row):
    assert row.text.count("(312) 555-0100") == 1, row.text
    assert f"/v/{LONGEST_PK}" in row.text or f"/c/{LONGEST_PK}" in row.text
    assert "/family/" not in row.text


def test_the_texts_were_longer_before():
    # The email's words sent as a text: every one was over budget, most of them UCS-2.
    assert all(row.before.segments > row.budget for row in ROWS)


def _text(label, language):
    return next(row.text for row in ROWS if row.label == label and row.language == language)


def test_the_booking_and_evening_texts_ask_for_a_yes():
    for label in ("booked", "fasting, evening"):
        assert "Reply YES to confirm, or call (312) 555-0100." in _text(label, "en")
        assert "Responda SI para confirmar, o llame al (312) 555-0100." in _text(label, "es")


def test_the_morning_text_names_the_place_and_the_arrival_time():
    text = _text("fasting, morning", "en")
    assert "Arrive at 7:15 AM at 225 E Chicago Ave, 3rd floor, Box 30, Chicago, IL 60611." in text
    assert "clear drinks until 6:15 AM" in text


def test_a_change_notice_carries_the_new_times_only():
    text = _text("changed", "en")
    assert "arrive at 7:15 AM Thu, Nov 12" in text
    assert "No fatty food after 11:15 PM Wednesday, solid food after 1:15 AM" in text
    # Not the whole plan twice: the address and the date each once at most.
    assert "Chicago Ave" not in text
    assert text.count("7:15 AM") == 1


def test_a_text_names_the_clinic_by_its_short_name_in_gsm7():
    assert _text("booked", "en").startswith("Lurie Children's - Day Unit, 3rd: ")


def test_the_first_text_always_says_how_to_stop():
    assert _text("booked", "en").endswith("Reply STOP to stop texts.")
    assert _text("booked", "es").endswith("Responda STOP para dejar de recibir mensajes.")


def test_spanish_keeps_the_letters_gsm7_has():
    text = _text("fasting, evening", "es")
    assert "después" in text and "miércoles" in text
    assert "liquidos claros" in text  # í is not in GSM-7


def test_the_short_links_lead_to_the_familys_pages(client):
    response = client.get(f"/v/{LONGEST_PK}")
    assert response.status_code == 302
    assert response["Location"] == reverse("family:procedure", args=[LONGEST_PK])
    response = client.get(f"/c/{LONGEST_PK}")
    assert response["Location"] == reverse("family:check_in", args=[LONGEST_PK])
