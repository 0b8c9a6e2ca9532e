"""Handing claimed reminders to the provider, and recording what it answered.

The hand-over and a change to the procedure never overlap: each message is
handed to the provider while its procedure row is held (a share lock), so a
change either commits first (and the message is withdrawn here) or waits for the
hand-over (and its own notice follows). A provider across the network takes up
to PROVIDER_SEND_THREADS messages a transaction, all of their calls made at once
by threads that only wait on the provider; a change waits for one round of
calls, no longer than the slowest of them, which the provider's timeout bounds.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from procedures.models import Guardian, Procedure

from .channels import DeliveryError, Message, OutcomeUnknown, Transport
from .models import ACCOUNT_KINDS, AttemptOutcome, Channel, DeliveryAttempt, EarlyStatus, Reminder, Status
from .webhooks import PROVIDER as EARLY_PROVIDER
from .webhooks import apply_early_status

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
# Seconds to wait after the 1st, 2nd, ... temporary failure.
BACKOFF = (30, 120, 600, 1800)


@dataclass
class Claimed:
    reminder: Reminder
    message: Message
    attempt: DeliveryAttempt


def finish(reminder_id: int, status: Status, error: str = "", *, was: Status = Status.QUEUED, **fields: object) -> None:
    Reminder.objects.filter(pk=reminder_id, status=was).update(
        status=status, last_error=error[:300], updated_at=timezone.now(), **fields
    )


def _reachable(reminder: Reminder) -> bool:
    if reminder.kind in ACCOUNT_KINDS and reminder.channel == Channel.SMS:
        # A code the person just asked for goes whatever the reminder choices, but never after a STOP.
        guardian = reminder.guardian
        return bool(guardian and guardian.sms_opted_out_at is None and (reminder.address or guardian.mobile_number))
    if reminder.kind in ACCOUNT_KINDS:
        # Account emails go whatever the reminder choices: they are how a family gets in.
        return bool(reminder.address or (reminder.guardian and reminder.guardian.user.email))
    guardian = reminder.guardian
    return guardian.can_receive_sms if reminder.channel == Channel.SMS else guardian.can_receive_email


def not_wanted(reminder: Reminder, now: dt.datetime) -> tuple[Status, str] | None:
    """Why a reminder must not go now (and the status it ends in), or None when it should."""
    if reminder.procedure_id and reminder.procedure_version != reminder.procedure.version:
        return Status.CANCELLED, "The appointment changed before this went out."
    if now >= reminder.valid_until:
        return Status.EXPIRED, "No longer useful when its time came."
    if not _reachable(reminder):
        return Status.FAILED, "The guardian opted out of this channel or has no address for it."
    return None


def _hold_procedures(procedure_ids: set[int]) -> dict[int, int]:
    """Keep these procedures from changing until this transaction ends; their current versions.

    PostgreSQL: a share lock on each row, taken in primary-key order as the
    change path takes its FOR UPDATE (so the two cannot deadlock); the change
    path waits for it, while sends of the same procedure still run side by side.
    SQLite has no row locks: the transaction already holds the database's write
    lock (IMMEDIATE mode).
    """
    if not procedure_ids:
        return {}
    ids = sorted(procedure_ids)
    if connection.vendor != "postgresql":
        return dict(Procedure.objects.filter(pk__in=ids).values_list("pk", "version"))
    table = connection.ops.quote_name(Procedure._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, version FROM {table} WHERE id = ANY(%s) ORDER BY id FOR SHARE", [ids])  # noqa: S608
        return dict(cursor.fetchall())


def _call_provider(transport: Transport, messages: list[Message]) -> list[str | Exception]:
    """Each message's provider id, or what the provider call raised; all of the calls at once.

    The threads only wait on the provider: they never touch the database, so
    they need no connection of their own and cannot see or miss anything of the
    caller's transaction. Every call has ended when this returns.
    """

    def call(message: Message) -> str | Exception:
        try:
            return transport.send(message)
        except Exception as error:  # each message's own outcome, whatever it is
            return error

    if len(messages) < 2:
        return [call(message) for message in messages]
    return list(_callers.pool().map(call, messages))


class _Callers:
    """The process's hand-over threads, kept from one round to the next.

    Starting a round's threads anew costs more than the round's own work
    besides the waiting. There are PROVIDER_SEND_THREADS of them, as many as a
    round has calls: a worker process runs one task at a time (prefork), so a
    round has them all. A forked worker process starts its own: threads do not
    survive a fork.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.made_for: tuple[int, int] | None = None  # (process, threads a round)
        self.executor: ThreadPoolExecutor | None = None

    def pool(self) -> ThreadPoolExecutor:
        wanted = (os.getpid(), settings.PROVIDER_SEND_THREADS)
        with self.lock:
            if self.executor is None or self.made_for != wanted:
                if self.executor is not None and self.made_for[0] == wanted[0]:
                    self.executor.shutdown(wait=False)  # its idle threads end; calls under way finish
                self.made_for = wanted
                self.executor = ThreadPoolExecutor(max_workers=wanted[1], thread_name_prefix="hand-over")
            return self.executor


