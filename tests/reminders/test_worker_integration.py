"""Reminders through a real Celery worker on Redis, stored in PostgreSQL, with time controlled.

The worker runs in a thread of this process, so moving the clock moves it for
the worker too; the test plays beat's part by calling the dispatcher.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from zoneinfo import ZoneInfo

import pytest
import time_machine
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.db.backends.signals import connection_created

from portal.celery import app
from procedures import services
from reminders import dispatch, tasks
from reminders.models import Kind, OutboxMessage, Reminder, Status

from .conftest import book

pytestmark = [pytest.mark.integration]
CHICAGO = ZoneInfo("America/Chicago")
UTC = dt.UTC


@pytest.fixture
def worker(transactional_db, postgres, redis_url, education_content):
    app.control.purge()
    queues = [settings.CELERY_TASK_DEFAULT_QUEUE, *settings.SEND_QUEUES.values()]
    here = threading.get_ident()
    opened: list = []

    def note(sender: object, connection: object, **kwargs: object) -> None:
        if threading.get_ident() != here:
            opened.append(connection)

    connection_created.connect(note)
    try:
        with start_worker(app, perform_ping_check=False, shutdown_timeout=20, queues=queues):
            yield
    finally:
        connection_created.disconnect(note)
        # The worker's thread has ended, but not the connection it kept for its next task
        # (CELERY_DB_REUSE_MAX): left open, it keeps the test database from being dropped.
        for database in opened:
            database.inc_thread_sharing()
            database.close()


def _wait_until_sent(reminder: Reminder, seconds: float = 30) -> Reminder:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        reminder.refresh_from_db()
        if reminder.status not in (Status.SCHEDULED, Status.QUEUED, Status.SENDING):
            return reminder
        time.sleep(0.1)
    pytest.fail(f"the worker did not send reminder {reminder.pk} ({reminder.kind}): {reminder.status}")


@pytest.mark.parametrize(
    ("booked_at", "arrival", "expected"),
    [
        (  # Spring-forward Sunday: 02:00 CST -> 03:00 CDT.
            dt.datetime(2026, 3, 2, 15, 0, tzinfo=UTC),
            dt.datetime(2026, 3, 8, 7, 0, tzinfo=CHICAGO),
            {
                Kind.CONFIRMATION: dt.datetime(2026, 3, 2, 15, 0, tzinfo=UTC),
                Kind.FASTING_EVENING: dt.datetime(2026, 3, 8, 0, 0, tzinfo=UTC),  # 18:00 CST Saturday
                Kind.FASTING_MORNING: dt.datetime(2026, 3, 8, 10, 0, tzinfo=UTC),  # 05:00 CDT
                Kind.AFTERCARE_EVENING: dt.datetime(2026, 3, 8, 23, 0, tzinfo=UTC),  # 18:00 CDT
                Kind.AFTERCARE_NEXT_DAY: dt.datetime(2026, 3, 9, 15, 0, tzinfo=UTC),  # 10:00 CDT Monday
            },
        ),
        (  # Fall-back Sunday: 02:00 CDT -> 01:00 CST.
            dt.datetime(2026, 10, 26, 15, 0, tzinfo=UTC),
            dt.datetime(2026, 11, 1, 7, 0, tzinfo=CHICAGO),
            {
                Kind.CONFIRMATION: dt.datetime(2026, 10, 26, 15, 0, tzinfo=UTC),
                Kind.FASTING_EVENING: dt.datetime(2026, 10, 31, 23, 0, tzinfo=UTC),  # 18:00 CDT Saturday
                Kind.FASTING_MORNING: dt.datetime(2026, 11, 1, 11, 0, tzinfo=UTC),  # 05:00 CST
                Kind.AFTERCARE_EVENING: dt.datetime(2026, 11, 2, 0, 0, tzinfo=UTC),  # 18:00 CST
                Kind.AFTERCARE_NEXT_DAY: dt.datetime(2026, 11, 2, 16, 0, tzinfo=UTC),  # 10:00 CST Monday
            },
        ),
    ],
    ids=["spring-forward", "fall-back"],
)
def test_reminders_reach_the_outbox_at_the_right_instants(
    worker, patient, nurse, guardian, booked_at, arrival, expected
):
    with time_machine.travel(booked_at, tick=False):
        procedure = book(patient, nurse, arrival=arrival)
    for kind, instant in expected.items():
        if kind == Kind.AFTERCARE_EVENING:  # aftercare is planned once the nurse marks it done
            ended = procedure.scheduled_start + dt.timedelta(hours=2)
            with time_machine.travel(ended, tick=False):
                services.mark_done(procedure=procedure, ended_at=ended, done_by=nurse)
        reminder = Reminder.objects.get(procedure=procedure, kind=kind, channel="email")
        assert reminder.due_at == instant, kind
        with time_machine.travel(instant - dt.timedelta(seconds=1), tick=False):
            assert reminder.pk not in dispatch.claim_due(enqueue=tasks.enqueue), f"{kind} claimed early"
        with time_machine.travel(instant, tick=True):
            assert reminder.pk in dispatch.claim_due(enqueue=tasks.enqueue)
            reminder = _wait_until_sent(reminder)
        assert reminder.status == Status.SENT, (kind, reminder.last_error)
        message = OutboxMessage.objects.get(reminder=reminder)
        assert instant <= message.created_at < instant + dt.timedelta(seconds=30), kind
        assert message.to == guardian.user.email


def test_a_task_delivered_twice_sends_once(worker, patient, nurse, guardian):
    booked_at = dt.datetime(2026, 6, 8, 15, 0, tzinfo=UTC)
    with time_machine.travel(booked_at, tick=False):
        procedure = book(patient, nurse, arrival=dt.datetime(2026, 6, 11, 7, 30, tzinfo=CHICAGO))
    reminder = Reminder.objects.get(procedure=procedure, kind=Kind.CONFIRMATION)
    with time_machine.travel(booked_at, tick=True):
        dispatch.claim_due(enqueue=tasks.enqueue)
        tasks.enqueue(reminder.pk)  # the broker delivers it again
        _wait_until_sent(reminder)
        time.sleep(1)
    assert OutboxMessage.objects.filter(reminder=reminder).count() == 1
