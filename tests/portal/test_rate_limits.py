"""Rate limits per address on failed logins, invitation links and provider webhooks."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import PASSWORD


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
