"""Can each channel deliver? What an operations team needs to know, read from the database alone.

A heartbeat through a channel's queue proves a worker takes work; it says nothing
of the provider behind it (a mail server that accepts connections and never
answers leaves the heartbeat fresh). So each channel is judged by what its
messages show: how many are due and not handed over, how late the oldest of them
is, and what the provider did with the calls of the last minutes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Min, Q
from django.utils import timezone

from .models import AttemptOutcome, Channel, DeliveryAttempt, Reminder, Status

# The calls judged: those that started in the last WINDOW.
WINDOW = dt.timedelta(minutes=10)
# So many calls in the window with not one accepted: the provider is down, refusing or timing out.
FAILED_CALLS = 3
# The oldest due message later than this: families are told late.
LATE = dt.timedelta(minutes=5)
BACKLOG_STATUSES = (Status.QUEUED, Status.SENDING)


@dataclass(frozen=True)
class ChannelHealth:
    channel: str
    backlog: int  # due and not yet handed over
    oldest_late_seconds: float  # how late the oldest of them is (0 with none)
    calls: int  # calls to the provider that started in the window and have ended
    accepted: int  # of which the provider took
    failed: int  # of which it refused, failed or left without an answer
    hanging: int  # calls started in the window with no end yet

    @property
    def cannot_deliver(self) -> bool:
        return self.accepted == 0 and self.failed + self.hanging >= FAILED_CALLS

    @property
    def late(self) -> bool:
        return self.oldest_late_seconds > LATE.total_seconds()

    @property
    def summary(self) -> str:
        """'ok', or what is wrong, in words for the operations team."""
        problems = []
        if self.cannot_deliver:
            problems.append(
                f"cannot deliver: {self.failed + self.hanging} calls in the last {WINDOW.seconds // 60} min"
                " and none accepted (provider unreachable, refusing or timing out)"
            )
        if self.late:
            problems.append(f"oldest due message {int(self.oldest_late_seconds // 60)} min late")
        if problems and self.backlog:
            problems.append(f"{self.backlog} waiting")
        return "; ".join(problems) or "ok"


def channels(*, now: dt.datetime | None = None) -> dict[str, ChannelHealth]:
    """Every channel's health: three queries in all, each served by an index."""
    now = now or timezone.now()
    due = _by_channel(Reminder.objects.due(now))
    waiting = _by_channel(Reminder.objects.filter(status__in=BACKLOG_STATUSES))
    calls = {
        row["reminder__channel"]: row
        for row in DeliveryAttempt.objects.filter(started_at__gte=now - WINDOW)
        .exclude(outcome=AttemptOutcome.WITHDRAWN)
        .values("reminder__channel")
        .annotate(
            ended=Count("pk", filter=~Q(outcome=AttemptOutcome.PENDING)),
            accepted=Count("pk", filter=Q(outcome=AttemptOutcome.SUCCESS)),
            hanging=Count("pk", filter=Q(outcome=AttemptOutcome.PENDING)),
        )
    }
    found = {}
    for channel in Channel.values:
        (n_due, oldest_due), (n_waiting, oldest_waiting) = due.get(channel, (0, None)), waiting.get(channel, (0, None))
        oldest = min((at for at in (oldest_due, oldest_waiting) if at is not None), default=None)
        row = calls.get(channel, {"ended": 0, "accepted": 0, "hanging": 0})
        found[channel] = ChannelHealth(
            channel=channel,
            backlog=n_due + n_waiting,
            oldest_late_seconds=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
            calls=row["ended"],
            accepted=row["accepted"],
            failed=row["ended"] - row["accepted"],
            hanging=row["hanging"],
        )
    return found


def _by_channel(rows) -> dict[str, tuple[int, dt.datetime]]:
    """{channel: (how many, the earliest due time)}."""
    counted = rows.values_list("channel").annotate(n=Count("pk"), oldest=Min("due_at"))
    return {channel: (n, oldest) for channel, n, oldest in counted.values_list("channel", "n", "oldest")}


def report(**_kwargs: object) -> dict[str, str]:
    """For /healthz (portal.events.health): each channel 'ok' or what is wrong."""
    return {f"channel {name}": health.summary for name, health in channels().items()}
