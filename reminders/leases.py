"""Who holds a reminder in flight, and until when: a lease a live worker renews.

A send task takes a lease on the queued rows it was given (its worker's identity
and an expiry) before anything else, and renews it while it waits for a provider
slot and between its rounds of calls; an expired lease is the only sign that a
worker stopped. The sweeper (reminders.recovery) reads it so:

- queued, held by a live lease: a worker is on it (waiting for its turn), leave it;
- queued, lease expired: the worker stopped before claiming it: ring again, at once;
- sending, lease live: the call is under way or about to be made, however long ago it began;
- sending, lease expired: the call may have started: the outcome is unknown.

A row is moved to sending in the commit just before its call to the provider (the
only step between is taking the procedure's share lock), so "sending" is the
durable mark that a call may have started; rows still waiting their turn stay queued.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from . import slots
from .models import Reminder, Status


def length() -> dt.timedelta:
    """REMINDER_LEASE_SECONDS, or as long as a provider slot's lease: the slowest call the timeouts allow, and more.

    It must outlast one round of calls, the longest a live worker goes without renewing.
    """
    return dt.timedelta(seconds=settings.REMINDER_LEASE_SECONDS or slots.lease_seconds())


def free(now: dt.datetime) -> Q:
    """Rows no live worker holds."""
    return Q(lease_until__isnull=True) | Q(lease_until__lt=now)


class Holder:
    """One send task's lease on its rows, named for the worker process that holds it."""

    def __init__(self) -> None:
        self.owner = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self.renewed_at: dt.datetime | None = None

    def take(self, reminder_ids: list[int]) -> list[int]:
        """The queued rows among these that no live worker holds, now held by this one."""
        now = timezone.now()
        # One conditional UPDATE: of two tasks given the same row (a doorbell rung twice), one gets it.
        Reminder.objects.filter(Q(pk__in=reminder_ids, status=Status.QUEUED) & free(now)).update(
            lease_owner=self.owner, lease_until=now + length()
        )
        self.renewed_at = now
        return list(self.held().filter(pk__in=reminder_ids).values_list("pk", flat=True))

    def held(self):
        return Reminder.objects.filter(lease_owner=self.owner, status__in=(Status.QUEUED, Status.SENDING))

    def renew(self, *, force: bool = False) -> None:
        """Push the expiry on, at most every third of a lease unless forced (it is one indexed UPDATE)."""
        now = timezone.now()
        if not force and self.renewed_at is not None and now - self.renewed_at < length() / 3:
            return
        self.held().update(lease_until=now + length())
        self.renewed_at = now

    def release(self) -> None:
        """Rows this task gave up without sending (a message that could not be written) go back to the sweep."""
        self.held().filter(status=Status.QUEUED).update(lease_owner="", lease_until=None)