_callers = _Callers()


def hand_over_or_leave(transport: Transport, group: list[Claimed], now: dt.datetime) -> dict[int, Status]:
    try:
        return _hand_over(transport, group, now)
    except Exception:
        # Left sending, as if this worker had stopped: the sweep finds out what became of them.
        logger.exception("hand-over failed", extra={"reminder_ids": [item.reminder.pk for item in group]})
        return {}


def _hand_over(transport: Transport, group: list[Claimed], now: dt.datetime) -> dict[int, Status]:
    results: dict[int, Status] = {}
    sent: list[Claimed] = []
    with transaction.atomic():
        # A change that committed since the messages were rendered has bumped the version:
        # then that one is withdrawn here; a change still to come waits for the hand-over.
        versions = _hold_procedures({item.reminder.procedure_id for item in group if item.reminder.procedure_id})
        # A STOP may have come in meanwhile.
        guardian_ids = {item.reminder.guardian_id for item in group if item.reminder.guardian_id}
        guardians = Guardian.objects.select_related("user").in_bulk(guardian_ids) if guardian_ids else {}
        ready: list[Claimed] = []
        for item in group:
            reminder = item.reminder
            if reminder.procedure_id:
                reminder.procedure.version = versions.get(reminder.procedure_id)
            if reminder.guardian_id and reminder.guardian_id not in guardians:
                results[reminder.pk] = _withdraw(reminder, item.attempt, Status.CANCELLED, "The guardian was removed.")
                continue
            if reminder.guardian_id:
                reminder.guardian = guardians[reminder.guardian_id]
            refused = not_wanted(reminder, now)
            if refused:
                results[reminder.pk] = _withdraw(reminder, item.attempt, *refused)
            else:
                ready.append(item)
        if transport.local:
            # Rows of this database, in this transaction: all of them are kept with the move to sent, or none.
            provider_ids = transport.send_many([item.message for item in ready]) if ready else []
            delivered = list(zip(ready, provider_ids, strict=True))
        else:
            delivered = []
            for item, outcome in zip(ready, _call_provider(transport, [item.message for item in ready]), strict=True):
                if isinstance(outcome, DeliveryError):
                    results[item.reminder.pk] = _failed(item.reminder, item.attempt, outcome)
                elif isinstance(outcome, OutcomeUnknown):
                    results[item.reminder.pk] = _unknown(item.reminder, item.attempt, str(outcome))
                elif isinstance(outcome, Exception):
                    # Left sending, as if this worker had stopped: the sweep finds out what became of it.
                    logger.error("hand-over failed", extra={"reminder_ids": [item.reminder.pk]}, exc_info=outcome)
                else:
                    delivered.append((item, outcome))
        for item, provider_id in delivered:
            item.reminder.provider_message_id = provider_id[:64]
            sent.append(item)
            results[item.reminder.pk] = Status.SENT
        if sent:
            _record_sent(sent, now)
    for item in sent:
        reminder = item.reminder
        logger.info(
            "reminder sent", extra={"reminder_id": reminder.pk, "kind": reminder.kind, "channel": reminder.channel}
        )
    return results


