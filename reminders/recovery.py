"""After a lost worker or a lost broker message: ring again what never left, ask about what may have.

The sweep judges a row in flight by who holds it (reminders.leases), not by its
age; the age rule is kept only for rows that carry no lease. `reconcile` asks
each provider that can be asked about hand-overs with no clear answer, oldest
first and each channel on its own, and settles at once, for a nurse, the rows a
provider cannot be asked about.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .channels import OutboxTransport, Sent, transport_for
from .handover import MAX_ATTEMPTS
from .leases import free
from .models import Channel, EarlyStatus, OutboxMessage, Reminder, Status
from .webhooks import PROVIDER as EARLY_PROVIDER
from .webhooks import apply_early_status

logger = logging.getLogger(__name__)

BATCH = 200
# A queued row no worker has taken this long after its doorbell rang: the broker lost the message
# (a flushed or restarted Redis). Ringing again is safe (the lease and the claim are conditional),
# so this is short: with the sweep every SWEEP_SECONDS, such a row goes within a minute.
RING_AGAIN = dt.timedelta(seconds=40)


def _ring(ids: list[int], enqueue: Callable[[int], None], enqueue_many: Callable[[str, list[int]], None] | None):
    if enqueue_many is None:
        for pk in ids:
            enqueue(pk)
        return
    by_channel: dict[str, list[int]] = {}
    for pk, channel in Reminder.objects.filter(pk__in=ids).values_list("pk", "channel"):
        by_channel.setdefault(channel, []).append(pk)
    for channel, channel_ids in by_channel.items():
        enqueue_many(channel, channel_ids)


def sweep(
    *,
    now: dt.datetime | None = None,
    enqueue: Callable[[int], None],
    enqueue_many: Callable[[str, list[int]], None] | None = None,
) -> dict[str, int]:
    """Bring back reminders a lost worker or a lost broker message left behind.

    Queued rows were never handed to a provider: ring again once no live worker
    holds them. Sending rows whose lease ran out may have been: their outcome is
    unknown, so the provider is asked (reconcile) before anything goes again;
    in the outbox, our own table, we can tell. Delivery statuses a stopped worker
    left waiting for their message are applied.
    """
    now = now or timezone.now()
    stale = now - dt.timedelta(minutes=settings.REMINDER_STUCK_MINUTES)
    in_flight = Reminder.objects.filter(status__in=(Status.QUEUED, Status.SENDING))
    # A row with no lease on it is judged by age, as before leases (rows written by an older version).
    unheld = Q(lease_until__isnull=True, updated_at__lt=stale)
    lapsed = Q(lease_until__lt=now)
    lost = list(
        in_flight.filter(
            Q(status=Status.QUEUED) & (lapsed | Q(lease_until__isnull=True, updated_at__lt=now - RING_AGAIN))
        ).values_list("pk", flat=True)[:BATCH]
    )
    if lost:
        Reminder.objects.filter(Q(pk__in=lost, status=Status.QUEUED) & free(now)).update(
            updated_at=now, lease_owner="", lease_until=None
        )
        transaction.on_commit(lambda: _ring(lost, enqueue, enqueue_many))
    dropped = in_flight.filter(Q(status=Status.SENDING) & (lapsed | unheld))
    # The outbox is our own table: there we can tell whether the message went.
    landed = dropped.filter(pk__in=OutboxMessage.objects.values("reminder_id")).update(
        status=Status.SENT, sent_at=now, updated_at=now
    )
    # An outbox row commits together with the move to sent, so a channel kept in
    # the outbox that has no row for it was never handed over: ring again.
    outbox_channels = [channel for channel in Channel.values if transport_for(channel).name == OutboxTransport.name]
    never_sent = list(
        dropped.filter(channel__in=outbox_channels)
        .exclude(pk__in=OutboxMessage.objects.filter(reminder_id__isnull=False).values("reminder_id"))
        .values_list("pk", flat=True)[:BATCH]
    )
    if never_sent:
        Reminder.objects.filter(pk__in=never_sent, status=Status.SENDING).update(
            status=Status.QUEUED, updated_at=now, lease_owner="", lease_until=None
        )
        transaction.on_commit(lambda: _ring(never_sent, enqueue, enqueue_many))
    unknown = dropped.update(
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
# A provider that could not answer (its API down) is asked again after this.
ASK_AGAIN = dt.timedelta(minutes=2)
# What a nurse reads on a row a provider cannot be asked about: the one thing left to do.
CANNOT_ASK = (
    "The mail server stopped answering after it was given this email, and a mail server cannot be asked"
    " afterwards: it may or may not have arrived. Check with the family, then resend if they did not get it."
)


def reconcile(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Ask each provider about its hand-overs with no clear answer, oldest first, and act only on its answer.

    It has the message: sent. It never got it: a definite "not accepted", so
    the row is due again (if still useful). It cannot tell now: asked again
    after ASK_AGAIN. A provider that can never be asked (a mail server): the row
    is settled at once as unknown for the nurse, and never taken again.
    """
    now = now or timezone.now()
    counts = {"found": 0, "not_found": 0, "cannot_tell": 0, "settled": 0}
    unknown = Reminder.objects.filter(status=Status.UNKNOWN, updated_at__lt=now - ASK_AFTER, valid_until__gt=now)
    for channel in Channel.values:
        transport = transport_for(channel)
        rows = unknown.filter(channel=channel)
        if not transport.can_lookup:
            counts["settled"] += rows.filter(checked_at__isnull=True).update(
                last_error=CANNOT_ASK, checked_at=now, updated_at=now
            )
            continue
        due = rows.filter(Q(checked_at__isnull=True) | Q(checked_at__lt=now - ASK_AGAIN)).order_by("updated_at")
        for reminder in due.select_related("guardian__user")[:BATCH]:
            _ask(reminder, transport, now, counts)
    if any(counts.values()):
        logger.info("unknown outcomes checked", extra=counts)
    return counts


def _ask(reminder: Reminder, transport, now: dt.datetime, counts: dict[str, int]) -> None:
    attempt = reminder.delivery_attempts.order_by("-number").first()
    if attempt is None:
        return
    sent = Sent(
        reminder_id=reminder.pk,
        to=attempt.to or _address(reminder),
        body_sha256=attempt.body_sha256,
        started_at=attempt.started_at,
    )
    answer = transport.lookup(sent)
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
                last_error=answer.detail[:300], checked_at=now
            )


def _address(reminder: Reminder) -> str:
    if reminder.address or reminder.guardian is None:
        return reminder.address
    return reminder.guardian.mobile_number if reminder.channel == Channel.SMS else reminder.guardian.user.email
