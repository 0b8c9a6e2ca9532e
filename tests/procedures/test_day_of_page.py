"""On the day, the family's pages lead with what to do next and mark the stop times already passed."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from ..factories import ProcedureFactory

CHICAGO = ZoneInfo("America/Chicago")
ARRIVAL = dt.datetime(2026, 6, 11, 7, 30, tzinfo=CHICAGO)  # Thursday
FIVE_AM = dt.datetime(2026, 6, 11, 5, 0, tzinfo=CHICAGO)


@pytest.fixture
def booked(patient):
    return ProcedureFactory(patient=patient, arrival_at=ARRIVAL, scheduled_start=ARRIVAL + dt.timedelta(hours=1))


def _get(client, user, url, at, language="en"):
    with time_machine.travel(at, tick=False):
        client.force_login(user)
        if language != "en":
            user.language = language
            user.save()
        response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_at_five_in_the_morning_the_page_leads_with_the_last_clear_drink(client, guardian, booked):
    page = _get(client, guardian.user, reverse("family:procedure", args=[booked.pk]), FIVE_AM)
    headline = page.index("Next: last clear drink, today at 6:30 AM")
    assert headline < page.index("Arrive at") < page.index('id="h-fasting"')
    assert page.index("<h1") < headline


def test_passed_stop_times_are_marked_passed_and_never_given_as_instructions(client, guardian, booked):
    page = _get(client, guardian.user, reverse("family:procedure", args=[booked.pk]), FIVE_AM)
    assert page.count('class="passed-label"') == 3  # fatty food, solid food, milk
    assert "The time to stop solid food has passed." in page
    assert "If Mia has had solid food since 1:30 AM, call us at (312) 555-0100." in page
    assert "Stop solid food" not in page
    assert "Stop fatty or fried food" not in page
    assert "Stop clear fluids today at 6:30 AM." in page


def test_once_every_stop_time_has_passed_the_page_says_when_to_leave(client, guardian, booked):
    page = _get(
        client, guardian.user, reverse("family:procedure", args=[booked.pk]), ARRIVAL - dt.timedelta(minutes=40)
    )
    assert "Leave for the hospital so you arrive today at 7:30 AM." in page
    assert "The time for the last clear drink has passed. Mia should have nothing more to eat or drink." in page


def test_days_before_the_page_does_not_lead_with_a_next_step(client, guardian, booked):
    page = _get(client, guardian.user, reverse("family:procedure", args=[booked.pk]), ARRIVAL - dt.timedelta(days=2))
    assert "next-step" not in page
    assert "passed-label" not in page
    assert "Stop solid food Thursday at 1:30 AM (early morning)." in page


def test_the_evening_before_the_first_stop_time_is_next(client, guardian, booked):
    evening = dt.datetime(2026, 6, 10, 19, 0, tzinfo=CHICAGO)
    page = _get(client, guardian.user, reverse("family:procedure", args=[booked.pk]), evening)
    assert "Next: last fatty or fried food, tonight at 11:30 PM" in page


def test_the_dashboard_card_leads_with_the_next_step_too(client, guardian, booked):
    page = _get(client, guardian.user, reverse("family:dashboard"), FIVE_AM)
    assert page.index("Next: last clear drink, today at 6:30 AM") < page.index("Eating and drinking")
    assert "The time to stop milk has passed." in page
    assert "Clear fluids are drinks you can see through" in page


def test_the_fasting_card_shows_the_next_step_on_screen_only(client, guardian, booked):
    page = _get(client, guardian.user, reverse("family:fasting_card", args=[booked.pk]), FIVE_AM)
    assert 'class="next-step no-print"' in page
    assert "Next: last clear drink, today at 6:30 AM" in page
    assert "The time to stop solid food has passed." in page
    assert "Clear fluids are drinks you can see through" in page


def test_clear_fluids_are_explained_next_to_the_times(client, guardian, booked):
    page = _get(client, guardian.user, reverse("family:procedure", args=[booked.pk]), ARRIVAL - dt.timedelta(days=2))
    assert "Clear fluids are drinks you can see through, like water, clear apple juice or Pedialyte." in page


def test_the_day_of_page_in_spanish(client, guardian, booked):
    page = _get(client, guardian.user, reverse("family:procedure", args=[booked.pk]), FIVE_AM, language="es")
    assert "Lo próximo: hora límite para líquidos claros, hoy a las 6:30 AM" in page
    assert "Ya pasó la hora de dejar la comida sólida." in page
    assert "Ya pasó" in page


def test_an_arrival_at_a_time_that_happens_twice_carries_its_zone(client, guardian, patient):
    # 1 November 2026: 7:30 UTC is the second 1:30 AM in Chicago (CST).
    arrival = dt.datetime(2026, 11, 1, 7, 30, tzinfo=dt.UTC)
    procedure = ProcedureFactory(patient=patient, arrival_at=arrival, scheduled_start=arrival + dt.timedelta(hours=3))
    at = dt.datetime(2026, 10, 28, 12, 0, tzinfo=dt.UTC)
    page = _get(client, guardian.user, reverse("family:procedure", args=[procedure.pk]), at)
    assert "1:30 AM CST" in page
    card = _get(client, guardian.user, reverse("family:fasting_card", args=[procedure.pk]), at)
    assert "arrive at 1:30 AM CST" in card
