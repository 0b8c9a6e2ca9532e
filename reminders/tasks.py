"""Thin Celery tasks: they take ids and call functions in reminders.dispatch."""

from __future__ import annotations

from celery import shared_task

from . import dispatch as dispatching


def enqueue(reminder_id: int) -> None:
    send_reminder.delay(reminder_id)


@shared_task(name="reminders.tasks.dispatch", ignore_result=True)
def dispatch() -> int:
    return len(dispatching.claim_due(enqueue=enqueue))


@shared_task(name="reminders.tasks.send", ignore_result=True, acks_late=True)
def send_reminder(reminder_id: int) -> str | None:
    status = dispatching.send(reminder_id)
    return str(status) if status else None


@shared_task(name="reminders.tasks.sweep", ignore_result=True)
def sweep() -> dict[str, int]:
    return dispatching.sweep(enqueue=enqueue)
