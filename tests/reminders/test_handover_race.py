"""A hand-over and a change never overlap: on PostgreSQL, with two connections.

Either the message reaches the provider before the change commits (and the
change's notice follows), or the change commits first and the message is
withdrawn. Each moment is made explicit: the fake provider waits on an event,
and a thread is known to be blocked when PostgreSQL says it waits for a lock.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from unittest import mock

import pytest
from django.db import connection, transaction
from django.utils import timezone
from django.utils.formats import date_format

from procedures import services
from procedures.models import Procedure
from reminders import channels, dispatch
from reminders.channels import Message, Transport
from reminders.models import AttemptOutcome, DeliveryAttempt, Kind, Reminder, Status

from .conftest import book
from .threads import in_thread

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_quiet_hours")]


class HeldProvider(Transport):
    """A provider that accepts, but only once the test lets it."""

    name = "held"

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.release = threading.Event()
        self.handed_over: list[Message] = []

    def send(self, message: Message) -> str:
        self.reached.set()
        assert self.release.wait(30), "the test never released the provider"
        self.handed_over.append(message)
        return f"held-{len(self.handed_over)}"

    def __call__(self) -> HeldProvider:  # stands in for the transport class
        return self


def _wait_until_waiting_for_a_lock(pid: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
            row = cursor.fetchone()
        if row and row[0] == "Lock":
            return
        time.sleep(0.01)
    pytest.fail(f"backend {pid} never waited for a lock")


@pytest.fixture
def queued(postgres, patient, nurse, guardian):
    procedure = book(patient, nurse, arrival=timezone.now() + dt.timedelta(days=3))
    (reminder_id,) = [
        pk for pk in dispatch.claim_due(enqueue=lambda pk: None) if Reminder.objects.get(pk=pk).channel == "email"
    ]
    return procedure, reminder_id


def _reschedule(procedure: Procedure, nurse) -> Callable[[], Procedure]:
    later = procedure.scheduled_start + dt.timedelta(days=1)
    return lambda: services.update_procedure(
        procedure=procedure, changed_by=nurse, scheduled_start=later, arrival_at=later - dt.timedelta(hours=1)
    )


def test_a_change_waits_for_a_hand_over_in_progress_and_its_notice_follows(queued, nurse):
    procedure, reminder_id = queued
    provider = HeldProvider()
    errors: list[BaseException] = []
    send_pids: list[int] = []
    change_pids: list[int] = []
    with mock.patch.dict(channels.TRANSPORTS, {"outbox": provider}):
        sender = in_thread(lambda: dispatch.send(reminder_id), errors, send_pids)
        assert provider.reached.wait(30)
        changer = in_thread(_reschedule(procedure, nurse), errors, change_pids)
        while not change_pids:
            time.sleep(0.01)
        _wait_until_waiting_for_a_lock(change_pids[0])
        assert Procedure.objects.get(pk=procedure.pk).version == 1  # the change has not committed
        provider.release.set()
        sender.join(30)
        changer.join(30)
    assert not errors, errors
    (message,) = provider.handed_over
    # It says the day of the plan it was handed over under; the notice that follows says the new one.
    assert date_format(procedure.local_start, "DATE_FORMAT") in message.body
    assert Reminder.objects.get(pk=reminder_id).status == Status.SENT
    assert Procedure.objects.get(pk=procedure.pk).version == 2
    notices = Reminder.objects.filter(procedure=procedure, kind=Kind.CHANGED, procedure_version=2)
    assert notices.count() == 1 and notices.get().status == Status.SCHEDULED


def test_a_change_that_commits_first_withdraws_the_claimed_message(queued, nurse):
    procedure, reminder_id = queued
    provider = HeldProvider()
    provider.release.set()
    errors: list[BaseException] = []
    change_pids: list[int] = []
    send_pids: list[int] = []
    locked, go = threading.Event(), threading.Event()

    def change_once_the_message_is_claimed() -> None:
        with transaction.atomic():
            # The change path's first step, taken early: hold the procedure row...
            Procedure.objects.select_for_update().get(pk=procedure.pk)
            locked.set()
            # ...until the sender has claimed its message and waits at the hand-over.
            assert go.wait(30)
            _reschedule(procedure, nurse)()

    with mock.patch.dict(channels.TRANSPORTS, {"outbox": provider}):
        changer = in_thread(change_once_the_message_is_claimed, errors, change_pids)
        assert locked.wait(30)
        sender = in_thread(lambda: dispatch.send(reminder_id), errors, send_pids)
        while not send_pids:
            time.sleep(0.01)
        _wait_until_waiting_for_a_lock(send_pids[0])
        # The claim committed before the send blocked: the message is ours, and waiting.
        assert Reminder.objects.get(pk=reminder_id).status == Status.SENDING
        go.set()
        changer.join(30)
        sender.join(30)
    assert not errors, errors
    assert provider.handed_over == []
    assert Reminder.objects.get(pk=reminder_id).status == Status.CANCELLED
    assert DeliveryAttempt.objects.get(reminder_id=reminder_id).outcome == AttemptOutcome.WITHDRAWN
