from __future__ import annotations

from celery import shared_task
from django.db.models import F
from django.utils import timezone

from .models import Heartbeat


def record_heartbeat(name: str = "beat") -> Heartbeat:
    now = timezone.now()
    updated = Heartbeat.objects.filter(name=name).update(last_beat_at=now, beats=F("beats") + 1)
    if not updated:
        Heartbeat.objects.get_or_create(name=name, defaults={"last_beat_at": now, "beats": 1})
    return Heartbeat.objects.get(name=name)


@shared_task(name="portal.tasks.heartbeat", ignore_result=True)
def heartbeat(name: str = "beat") -> None:
    record_heartbeat(name)
