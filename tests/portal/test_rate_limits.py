"""Rate limits per address on failed logins, invitation links and provider webhooks."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from portal.models import AuditAction, AuditEvent
from portal.ratelimit import over_budget
from tests.factories import PASSWORD

pytestmark = pytest.mark.usefixtures("held_clock")

T0 = dt.datetime(2026, 5, 1, 5, 0, 17, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("url", "method", "limit"),
    [
        (lambda: reverse("accept_invitation", args=["no-such-token"]), "get", 20),
        (lambda: reverse("reminders:twilio_status"), "post", 600),
    ],
    ids=["invitation", "webhook"],
)
def test_an_address_is_slowed_down_after_the_limit(client, db, url, method, limit):
    call = getattr(client, method)
    for _ in range(limit):
        assert call(url(), REMOTE_ADDR="192.0.2.1").status_code != 429
    blocked = call(url(), REMOTE_ADDR="192.0.2.1")
    assert blocked.status_code == 429 and blocked["Retry-After"] == "60"
    assert call(url(), REMOTE_ADDR="192.0.2.2").status_code != 429


def _fail_login(client, n, address="192.0.2.1"):
    # A different name each time, so the per-account lockout stays out of the way.
    data = {"username": f"nobody{n}@example.org", "password": "wrong-password-1"}
    return client.post(reverse("login"), data, REMOTE_ADDR=address)


def test_opening_the_login_page_is_never_slowed_down(client, db):
    for _ in range(100):
        page = client.get(reverse("login"), REMOTE_ADDR="192.0.2.1")
        assert page.status_code == 200 and b"csrfmiddlewaretoken" in page.content


def test_an_address_is_slowed_down_after_30_failed_logins_in_a_minute(client, guardian):
    for n in range(30):
        assert _fail_login(client, n).status_code == 200
    blocked = client.post(reverse("login"), {"username": guardian.user.email, "password": PASSWORD},
                          REMOTE_ADDR="192.0.2.1")  # fmt: skip
    assert blocked.status_code == 429 and blocked["Retry-After"] == "60"
    assert client.get(reverse("login"), REMOTE_ADDR="192.0.2.1").status_code == 200
    assert _fail_login(client, 99, address="192.0.2.2").status_code == 200


def test_successful_logins_from_one_shared_address_are_never_slowed_down(guardian):
    for _ in range(40):
        client = Client()
        client.get(reverse("login"), REMOTE_ADDR="192.0.2.1")
        response = client.post(reverse("login"), {"username": guardian.user.email, "password": PASSWORD},
                               REMOTE_ADDR="192.0.2.1")  # fmt: skip
        assert response.status_code == 302


def test_a_spent_budget_comes_back_within_the_minute_that_retry_after_names(client, db):
    # Each address's minute starts at its own second (the counter spreads windows out), never more than 60 s away.
    url = reverse("accept_invitation", args=["no-such-token"])
    with time_machine.travel(T0, tick=False):
        for _ in range(20):
            client.get(url, REMOTE_ADDR="192.0.2.1")
        assert client.get(url, REMOTE_ADDR="192.0.2.1")["Retry-After"] == "60"
    with time_machine.travel(T0 + dt.timedelta(seconds=60), tick=False):
        assert client.get(url, REMOTE_ADDR="192.0.2.1").status_code != 429


def test_a_failed_login_budget_counts_failures_only_and_comes_back_within_the_minute(client, guardian):
    with time_machine.travel(T0, tick=False):
        for n in range(30):
            assert _fail_login(client, n).status_code == 200
        assert _fail_login(client, 30).status_code == 429
        assert _fail_login(client, 31).status_code == 429
        # Refused before trying: only the 30 real attempts reached the password check.
        assert AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED).count() == 30
    with time_machine.travel(T0 + dt.timedelta(seconds=60), tick=False):
        assert _fail_login(client, 32).status_code == 200


def test_an_hourly_budget_is_per_subject_and_comes_back_within_the_hour(db):
    with time_machine.travel(T0, tick=False):
        assert [over_budget("reset", 7, per_hour=3) for _ in range(4)] == [False, False, False, True]
        assert not over_budget("reset", 8, per_hour=3)
    with time_machine.travel(T0 + dt.timedelta(hours=1), tick=False):
        assert not over_budget("reset", 7, per_hour=3)
