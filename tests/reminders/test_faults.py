"""Faults: killed workers, a flushed Redis, racing dispatchers. No reminder lost, none sent twice.

Workers are real Celery subprocesses on Redis; the database is PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import threading
import uuid
from unittest import mock

import pytest
import redis
import time_machine
from django.db import connection
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone

from reminders import dispatch, http, recovery, tasks
from reminders.models import AttemptOutcome, DeliveryAttempt, Kind, OutboxMessage, Reminder, Status
from tests.workers import start_worker, stop, wait_for, wait_while_progressing

from .conftest import payload

pytestmark = [pytest.mark.integration]


@pytest.fixture
def queue() -> str:
    return f"faults-{uuid.uuid4().hex[:10]}"


def ring(queue: str):
    return lambda pk: tasks.send_reminder.apply_async(args=[pk], queue=queue)


def make_due(procedure, guardian, n: int) -> list[int]:
    """n reminders due now (copies of one, as resends are, so the planning constraint allows them)."""
    now = timezone.now()
    fields = {
        "procedure": procedure,
        "guardian": guardian,
        "channel": "email",
        "kind": Kind.CONFIRMATION,
        "due_at": now - dt.timedelta(seconds=1),
        "valid_until": now + dt.timedelta(hours=2),
        "procedure_version": procedure.version,
    }
    base = Reminder.objects.create(**fields)
    Reminder.objects.bulk_create(Reminder(**fields, resend_of=base) for _ in range(n - 1))
    return list(Reminder.objects.filter(procedure=procedure).values_list("pk", flat=True))


def assert_each_sent_exactly_once(ids: list[int]) -> None:
    per_reminder = dict(
        OutboxMessage.objects.filter(reminder_id__in=ids).values_list("reminder_id").annotate(n=Count("pk"))
    )
    missing = [pk for pk in ids if pk not in per_reminder]
    twice = {pk: n for pk, n in per_reminder.items() if n != 1}
    assert not missing, f"lost: {len(missing)}"
    assert not twice, f"sent more than once: {twice}"
    assert set(Reminder.objects.filter(pk__in=ids).values_list("status", flat=True)) == {Status.SENT}


@pytest.fixture
def due_setup(transactional_db, postgres, redis_url, procedure, guardian):
    Reminder.objects.all().delete()
    return procedure, guardian


def sweep_as_if_later(queue: str) -> dict[str, int]:
    """The sweeper, run as it would be once the stuck rows are old enough."""
    later = timezone.now() + dt.timedelta(minutes=30)
    return recovery.sweep(now=later, enqueue=ring(queue))


def test_worker_killed_mid_batch_and_restarted(due_setup, redis_url, queue):
    procedure, guardian = due_setup
    ids = make_due(procedure, guardian, 400)
    first = start_worker(redis_url, queue)
    try:
        dispatch.claim_due(enqueue=ring(queue))
        assert wait_for(lambda: OutboxMessage.objects.count() >= 40, 60), stop(first)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
        done_at_kill = OutboxMessage.objects.count()
        assert done_at_kill < len(ids), "the batch finished before the kill; make it bigger"
    finally:
        stop(first)
    second = start_worker(redis_url, queue)
    try:
        sweep_as_if_later(queue)
        while dispatch.claim_due(enqueue=ring(queue)):  # beat keeps running
            pass
        waiting = Reminder.objects.filter(pk__in=ids, status__in=["queued", "sending"])
        assert wait_while_progressing(lambda: not waiting.exists(), waiting.count)
    finally:
        print(stop(second)[-2000:])
    assert_each_sent_exactly_once(ids)


def test_redis_flushed_while_reminders_are_queued(due_setup, redis_url, queue):
    procedure, guardian = due_setup
    ids = make_due(procedure, guardian, 100)
    dispatch.claim_due(enqueue=ring(queue))
    assert Reminder.objects.filter(status=Status.QUEUED).count() == 100
    redis.Redis.from_url(redis_url).flushdb()
    worker = start_worker(redis_url, queue)
    try:
        result = sweep_as_if_later(queue)
        assert result["requeued"] == 100
        assert wait_for(lambda: OutboxMessage.objects.count() >= 100, 60)
    finally:
        stop(worker)
    assert_each_sent_exactly_once(ids)


def test_two_dispatchers_and_two_workers_over_a_thousand_due_reminders(due_setup, redis_url, queue):
    procedure, guardian = due_setup
    ids = make_due(procedure, guardian, 1000)
    workers = [start_worker(redis_url, queue), start_worker(redis_url, queue)]
    claimed: list[list[int]] = [[], []]
    barrier = threading.Barrier(2)

    def dispatcher(slot: int) -> None:
        try:
            barrier.wait()
            while True:
                got = dispatch.claim_due(enqueue=ring(queue))
                if not got and not Reminder.objects.filter(status=Status.SCHEDULED).exists():
                    return
                claimed[slot].extend(got)
        finally:
            connection.close()

    threads = [threading.Thread(target=dispatcher, args=(slot,)) for slot in (0, 1)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        sent = OutboxMessage.objects.count
        # A loaded machine makes the drain slow, not stuck: wait while it keeps moving.
        assert wait_while_progressing(lambda: sent() >= 1000, progress=sent)
        assert wait_for(lambda: not Reminder.objects.filter(status__in=["queued", "sending"]).exists(), 30)
    finally:
        for worker in workers:
            stop(worker)
    assert not set(claimed[0]) & set(claimed[1]), "both dispatchers claimed the same reminder"
    assert sorted(claimed[0] + claimed[1]) == sorted(ids)
    assert_each_sent_exactly_once(ids)
    assert DeliveryAttempt.objects.filter(reminder_id__in=ids).count() == 1000


def test_provider_errors_then_timeout_then_recovery_send_once(db, procedure, guardian, settings):
    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC1", "token"
    guardian.sms_enabled, guardian.sms_consent_at = True, timezone.now()
    guardian.save()
    start = timezone.now().replace(microsecond=0)
    reminder = Reminder.objects.create(
        procedure=procedure,
        guardian=guardian,
        channel="sms",
        kind=Kind.CONFIRMATION,
        due_at=start,
        valid_until=start + dt.timedelta(hours=2),
        procedure_version=procedure.version,
    )
    answers = [
        http.Response(500, {}),
        http.TransportError("timed out"),
        http.Response(201, payload("twilio_message_created")),
    ]
    with mock.patch.object(http, "post", autospec=True, side_effect=answers) as post:
        for at in (start, start + dt.timedelta(seconds=30), start + dt.timedelta(seconds=150)):
            with time_machine.travel(at, tick=False):
                for pk in dispatch.claim_due(enqueue=lambda pk: None):
                    dispatch.send(pk)
    reminder.refresh_from_db()
    assert post.call_count == 3
    assert (reminder.status, reminder.attempts) == (Status.SENT, 3)
    outcomes = list(reminder.delivery_attempts.values_list("outcome", flat=True))
    assert outcomes == [AttemptOutcome.TRANSIENT, AttemptOutcome.TRANSIENT, AttemptOutcome.SUCCESS]


def test_beat_stopped_for_hours_then_restarted(client, db, nurse, procedure, guardian):
    start = timezone.now().replace(microsecond=0)
    reminder = Reminder.objects.create(
        procedure=procedure,
        guardian=guardian,
        channel="email",
        kind=Kind.FASTING_EVENING,
        due_at=start,
        valid_until=start + dt.timedelta(hours=3),
        procedure_version=procedure.version,
    )
    with time_machine.travel(start + dt.timedelta(hours=5), tick=False):
        dispatch.claim_due(enqueue=lambda pk: pytest.fail("stale reminders must not be sent"))
        client.force_login(nurse)
        page = client.get(reverse("nurse:procedure_detail", args=[procedure.pk])).content.decode()
    reminder.refresh_from_db()
    assert reminder.status == Status.EXPIRED
    assert not OutboxMessage.objects.exists()
    assert "Expired" in page and "No longer useful" in page
