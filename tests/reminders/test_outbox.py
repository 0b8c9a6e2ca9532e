"""The outbox: clinic times, names, filters from the query string, pages and a flat query count."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from reminders.models import OutboxMessage, Reminder

from ..factories import PatientFactory, ProcedureFactory

SENT = dt.datetime(2026, 6, 10, 23, 5, tzinfo=dt.UTC)  # 6:05 PM in Chicago


def _message(procedure, guardian, *, channel="sms", kind="fasting_evening", status="sent", n=0) -> OutboxMessage:
    reminder = Reminder.objects.create(
        procedure=procedure,
        guardian=guardian,
        channel=channel,
        kind=kind,
        status=status,
        due_at=SENT,
        valid_until=SENT,
        procedure_version=n,
        resend_of=None,
    )
    return OutboxMessage.objects.create(
        channel=channel, to="+13125550142", body=f"Message {n}", reminder=reminder, created_at=SENT
    )


def test_times_are_the_clinics_with_the_guardians_and_childs_names(client, nurse, guardian, procedure):
    _message(procedure, guardian)
    client.force_login(nurse)
    page = client.get(reverse("nurse:outbox")).content.decode()
    assert "6:05 p.m." in page or "6:05 PM" in page
    assert "UTC" not in page
    assert "Guardian: Alice Parent" in page and "Child: Mia Testchild" in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"channel": "email"}, {"Message 2"}),
        ({"kind": "confirmation"}, {"Message 1"}),
        ({"status": "failed"}, {"Message 3"}),
        ({"channel": "sms", "status": "sent"}, {"Message 0", "Message 1"}),
        ({}, {"Message 0", "Message 1", "Message 2", "Message 3"}),
    ],
)
def test_filters_by_channel_kind_and_status(client, nurse, guardian, procedure, query, expected):
    _message(procedure, guardian, n=0)
    _message(procedure, guardian, kind="confirmation", n=1)
    _message(procedure, guardian, channel="email", n=2)
    _message(procedure, guardian, status="failed", n=3)
    client.force_login(nurse)
    response = client.get(reverse("nurse:outbox"), query)
    assert {m.body for m in response.context["page"]} == expected


@pytest.mark.parametrize(
    "query",
    [{"channel": "pigeon"}, {"kind": "x" * 5000}, {"status": "\x00"}, {"channel": ["sms", "nope"]}, {"page": "-3"}],
)
def test_bad_filter_values_get_a_clear_message_never_a_500(client, nurse, guardian, procedure, query):
    _message(procedure, guardian)
    client.force_login(nurse)
    response = client.get(reverse("nurse:outbox"), query)
    assert response.status_code == 200
    if "page" not in query:
        page = response.content.decode()
        assert "This choice is not on the list, so everything is shown." in page
        assert "Some filters were not understood" in page
    assert len(response.context["page"]) == 1


def test_pages_keep_the_filters(client, nurse, guardian, procedure):
    for n in range(55):
        _message(procedure, guardian, n=n)
    client.force_login(nurse)
    page = client.get(reverse("nurse:outbox"), {"channel": "sms"}).content.decode()
    assert "?channel=sms&amp;page=2" in page


def test_outbox_query_count_is_flat(client, nurse, guardian, location):
    client.force_login(nurse)

    def add(n: int) -> None:
        for i in range(n):
            procedure = ProcedureFactory(patient=PatientFactory(location=location, guardians=[guardian]))
            _message(procedure, guardian, n=i)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("nurse:outbox"), {"channel": "sms"}).status_code == 200
        return len(ctx.captured_queries)

    add(3)
    few = count()
    add(57)
    many = count()
    print(f"nurse:outbox: {few} queries with 3 messages, {many} with 60")
    assert few == many
