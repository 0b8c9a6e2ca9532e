"""Sessions end: after idle time by role, after an absolute lifetime, on logout, on disabling."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from tests.conftest import log_in
from tests.factories import PASSWORD

START = dt.datetime(2026, 6, 1, 15, 0, tzinfo=dt.UTC)


def _signed_in(client, user, *, minutes_later: float) -> bool:
    with time_machine.travel(START, tick=False):
        assert log_in(client, user.email, PASSWORD)
    with time_machine.travel(START + dt.timedelta(minutes=minutes_later), tick=False):
        response = client.get(reverse("home"))
    return response.status_code == 302 and not response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(("minutes", "still_in"), [(14, True), (16, False)])
def test_staff_are_logged_out_after_15_idle_minutes(client, nurse, minutes, still_in):
    assert _signed_in(client, nurse, minutes_later=minutes) is still_in


@pytest.mark.parametrize(("minutes", "still_in"), [(29, True), (31, False)])
def test_families_are_logged_out_after_30_idle_minutes(client, guardian, minutes, still_in):
    assert _signed_in(client, guardian.user, minutes_later=minutes) is still_in


def test_activity_keeps_a_session_alive_until_the_absolute_limit(client, guardian):
    with time_machine.travel(START, tick=False):
        log_in(client, guardian.user.email, PASSWORD)
    for step in range(1, 16):  # every 25 minutes, for 6 h 15 min
        with time_machine.travel(START + dt.timedelta(minutes=25 * step), tick=False):
            assert client.get(reverse("family:dashboard")).status_code == 200
    with time_machine.travel(START + dt.timedelta(hours=8, minutes=5), tick=False):
        response = client.get(reverse("family:dashboard"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_the_idle_logout_says_why(client, guardian):
    with time_machine.travel(START, tick=False):
        log_in(client, guardian.user.email, PASSWORD)
    with time_machine.travel(START + dt.timedelta(minutes=45), tick=False):
        page = client.get(reverse("family:dashboard"), follow=True).content.decode()
    assert "logged out after 30 minutes without activity" in page


def test_logging_out_ends_the_session(client, guardian):
    log_in(client, guardian.user.email, PASSWORD)
    client.post(reverse("logout"))
    assert client.get(reverse("family:dashboard")).status_code == 302


def test_disabling_an_account_ends_its_sessions(client, guardian):
    log_in(client, guardian.user.email, PASSWORD)
    guardian.user.is_active = False
    guardian.user.save()
    response = client.get(reverse("family:dashboard"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
