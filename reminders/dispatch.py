"""Claiming due reminders, sending one, and sweeping up after lost workers.

Every step moves a reminder's status with a conditional UPDATE, so a message
handed to a provider is never handed over twice: a duplicate task, a second
worker or a sweeper finds the row already moved on and does nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from procedures.models import FastingPolicy, Guardian, Procedure

from . import slots
from .channels import (
    DeliveryError,
    Message,
    OutboxTransport,
    OutcomeUnknown,
    Sent,
    Transport,
    body_digest,
    transport_for,
)
from .messages import render
from .models import (
    ACCOUNT_KINDS,
    AttemptOutcome,
    Channel,
    DeliveryAttempt,
    EarlyStatus,
    OutboxMessage,
    Reminder,
    Status,
)
from .webhooks import PROVIDER as EARLY_PROVIDER
from .webhooks import apply_early_status

logger = logging.getLogger(__name__)

BATCH = 200
# Reminders of one channel per send task, at least: one load, one claim, one commit of their attempts.
SEND_BATCH = 50
MAX_ATTEMPTS = 5
# Seconds to wait after the 1st, 2nd, ... temporary failure.
BACKOFF = (30, 120, 600, 1800)


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
            Reminder.objects.filter(pk__in=ids).update(status=Status.QUEUED, queued_at=now, updated_at=now)
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


def _finish(
    reminder_id: int, status: Status, error: str = "", *, was: Status = Status.QUEUED, **fields: object
) -> None:
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


def _not_wanted(reminder: Reminder, now: dt.datetime) -> tuple[Status, str] | None:
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


def _claim(ids: list[int], now: dt.datetime) -> dict[int, int]:
    """Queued -> sending, each row only if it is still queued, in one statement; {id: attempt number}.

    UPDATE ... RETURNING: PostgreSQL, and SQLite from 3.35 (2021). An older
    SQLite reads first: its transaction holds the write lock, so nothing moves in between.
    """
    if not connection.features.can_return_columns_from_insert:
        ids = list(Reminder.objects.filter(pk__in=ids, status=Status.QUEUED).values_list("pk", flat=True))
        Reminder.objects.filter(pk__in=ids, status=Status.QUEUED).update(
            status=Status.SENDING, sending_at=now, attempts=F("attempts") + 1, updated_at=now
        )
        return dict(Reminder.objects.filter(pk__in=ids).values_list("pk", "attempts"))
    quote = connection.ops.quote_name
    stamp = connection.ops.adapt_datetimefield_value(now)
    marks = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(Reminder._meta.db_table)} SET status = %s, sending_at = %s, updated_at = %s,"  # noqa: S608
            f" attempts = attempts + 1 WHERE id IN ({marks}) AND status = %s RETURNING id, attempts",
            [Status.SENDING.value, stamp, stamp, *ids, Status.QUEUED.value],
        )
        return dict(cursor.fetchall())


@dataclass
class _Claimed:
    reminder: Reminder
    message: Message
    attempt: DeliveryAttempt


def send(reminder_id: int, *, now: dt.datetime | None = None) -> Status | None:
    """Send one queued reminder. Returns the status it ended in, or None if it was not ours."""
    return send_many([reminder_id], now=now).get(reminder_id)


def send_many(reminder_ids: Iterable[int], *, now: dt.datetime | None = None) -> dict[int, Status]:
    """Send queued reminders; the status each ended in (a reminder that was not ours is left out).

    One load of everything the messages need, then one commit that claims them
    (each row only if still queued), renders them and records an attempt for
    each: what is about to be handed over (address and a digest of the text) is
    on record before the provider is called, so it can be asked about later.
    The hand-over and a change to the procedure never overlap: the message is
    handed to the provider while the procedure row is held, so a change either
    commits first (and the message is withdrawn) or waits for the hand-over (and
    its own notice follows). The outbox, a table of this database, takes the
    batch in one transaction. A provider across the network takes up to
    PROVIDER_SEND_THREADS messages a transaction, all of their calls made at
    once (see _call_provider): a change waits for one round of calls, no longer
    than the slowest of them, which the provider's timeout bounds.
    `now` lets the demo fast-forward replay a reminder at its due time.
    """
    now = now or timezone.now()
    results: dict[int, Status] = {}
    wanted = []
    loaded = Reminder.objects.select_related("procedure__location", "procedure__patient", "guardian__user")
    for reminder in loaded.filter(pk__in=list(reminder_ids), status=Status.QUEUED).order_by("pk"):
        # Cheap checks first, so a row that is plainly stale never counts an attempt.
        refused = _not_wanted(reminder, now)
        if refused:
            _finish(reminder.pk, *refused)
            results[reminder.pk] = refused[0]
        else:
            wanted.append(reminder)
    if not wanted:
        return results
    policy = FastingPolicy.current() if any(reminder.procedure_id for reminder in wanted) else None
    claimed = []
    with transaction.atomic():
        numbers = _claim([reminder.pk for reminder in wanted], now)
        for reminder in wanted:
            if reminder.pk not in numbers:
                continue  # another worker has it
            reminder.status, reminder.attempts, reminder.sending_at = Status.SENDING, numbers[reminder.pk], now
            message = _render(reminder, now=now, policy=policy)
            if message is not None:
                attempt = DeliveryAttempt(
                    reminder_id=reminder.pk,
                    number=reminder.attempts,
                    started_at=now,
                    to=message.to,
                    body_sha256=body_digest(message.body),
                )
                claimed.append(_Claimed(reminder, message, attempt))
        DeliveryAttempt.objects.bulk_create([item.attempt for item in claimed])
    results.update(_hand_over_all(claimed, now))
    _apply_early_statuses([item.reminder for item in claimed if results.get(item.reminder.pk) == Status.SENT])
    return results


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


def _hand_over_groups(claimed: list[_Claimed]) -> Iterator[tuple[Transport, list[_Claimed]]]:
    """The outbox's whole batch at once; a network provider's in groups of PROVIDER_SEND_THREADS."""
    by_channel: dict[str, list[_Claimed]] = {}
    for item in claimed:
        by_channel.setdefault(item.reminder.channel, []).append(item)
    for channel, items in by_channel.items():
        transport = transport_for(channel)
        size = len(items) if transport.local else settings.PROVIDER_SEND_THREADS
        for start in range(0, len(items), size):
            yield transport, items[start : start + size]


def _hand_over_all(claimed: list[_Claimed], now: dt.datetime) -> dict[int, Status]:
    results: dict[int, Status] = {}
    for transport, group in _hand_over_groups(claimed):
        while group:
            # As many as the provider may take now, all workers counted: waited for before the
            # round's transaction, so no procedure is held meanwhile.
            with slots.calls(transport.name, len(group)) as allowed:
                results.update(_hand_over_or_leave(transport, group[:allowed], now))
            group = group[allowed:]
    return results


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


def _hand_over_or_leave(transport: Transport, group: list[_Claimed], now: dt.datetime) -> dict[int, Status]:
    try:
        return _hand_over(transport, group, now)
    except Exception:
        # Left sending, as if this worker had stopped: the sweep finds out what became of them.
        logger.exception("hand-over failed", extra={"reminder_ids": [item.reminder.pk for item in group]})
        return {}


def _hand_over(transport: Transport, group: list[_Claimed], now: dt.datetime) -> dict[int, Status]:
    results: dict[int, Status] = {}
    sent: list[_Claimed] = []
    with transaction.atomic():
        # A change that committed since the messages were rendered has bumped the version:
        # then that one is withdrawn here; a change still to come waits for the hand-over.
        versions = _hold_procedures({item.reminder.procedure_id for item in group if item.reminder.procedure_id})
        # A STOP may have come in meanwhile.
        guardian_ids = {item.reminder.guardian_id for item in group if item.reminder.guardian_id}
        guardians = Guardian.objects.select_related("user").in_bulk(guardian_ids) if guardian_ids else {}
        ready: list[_Claimed] = []
        for item in group:
            reminder = item.reminder
            if reminder.procedure_id:
                reminder.procedure.version = versions.get(reminder.procedure_id)
            if reminder.guardian_id and reminder.guardian_id not in guardians:
                results[reminder.pk] = _withdraw(reminder, item.attempt, Status.CANCELLED, "The guardian was removed.")
                continue
            if reminder.guardian_id:
                reminder.guardian = guardians[reminder.guardian_id]
            refused = _not_wanted(reminder, now)
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


def _record_sent(sent: list[_Claimed], now: dt.datetime) -> None:
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


def _apply_early_statuses(sent: list[Reminder]) -> None:
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
    _finish(reminder.pk, status, reason, was=Status.SENDING)
    return status


def _unknown(reminder: Reminder, attempt: DeliveryAttempt, reason: str) -> Status:
    DeliveryAttempt.objects.filter(pk=attempt.pk).update(
        outcome=AttemptOutcome.UNKNOWN, finished_at=timezone.now(), error=reason[:300]
    )
    _finish(
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
        _finish(reminder.pk, Status.FAILED, str(error), was=Status.SENDING)
        logger.warning("reminder failed", extra={"reminder_id": reminder.pk, "permanent": error.permanent})
        return Status.FAILED
    # The row is the schedule: back to scheduled, due again after the backoff.
    _finish(reminder.pk, Status.SCHEDULED, str(error), was=Status.SENDING, due_at=retry_at)
    logger.info("reminder will retry", extra={"reminder_id": reminder.pk, "attempt": number})
    return Status.SCHEDULED


def sweep(*, now: dt.datetime | None = None, enqueue: Callable[[int], None]) -> dict[str, int]:
    """Bring back reminders a lost worker or a lost broker message left behind.

    Queued rows were never handed to a provider: ring again. Sending rows may
    have been: their outcome is unknown, so they fail visibly for a nurse to
    check and resend, rather than risk a second message. Delivery statuses a
    stopped worker left waiting for their message are applied.
    """
    now = now or timezone.now()
    stale = now - dt.timedelta(minutes=settings.REMINDER_STUCK_MINUTES)
    lost = list(
        Reminder.objects.filter(status=Status.QUEUED, updated_at__lt=stale).values_list("pk", flat=True)[:BATCH]
    )
    if lost:
        Reminder.objects.filter(pk__in=lost, status=Status.QUEUED).update(updated_at=now)
        transaction.on_commit(lambda: [enqueue(pk) for pk in lost])
    # The outbox is our own table: there we can tell whether the message went.
    landed = Reminder.objects.filter(
        status=Status.SENDING, updated_at__lt=stale, pk__in=OutboxMessage.objects.values("reminder_id")
    ).update(status=Status.SENT, sent_at=now, updated_at=now)
    # An outbox row commits together with the move to sent, so a channel kept in
    # the outbox that has no row for it was never handed over: ring again.
    outbox_channels = [channel for channel in Channel.values if transport_for(channel).name == OutboxTransport.name]
    never_sent = list(
        Reminder.objects.filter(status=Status.SENDING, updated_at__lt=stale, channel__in=outbox_channels)
        .exclude(pk__in=OutboxMessage.objects.filter(reminder_id__isnull=False).values("reminder_id"))
        .values_list("pk", flat=True)[:BATCH]
    )
    if never_sent:
        Reminder.objects.filter(pk__in=never_sent, status=Status.SENDING).update(status=Status.QUEUED, updated_at=now)
        transaction.on_commit(lambda: [enqueue(pk) for pk in never_sent])
    unknown = Reminder.objects.filter(status=Status.SENDING, updated_at__lt=stale).update(
        status=Status.UNKNOWN,
        last_error="A worker stopped while handing it over. Asking the provider before anything is sent again.",
        updated_at=now,
    )
    # A delivery status that came before its message id was stored waits for the sender to apply
    # it once the id is in; a worker that stopped in between leaves it waiting. Applied here, from
    # the last day only: one for a message that is not ours (sent from the provider's console) waits for ever.
    waiting = EarlyStatus.objects.filter(
        provider=EARLY_PROVIDER,
        applied_at__isnull=True,
        received_at__lt=stale,
        received_at__gte=now - dt.timedelta(days=1),
    )
    early = list(Reminder.objects.filter(provider_message_id__in=waiting.values("message_id"))[:BATCH])
    for reminder in early:
        apply_early_status(reminder)
    requeued = len(lost) + len(never_sent)
    counts = {"requeued": requeued, "unknown_outcome": unknown, "found_sent": landed, "early_applied": len(early)}
    if any(counts.values()):
        logger.warning("reminders swept", extra=counts)
    return counts


# Give the provider time to finish with what it was given before asking about it.
ASK_AFTER = dt.timedelta(minutes=2)


def reconcile(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Ask the provider about each hand-over with no clear answer, and act only on its answer.

    It has the message: sent. It never got it: a definite "not accepted", so
    the row is due again (if still useful). It cannot tell: the row stays
    unknown, with the provider's words for the nurse, who may resend.
    """
    now = now or timezone.now()
    counts = {"found": 0, "not_found": 0, "cannot_tell": 0}
    rows = Reminder.objects.filter(status=Status.UNKNOWN, updated_at__lt=now - ASK_AFTER, valid_until__gt=now)
    for reminder in rows.select_related("guardian__user")[:BATCH]:
        attempt = reminder.delivery_attempts.order_by("-number").first()
        if attempt is None:
            continue
        sent = Sent(
            reminder_id=reminder.pk,
            to=attempt.to or _address(reminder),
            body_sha256=attempt.body_sha256,
            started_at=attempt.started_at,
        )
        answer = transport_for(reminder.channel).lookup(sent)
        with transaction.atomic():
            if answer.found:
                counts["found"] += 1
                Reminder.objects.filter(pk=reminder.pk, status=Status.UNKNOWN).update(
                    status=Status.SENT,
                    sent_at=attempt.started_at,
                    provider_message_id=answer.provider_id[:64],
                    last_error=answer.detail[:300],
                    checked_at=now,
                    updated_at=now,
                )
                apply_early_status(reminder)
            elif answer.found is False:
                counts["not_found"] += 1
                retry = reminder.attempts < MAX_ATTEMPTS
                Reminder.objects.filter(pk=reminder.pk, status=Status.UNKNOWN).update(
                    status=Status.SCHEDULED if retry else Status.FAILED,
                    due_at=now,
                    last_error=f"{answer.detail} " + ("Sending it again." if retry else "Too many tries."),
                    checked_at=now,
                    updated_at=now,
                )
            else:
                counts["cannot_tell"] += 1
                Reminder.objects.filter(pk=reminder.pk, status=Status.UNKNOWN).update(
                    last_error=answer.detail[:300], checked_at=now, updated_at=now
                )
    if any(counts.values()):
        logger.info("unknown outcomes checked", extra=counts)
    return counts


def _address(reminder: Reminder) -> str:
    if reminder.address or reminder.guardian is None:
        return reminder.address
    return reminder.guardian.mobile_number if reminder.channel == Channel.SMS else reminder.guardian.user.email
