"""Rate limits per address on login, invitation links and provider webhooks."""

from __future__ import annotations

import pytest
from django.urls import reverse


@pytest.mark.parametrize(
    ("url", "method", "limit"),
    [
        (lambda: reverse("login"), "get", 30),
        (lambda: reverse("accept_invitation", args=["no-such-token"]), "get", 20),
        (lambda: reverse("reminders:twilio_status"), "post", 600),
    ],
    ids=["login", "invitation", "webhook"],
)
def test_an_address_is_slowed_down_after_the_limit(client, db, url, method, limit):
    call = getattr(client, method)
    for _ in range(limit):
        assert call(url(), REMOTE_ADDR="192.0.2.1").status_code != 429
    blocked = call(url(), REMOTE_ADDR="192.0.2.1")
    assert blocked.status_code == 429 and blocked["Retry-After"] == "60"
    assert call(url(), REMOTE_ADDR="192.0.2.2").status_code != 429
