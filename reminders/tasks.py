"""Thin Celery tasks: they take ids and call functions in reminders.dispatch and reminders.recovery.

Each channel has its own queue (settings.SEND_QUEUES), served by its own workers in
production, so a hung mail server cannot hold up texts; dispatching, sweeping,
asking providers about unclear hand-overs and the heartbeat stay on the default
queue.
"""

from __future__ import annotations

import time

from celery import shared_task
from django.conf import settings

from portal.tasks import record_heartbeat

from . import dispatch as dispatching
from . import recovery
from .models import Reminder


def queue_for(channel: str) -> str:
    return settings.SEND_QUEUES[channel]


def enqueue(reminder_id: int) -> None:
    channel = Reminder.objects.filter(pk=reminder_id).values_list("channel", flat=True).first()
    if channel is not None:
        send_reminder.apply_async(args=[reminder_id], queue=queue_for(channel))


def enqueue_many(channel: str, reminder_ids: list[int]) -> None:
    """One send task per send_batch() reminders of a channel, on that channel's queue."""
    size = dispatching.send_batch()
    with send_reminders.app.producer_or_acquire() as producer:
        for start in range(0, len(reminder_ids), size):
            send_reminders.apply_async(
                args=[reminder_ids[start : start + size]], queue=queue_for(channel), producer=producer
            )


@shared_task(name="reminders.tasks.dispatch", ignore_result=True)
def dispatch() -> int:
    """Drain what is due within one tick: batch after batch while batches come back full."""
    budget = time.monotonic() + settings.DISPATCH_SECONDS * 0.8
    claimed = 0
    while True:
        batch = len(dispatching.claim_due(enqueue_many=enqueue_many))
        claimed += batch
        if batch < dispatching.BATCH or time.monotonic() >= budget:
            return claimed


@shared_task(name="reminders.tasks.send", ignore_result=True, acks_late=True)
def send_reminder(reminder_id: int) -> str | None:
    status = dispatching.send(reminder_id)
    return str(status) if status else None


@shared_task(name="reminders.tasks.send_many", ignore_result=True, acks_late=True)
def send_reminders(reminder_ids: list[int]) -> int:
    return len(dispatching.send_many(reminder_ids))


@shared_task(name="reminders.tasks.sweep", ignore_result=True)
def sweep() -> dict[str, int]:
    return recovery.sweep(enqueue=enqueue, enqueue_many=enqueue_many)


@shared_task(name="reminders.tasks.reconcile", ignore_result=True)
def reconcile() -> dict[str, int]:
    return recovery.reconcile()


@shared_task(name="reminders.tasks.queue_heartbeat", ignore_result=True)
def queue_heartbeat(queue: str) -> None:
    """Proves a worker of this queue is taking work: its health check reads the row."""
    record_heartbeat(f"queue:{queue}")