def _record_sent(sent: list[Claimed], now: dt.datetime) -> None:
    finished = timezone.now()
    DeliveryAttempt.objects.filter(pk__in=[item.attempt.pk for item in sent]).update(
        outcome=AttemptOutcome.SUCCESS, finished_at=finished
    )
    reminders = [item.reminder for item in sent]
    for reminder in reminders:
        reminder.status, reminder.sent_at, reminder.last_error, reminder.updated_at = Status.SENT, now, "", finished
    # Each row moves only if it is still sending. PostgreSQL: one statement for the batch;
    # elsewhere (SQLite, in-process) one per row.
    quote = connection.ops.quote_name
    adapt = connection.ops.adapt_datetimefield_value
    table = quote(Reminder._meta.db_table)
    assign = "status = %s, sent_at = %s, last_error = '', updated_at = %s, provider_message_id = "
    common = [Status.SENT.value, adapt(now), adapt(finished)]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            rows = ", ".join(["(%s, %s)"] * len(reminders))
            cursor.execute(
                f"UPDATE {table} AS r SET {assign}v.column2 FROM (VALUES {rows}) AS v"  # noqa: S608
                " WHERE r.id = v.column1 AND r.status = %s",
                [*common, *(x for r in reminders for x in (r.pk, r.provider_message_id)), Status.SENDING.value],
            )
        else:
            cursor.executemany(
                f"UPDATE {table} SET {assign}%s WHERE id = %s AND status = %s",  # noqa: S608
                [[*common, r.provider_message_id, r.pk, Status.SENDING.value] for r in reminders],
            )


def apply_early_statuses(sent: list[Reminder]) -> None:
    """apply_early_status for each row a provider called back about before its id was stored.

    One look for a whole send task, once each of its hand-overs has committed
    (instead of two a row): a callback that came before a row's commit left an
    early status this finds, one after it found the row by its id. Inside a
    caller's transaction, once more after that commits.
    """
    if not sent:
        return
    ids = [reminder.provider_message_id for reminder in sent]

    def waiting() -> list[Reminder]:
        found = set(
            EarlyStatus.objects.filter(
                provider=EARLY_PROVIDER, message_id__in=ids, applied_at__isnull=True
            ).values_list("message_id", flat=True)
        )
        return [reminder for reminder in sent if reminder.provider_message_id in found]

    for reminder in waiting():
        apply_early_status(reminder)
    if connection.in_atomic_block:
        transaction.on_commit(lambda: [apply_early_status(reminder) for reminder in waiting()])


def _withdraw(reminder: Reminder, attempt: DeliveryAttempt, status: Status, reason: str) -> Status:
    DeliveryAttempt.objects.filter(pk=attempt.pk).update(
        outcome=AttemptOutcome.WITHDRAWN, finished_at=timezone.now(), error=reason
    )
    finish(reminder.pk, status, reason, was=Status.SENDING)
    return status


def _unknown(reminder: Reminder, attempt: DeliveryAttempt, reason: str) -> Status:
    DeliveryAttempt.objects.filter(pk=attempt.pk).update(
        outcome=AttemptOutcome.UNKNOWN, finished_at=timezone.now(), error=reason[:300]
    )
    finish(
        reminder.pk, Status.UNKNOWN, f"{reason} Asking the provider before anything is sent again.", was=Status.SENDING
    )
    logger.warning("reminder outcome unknown", extra={"reminder_id": reminder.pk, "channel": reminder.channel})
    return Status.UNKNOWN


@transaction.atomic
def _failed(reminder: Reminder, attempt: DeliveryAttempt, error: DeliveryError) -> Status:
    number = attempt.number
    outcome = AttemptOutcome.PERMANENT if error.permanent else AttemptOutcome.TRANSIENT
    DeliveryAttempt.objects.filter(pk=attempt.pk).update(outcome=outcome, finished_at=timezone.now(), error=str(error))
    retry_at = timezone.now() + dt.timedelta(seconds=BACKOFF[min(number - 1, len(BACKOFF) - 1)])
    if error.permanent or number >= MAX_ATTEMPTS or retry_at >= reminder.valid_until:
        finish(reminder.pk, Status.FAILED, str(error), was=Status.SENDING)
        logger.warning("reminder failed", extra={"reminder_id": reminder.pk, "permanent": error.permanent})
        return Status.FAILED
    # The row is the schedule: back to scheduled, due again after the backoff.
    finish(reminder.pk, Status.SCHEDULED, str(error), was=Status.SENDING, due_at=retry_at)
    logger.info("reminder will retry", extra={"reminder_id": reminder.pk, "attempt": number})
    return Status.SCHEDULED
