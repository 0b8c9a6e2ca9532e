"""Health says what an operations team needs: which channel cannot deliver, and how late messages are.

A mail server that accepts connections and never answers (a tarpit) leaves a queue
heartbeat fresh; the channel's own health does not.
"""

from __future__ import annotations

import datetime as dt
import socketserver

import pytest
from django.urls import reverse
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from reminders import dispatch, health
from reminders.models import Kind, Reminder, Status

from .test_unknown_outcomes import smtp_server  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db


def _due(procedure, guardian, channel: str, *, ago: dt.timedelta, n: int = 1, status: Status = Status.SCHEDULED):
    now = timezone.now()
    Reminder.objects.filter(procedure=procedure, channel=channel).delete()  # only the rows made here
    rows: list[Reminder] = []
    for _ in range(n):
        rows.append(
            Reminder.objects.create(
                procedure=procedure,
                guardian=guardian,
                channel=channel,
                kind=Kind.CONFIRMATION,
                due_at=now - ago,
                valid_until=now + dt.timedelta(hours=2),
                procedure_version=procedure.version,
                status=status,
                resend_of=rows[0] if rows else None,  # copies, as a nurse's resends are
            )
        )
    return rows


class Tarpit(socketserver.BaseRequestHandler):
    """Takes the connection and never says a word (not even the greeting)."""

    def handle(self) -> None:
        self.server.release.wait(30)


@pytest.mark.parametrize("smtp_server", [Tarpit], indirect=True)
def test_a_mail_server_that_never_answers_is_a_channel_that_cannot_deliver(
    smtp_server,  # noqa: F811
    client,
    procedure,
    guardian,
):
    rows = _due(procedure, guardian, "email", ago=dt.timedelta(seconds=5), n=3, status=Status.QUEUED)
    ids = [row.pk for row in rows]
    dispatch.send_many(ids)
    assert set(Reminder.objects.filter(pk__in=ids).values_list("status", flat=True)) <= {
        Status.UNKNOWN,
        Status.SCHEDULED,
    }
    email, sms = health.channels()["email"], health.channels()["sms"]
    assert email.cannot_deliver and email.accepted == 0 and email.failed == 3
    assert "cannot deliver" in email.summary
    assert sms.summary == "ok"
    checks = client.get(reverse("healthz")).json()
    assert checks["status"] == "degraded"
    assert checks["channel email"].startswith("cannot deliver") and checks["channel sms"] == "ok"


def test_a_backlog_due_long_ago_is_reported_late(procedure, guardian):
    _due(procedure, guardian, "sms", ago=dt.timedelta(minutes=7), n=2)
    sms = health.channels()["sms"]
    assert (sms.backlog, sms.late, int(sms.oldest_late_seconds // 60)) == (2, True, 7)
    assert sms.summary == "oldest due message 7 min late; 2 waiting"


def test_health_reads_a_fixed_number_of_queries_however_many_messages(procedure, guardian, django_assert_num_queries):
    _due(procedure, guardian, "sms", ago=dt.timedelta(minutes=1), n=30)
    with django_assert_num_queries(3):
        health.channels()


SCRAPE_TOKEN = "scrape-token"


def _scrape(client, settings, token: str | None = SCRAPE_TOKEN):
    settings.METRICS_TOKEN = SCRAPE_TOKEN
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.get("/metrics", **headers)


def test_metrics_need_the_token(client, settings):
    assert _scrape(client, settings, token=None).status_code == 404
    assert _scrape(client, settings, token="wrong").status_code == 404


def test_metrics_say_what_is_waiting_late_and_unknown_by_channel(client, settings, procedure, guardian):
    _due(procedure, guardian, "sms", ago=dt.timedelta(minutes=6), n=2)
    _due(procedure, guardian, "email", ago=dt.timedelta(minutes=1), n=1, status=Status.UNKNOWN)
    client.get(reverse("login"))  # a request for the request histogram
    response = _scrape(client, settings)
    assert response.status_code == 200
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }
    assert samples[("marrow_reminders_waiting", (("channel", "sms"),))] == 2
    assert samples[("marrow_reminders_oldest_late_seconds", (("channel", "sms"),))] >= 360
    assert samples[("marrow_reminders", (("channel", "email"), ("status", "unknown")))] == 1
    assert samples[("marrow_channel_cannot_deliver", (("channel", "sms"),))] == 0
    assert ("marrow_feed_messages_waiting", (("status", "failed"),)) in samples
    assert any(name == "marrow_request_seconds_count" and dict(labels)["route"] == "login" for name, labels in samples)
