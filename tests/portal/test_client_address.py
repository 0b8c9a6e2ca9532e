"""One client address for the audit log, the rate limits and the login lockout, forged headers or not."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.test import RequestFactory
from django.urls import reverse

from portal.client import client_ip
from portal.models import AuditAction, AuditEvent
from tests.factories import PASSWORD


@pytest.mark.parametrize(
    ("behind_proxy", "remote", "forwarded", "expected"),
    [
        (False, "192.0.2.1", "198.51.100.1", "192.0.2.1"),  # the header is the client's own words
        (False, "192.0.2.1", None, "192.0.2.1"),
        (False, "", None, None),
        (True, "10.0.0.2", "203.0.113.9, 198.51.100.4", "198.51.100.4"),  # the entry our proxy appended
        (True, "10.0.0.2", "198.51.100.4", "198.51.100.4"),
        (True, "10.0.0.2", "unknown, 198.51.100.4", "198.51.100.4"),
        (True, "10.0.0.2", "203.0.113.9, 2001:db8::7", "2001:db8::7"),
        (True, "10.0.0.2", None, "10.0.0.2"),  # a health check from inside the network
        # Changed with django-ipware: an IPv4 client seen through an IPv6 socket is its IPv4 address.
        (True, "10.0.0.2", "203.0.113.9, ::ffff:198.51.100.4", "198.51.100.4"),
        (False, "::ffff:192.0.2.1", None, "192.0.2.1"),
    ],
)
def test_the_client_address_rule(settings, behind_proxy, remote, forwarded, expected):
    settings.BEHIND_PROXY = behind_proxy
    headers = {"REMOTE_ADDR": remote} | ({"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {})
    assert client_ip(RequestFactory().get("/", **headers)) == expected


def _try(client, email, password, spoofed, appended):
    return client.post(
        reverse("login"),
        {"username": email, "password": password},
        REMOTE_ADDR="10.0.0.2",  # the proxy, when there is one
        HTTP_X_FORWARDED_FOR=f"{spoofed}, {appended}",
    )


@pytest.mark.parametrize("behind_proxy", [True, False], ids=["behind-proxy", "direct"])
def test_the_audit_log_and_the_lockout_name_the_same_address_whatever_the_client_forges(
    client, guardian, settings, behind_proxy
):
    settings.BEHIND_PROXY = behind_proxy
    email = guardian.user.email
    for n in range(settings.AXES_FAILURE_LIMIT):
        _try(client, email, "wrong-password-1", spoofed=f"203.0.113.{n}", appended="198.51.100.4")
    expected = "198.51.100.4" if behind_proxy else "10.0.0.2"
    recorded = set(AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED).values_list("ip_address", flat=True))
    assert recorded == {expected}
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == [expected]
    # Locked out on that address, whatever is forged in front of it next time.
    locked = _try(client, email, PASSWORD, spoofed="203.0.113.200", appended="198.51.100.4")
    assert locked.status_code == 429 and "Too many tries" in locked.content.decode()
    # Behind the proxy another real client is a different address; directly, the forged header changes nothing.
    other = _try(client, email, PASSWORD, spoofed="203.0.113.201", appended="198.51.100.5")
    assert other.status_code == (302 if behind_proxy else 429)
