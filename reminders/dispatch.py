"""Claiming due reminders and sending them: the doorbell, the lease, the claim, the hand-over.

Every step moves a reminder's status with a conditional UPDATE, so a message
handed to a provider is never handed over twice: a duplicate task, a second
worker or a sweeper finds the row already moved on and does nothing. What a
send task holds, and until when, is its lease (reminders.leases); the hand-over
itself is reminders.handover; sweeping and asking providers, reminders.recovery.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Iterator
from functools import partial

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from procedures.models import FastingPolicy

from . import leases, slots
from .channels import Message, Transport, body_digest, transport_for
from .handover import Claimed, apply_early_statuses, finish, hand_over_or_leave, not_wanted
from .messages import TELLS_START, render
from .models import ACCOUNT_KINDS, DeliveryAttempt, Reminder, Status

logger = logging.getLogger(__name__)

BATCH = 200
# Reminders of one channel per send task, at least: one load, one claim, one commit of their attempts.
SEND_BATCH = 50


def send_batch() -> int:
    """Reminders of one channel a send task takes: SEND_BATCH, or two rounds of calls if more."""
    return max(SEND_BATCH, 2 * settings.PROVIDER_SEND_THREADS)


def claim_due(
    *,
    now: dt.datetime | None = None,
    enqueue: Callable[[int], None] | None = None,
    enqueue_many: Callable[[str, list[int]], None] | None = None,
) -> list[int]:
    """Mark due reminders queued and ring the doorbell after commit.

    `enqueue` rings once per reminder; `enqueue_many` (what beat's dispatch uses)
    once per channel with all of that channel's ids.
    """
    now = now or timezone.now()
    with transaction.atomic():
        # An expired row is due too (useful-until never comes before due), so the
        # partial index on scheduled rows' due time serves this as well.
        expired = Reminder.objects.due(now).filter(valid_until__lte=now)
        expired.update(status=Status.EXPIRED, last_error="No longer useful when its time came.", updated_at=now)
        rows = list(
            Reminder.objects.select_for_update(skip_locked=True)
            .due(now)
            .order_by("due_at")
            .values_list("pk", "channel")[:BATCH]
        )
        ids = [pk for pk, _channel in rows]
        if ids:
            # A row back for another try carries its last task's lease: a new doorbell, no holder yet.
            Reminder.objects.filter(pk__in=ids).update(
                status=Status.QUEUED, queued_at=now, updated_at=now, lease_owner="", lease_until=None
            )
            transaction.on_commit(partial(_ring, rows, enqueue, enqueue_many))
    if ids:
        logger.info("reminders queued", extra={"count": len(ids)})
    return ids


def _ring(
    rows: list[tuple[int, str]],
    enqueue: Callable[[int], None] | None,
    enqueue_many: Callable[[str, list[int]], None] | None,
) -> None:
    if enqueue_many is None:
        for pk, _channel in rows:
            enqueue(pk)
        return
    by_channel: dict[str, list[int]] = {}
    for pk, channel in rows:
        by_channel.setdefault(channel, []).append(pk)
    for channel, ids in by_channel.items():
        enqueue_many(channel, ids)


def _claim(ids: list[int], now: dt.datetime, holder: leases.Holder) -> dict[int, int]:
    """Queued -> sending, each row only if still queued and held by `holder`, in one statement; {id: attempt}.

    UPDATE ... RETURNING: PostgreSQL, and SQLite from 3.35 (2021). An older
    SQLite reads first: its transaction holds the write lock, so nothing moves in between.
    """
    until = now + leases.length()
    mine = {"status": Status.QUEUED, "lease_owner": holder.owner}
    if not connection.features.can_return_columns_from_insert:
        ids = list(Reminder.objects.filter(pk__in=ids, **mine).values_list("pk", flat=True))
        Reminder.objects.filter(pk__in=ids, **mine).update(
            status=Status.SENDING, sending_at=now, attempts=F("attempts") + 1, updated_at=now, lease_until=until
        )
        return dict(Reminder.objects.filter(pk__in=ids).values_list("pk", "attempts"))
    quote = connection.ops.quote_name
    stamp = connection.ops.adapt_datetimefield_value(now)
    marks = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(Reminder._meta.db_table)} SET status = %s, sending_at = %s, updated_at = %s,"  # noqa: S608
            f" lease_until = %s, attempts = attempts + 1 WHERE id IN ({marks}) AND status = %s AND lease_owner = %s"
            " RETURNING id, attempts",
            [
                Status.SENDING.value,
                stamp,
                stamp,
                connection.ops.adapt_datetimefield_value(until),
                *ids,
                Status.QUEUED.value,
                holder.owner,
            ],
        )
        return dict(cursor.fetchall())


def send(reminder_id: int, *, now: dt.datetime | None = None) -> Status | None:
    """Send one queued reminder. Returns the status it ended in, or None if it was not ours."""
    return send_many([reminder_id], now=now).get(reminder_id)


def send_many(reminder_ids: Iterable[int], *, now: dt.datetime | None = None) -> dict[int, Status]:
    """Send queued reminders; the status each ended in (a reminder that was not ours is left out).

    First a lease on the rows (reminders.leases): of two tasks given the same
    rows, each row goes to one. One load of everything the messages need; then,
    round by round (the outbox's whole batch in one; a provider across the
    network PROVIDER_SEND_THREADS at a time, once the provider has a free slot
    for them, all workers counted), one commit that claims the round's rows
    (queued -> sending, each only if still ours), renders them and records an
    attempt for each: what is about to be handed over (address and a digest of
    the text) is on record before the provider is called, so it can be asked
    about later. Then the hand-over (reminders.handover). Rows waiting for their
    round stay queued under the lease, which is renewed while they wait: a
    worker that stops then leaves rows that plainly never left, and they go
    again by themselves (reminders.recovery). `now` lets the demo fast-forward
    replay a reminder at its due time; otherwise each round is written at its own moment.
    """
    fixed = now
    holder = leases.Holder()
    results: dict[int, Status] = {}
    ids = holder.take(list(reminder_ids))
    if not ids:
        return results
    wanted = []
    loaded = Reminder.objects.select_related("procedure__location", "procedure__patient", "guardian__user")
    checked_at = fixed or timezone.now()
    for reminder in loaded.filter(pk__in=ids, status=Status.QUEUED).order_by("pk"):
        # Cheap checks first, so a row that is plainly stale never counts an attempt.
        refused = not_wanted(reminder, checked_at)
        if refused:
            finish(reminder.pk, *refused)
            results[reminder.pk] = refused[0]
        else:
            wanted.append(reminder)
    policy = FastingPolicy.current() if any(reminder.procedure_id for reminder in wanted) else None
    sent: list[Reminder] = []
    try:
        for transport, group in _rounds(wanted):
            while group:
                # As many as the provider may take now, all workers counted: waited for holding
                # nothing but the lease, which the wait renews.
                with slots.calls(transport.name, len(group), waiting=holder.renew) as allowed:
                    round_now = fixed or timezone.now()
                    claimed = _claim_round(group[:allowed], round_now, policy, holder)
                    done = hand_over_or_leave(transport, claimed, round_now)
                results.update(done)
                sent += [item.reminder for item in claimed if done.get(item.reminder.pk) == Status.SENT]
                group = group[allowed:]
                holder.renew()
    finally:
        holder.release()
    apply_early_statuses(sent)
    return results


def _rounds(wanted: list[Reminder]) -> Iterator[tuple[Transport, list[Reminder]]]:
    """Each channel's reminders and transport: the outbox's in one round, a network provider's in rounds of threads."""
    by_channel: dict[str, list[Reminder]] = {}
    for reminder in wanted:
        by_channel.setdefault(reminder.channel, []).append(reminder)
    for channel, reminders in by_channel.items():
        transport = transport_for(channel)
        size = len(reminders) if transport.local else settings.PROVIDER_SEND_THREADS
        for start in range(0, len(reminders), size):
            yield transport, reminders[start : start + size]


def _claim_round(
    reminders: list[Reminder], now: dt.datetime, policy: FastingPolicy | None, holder: leases.Holder
) -> list[Claimed]:
    """One commit: the round's rows claimed (queued -> sending), their messages written and their attempts recorded."""
    claimed = []
    with transaction.atomic():
        numbers = _claim([reminder.pk for reminder in reminders], now, holder)
        for reminder in reminders:
            if reminder.pk not in numbers:
                continue  # no longer ours
            reminder.status, reminder.attempts, reminder.sending_at = Status.SENDING, numbers[reminder.pk], now
            message = _render(reminder, now=now, policy=policy)
            if message is not None:
                attempt = DeliveryAttempt(
                    reminder_id=reminder.pk,
                    number=reminder.attempts,
                    started_at=now,
                    to=message.to,
                    body_sha256=body_digest(message.body),
                    told_start=reminder.procedure.scheduled_start if reminder.kind in TELLS_START else None,
                )
                claimed.append(Claimed(reminder, message, attempt))
        DeliveryAttempt.objects.bulk_create([item.attempt for item in claimed])
    return claimed


def _render(reminder: Reminder, *, now: dt.datetime, policy: FastingPolicy | None) -> Message | None:
    """The message, or None when it cannot be made: then the row goes back to queued, its attempt not counted."""
    try:
        if reminder.kind in ACCOUNT_KINDS:
            with transaction.atomic():  # it issues a link or a code: all of that is kept, or none of it
                return render(reminder, now=now)
        return render(reminder, now=now, policy=policy)
    except Exception:
        logger.exception("reminder could not be written", extra={"reminder_id": reminder.pk})
        Reminder.objects.filter(pk=reminder.pk, status=Status.SENDING).update(
            status=Status.QUEUED, attempts=F("attempts") - 1
        )
        return None
