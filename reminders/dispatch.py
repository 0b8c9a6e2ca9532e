"""Claiming due reminders, sending one, and sweeping up after lost workers.

Every step moves a reminder's status with a conditional UPDATE, so a message
handed to a provider is never handed over twice: a duplicate task, a second
worker or a sweeper finds the row already moved on and does nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from procedures.models import Guardian, Procedure

from .channels import DeliveryError, OutboxTransport, OutcomeUnknown, Sent, body_digest, transport_for
from .messages import render
from .models import ACCOUNT_KINDS, AttemptOutcome, Channel, DeliveryAttempt, OutboxMessage, Reminder, Status
from .webhooks import apply_early_status

logger = logging.getLogger(__name__)

BATCH = 200
MAX_ATTEMPTS = 5
# Seconds to wait after the 1st, 2nd, ... temporary failure.
BACKOFF = (30, 120, 600, 1800)


def claim_due(*, now: dt.datetime | None = None, enqueue: Callable[[int], None]) -> list[int]:
    """Mark due reminders queued and ring the doorbell for each after commit."""
    now = now or timezone.now()
    with transaction.atomic():
        # An expired row is due too (useful-until never comes before due), so the
        # partial index on scheduled rows' due time serves this as well.
        expired = Reminder.objects.filter(status=Status.SCHEDULED, due_at__lte=now, valid_until__lte=now)
        expired.update(status=Status.EXPIRED, last_error="No longer useful when its time came.", updated_at=now)
        ids = list(
            Reminder.objects.select_for_update(skip_locked=True)
            .filter(status=Status.SCHEDULED, due_at__lte=now)
            .order_by("due_at")
            .values_list("pk", flat=True)[:BATCH]
        )
        if ids:
            Reminder.objects.filter(pk__in=ids).update(status=Status.QUEUED, queued_at=now, updated_at=now)
            transaction.on_commit(lambda: [enqueue(pk) for pk in ids])
    if ids:
        logger.info("reminders queued", extra={"count": len(ids)})
    return ids


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


def _hold_procedure(procedure_id: int) -> None:
    """Keep the procedure from changing until this transaction ends.

    PostgreSQL: a share lock on the row, which the change path's FOR UPDATE
    waits for; sends of the same procedure still run side by side. SQLite:
    the transaction already holds the database's write lock (IMMEDIATE mode).
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM procedures_procedure WHERE id = %s FOR SHARE", [procedure_id])


def send(reminder_id: int, *, now: dt.datetime | None = None) -> Status | None:
    """Send one queued reminder. Returns the status it ended in, or None if it was not ours.

    The hand-over and a change to the procedure never overlap: the message is
    rendered and handed to the provider while the procedure row is held, so a
    change either commits first (and this message is withdrawn) or waits for
    the hand-over (and its own notice follows). `now` lets the demo
    fast-forward replay a reminder at its due time.
    """
    now = now or timezone.now()
    reminder = (
        Reminder.objects.select_related("procedure", "guardian__user")
        .filter(pk=reminder_id, status=Status.QUEUED)
        .first()
    )
    if reminder is None:
        return None
    # Cheap checks first, so a row that is plainly stale never counts an attempt.
    refused = _not_wanted(reminder, now)
    if refused:
        _finish(reminder.pk, *refused)
        return refused[0]
    # Claim, render and record the attempt in one commit: only one worker moves it from
    # queued to sending, and what it is about to hand over (address and a digest of the
    # text) is on record before the provider is called, so it can be asked about later.
    with transaction.atomic():
        claimed = Reminder.objects.filter(pk=reminder_id, status=Status.QUEUED).update(
            status=Status.SENDING, sending_at=now, attempts=F("attempts") + 1, updated_at=now
        )
        if claimed != 1:
            return None
        reminder = Reminder.objects.select_related("procedure__location", "procedure__patient", "guardian__user").get(
            pk=reminder_id
        )
        message = render(reminder, now=now)
        attempt = DeliveryAttempt.objects.create(
            reminder_id=reminder_id,
            number=reminder.attempts,
            started_at=now,
            to=message.to,
            body_sha256=body_digest(message.body),
        )
    with transaction.atomic():
        if reminder.procedure_id:
            # A change that committed since the message was rendered has bumped the version:
            # then it is withdrawn here; a change still to come waits for the hand-over.
            _hold_procedure(reminder.procedure_id)
            reminder.procedure.version = Procedure.objects.values_list("version", flat=True).get(
                pk=reminder.procedure_id
            )
        if reminder.guardian_id:  # a STOP may have come in meanwhile
            reminder.guardian = Guardian.objects.select_related("user").get(pk=reminder.guardian_id)
        refused = _not_wanted(reminder, now)
        if refused:
            return _withdraw(reminder, attempt, *refused)
        try:
            provider_id = transport_for(reminder.channel).send(message)
        except DeliveryError as error:
            return _failed(reminder, attempt, error)
        except OutcomeUnknown as error:
            return _unknown(reminder, attempt, str(error))
        DeliveryAttempt.objects.filter(pk=attempt.pk).update(outcome=AttemptOutcome.SUCCESS, finished_at=timezone.now())
        Reminder.objects.filter(pk=reminder.pk, status=Status.SENDING).update(
            status=Status.SENT,
            sent_at=now,
            provider_message_id=provider_id[:64],
            last_error="",
            updated_at=timezone.now(),
        )
        # A status callback may have come before this commit: it waits, and applies now.
        apply_early_status(reminder)
    logger.info("reminder sent", extra={"reminder_id": reminder.pk, "kind": reminder.kind, "channel": reminder.channel})
    return Status.SENT


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
    check and resend, rather than risk a second message.
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
    requeued = len(lost) + len(never_sent)
    if requeued or unknown or landed:
        logger.warning(
            "reminders swept", extra={"requeued": requeued, "unknown_outcome": unknown, "found_sent": landed}
        )
    return {"requeued": requeued, "unknown_outcome": unknown, "found_sent": landed}


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
