"""What the database says about delivery, as Prometheus metrics (read at each scrape; see portal.metrics).

Every figure is one grouped query served by an index: the reminders in flight or
in trouble by channel, the calls of the last minutes by outcome and how long they
took, how late the due messages are, each send queue's depth in Redis, and the
record-system messages waiting.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.conf import settings
from django.db.models import Count
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from portal import redis_guard
from procedures.feed.models import InboundMessage, MessageStatus

from . import health
from .models import PROBLEM_STATUSES, AttemptOutcome, Channel, DeliveryAttempt, Reminder, Status

CALL_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30)
LATE_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800)


def _histogram(
    name: str, doc: str, buckets: tuple[float, ...], values: dict[str, list[float]]
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, doc, labels=["channel"])
    for channel in Channel.values:
        seen = values.get(channel, [])
        counts = [sum(1 for v in seen if v <= bound) for bound in buckets]
        family.add_metric(
            [channel], [*((str(b), c) for b, c in zip(buckets, counts, strict=True)), ("+Inf", len(seen))], sum(seen)
        )
    return family


class DeliveryCollector(Collector):
    def collect(self) -> Iterator[object]:
        now = timezone.now()
        found = health.channels(now=now)
        backlog = GaugeMetricFamily("marrow_reminders_waiting", "Due and not yet handed over.", labels=["channel"])
        late = GaugeMetricFamily(
            "marrow_reminders_oldest_late_seconds", "How late the oldest due message is.", labels=["channel"]
        )
        down = GaugeMetricFamily(
            "marrow_channel_cannot_deliver", "1 when the provider took none of the recent calls.", labels=["channel"]
        )
        for channel, state in found.items():
            backlog.add_metric([channel], state.backlog)
            late.add_metric([channel], state.oldest_late_seconds)
            down.add_metric([channel], 1 if state.cannot_deliver else 0)
        yield from (backlog, late, down)

        in_trouble = GaugeMetricFamily(
            "marrow_reminders", "Reminders in flight or needing a nurse, by status.", labels=["channel", "status"]
        )
        statuses = (Status.QUEUED, Status.SENDING, *PROBLEM_STATUSES)
        counted = dict.fromkeys(((c, s.value) for c in Channel.values for s in statuses), 0)
        rows = Reminder.objects.filter(status__in=statuses).values_list("channel", "status").annotate(n=Count("pk"))
        counted.update({(channel, status): n for channel, status, n in rows})
        for (channel, status), n in counted.items():
            in_trouble.add_metric([channel, status], n)
        yield in_trouble

        since = now - health.WINDOW
        recent = DeliveryAttempt.objects.filter(started_at__gte=since).select_related(None)
        calls = GaugeMetricFamily(
            "marrow_provider_calls_recent",
            f"Calls to the provider that started in the last {health.WINDOW.seconds // 60} minutes, by outcome.",
            labels=["channel", "outcome"],
        )
        outcomes = dict.fromkeys(((c, o.value) for c in Channel.values for o in AttemptOutcome), 0)
        for channel, outcome, n in (
            recent.values_list("reminder__channel", "outcome")
            .annotate(n=Count("pk"))
            .values_list("reminder__channel", "outcome", "n")
        ):
            outcomes[(channel, outcome)] = n
        for (channel, outcome), n in outcomes.items():
            calls.add_metric([channel, outcome], n)
        yield calls

        took: dict[str, list[float]] = {}
        lateness: dict[str, list[float]] = {}
        timed = recent.filter(finished_at__isnull=False).exclude(outcome=AttemptOutcome.WITHDRAWN)
        for channel, started, finished, due in timed.values_list(
            "reminder__channel", "started_at", "finished_at", "reminder__due_at"
        )[:20000]:
            took.setdefault(channel, []).append((finished - started).total_seconds())
            lateness.setdefault(channel, []).append(max(0.0, (started - due).total_seconds()))
        yield _histogram(
            "marrow_provider_call_seconds", "How long the recent calls to the provider took.", CALL_BUCKETS, took
        )
        yield _histogram(
            "marrow_reminder_lateness_seconds",
            "How long after its due time each recent message was handed over.",
            LATE_BUCKETS,
            lateness,
        )

        depth = GaugeMetricFamily("marrow_queue_depth", "Messages waiting in each Celery queue.", labels=["queue"])
        if settings.REDIS_URL:
            client = redis_guard.client(settings.REDIS_URL)
            for queue in (settings.CELERY_TASK_DEFAULT_QUEUE, *settings.SEND_QUEUES.values()):
                length = redis_guard.attempt(lambda queue=queue: client.llen(queue), None)
                if length is not None:
                    depth.add_metric([queue], length)
        yield depth

        feed = GaugeMetricFamily(
            "marrow_feed_messages_waiting", "Record-system messages not applied yet, by status.", labels=["status"]
        )
        waiting = dict.fromkeys(
            (MessageStatus.RECEIVED.value, MessageStatus.FAILED.value, MessageStatus.REJECTED.value), 0
        )
        waiting.update(
            InboundMessage.objects.filter(status__in=list(waiting))
            .values_list("status")
            .annotate(n=Count("pk"))
            .values_list("status", "n")
        )
        for status, n in waiting.items():
            feed.add_metric([status], n)
        yield feed


COLLECTOR = DeliveryCollector()
