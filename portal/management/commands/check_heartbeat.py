"""Exit 1 when a heartbeat row is older than it should be: for container health checks.

`celery inspect ping` answers even while every worker process is stuck on a hung
provider; a heartbeat that went through the worker's own queue does not.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from portal.models import Heartbeat


class Command(BaseCommand):
    help = "Fail when the named heartbeat is stale (e.g. 'beat', 'queue:celery-sms')."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--max-age", type=int, default=180, help="Seconds (default 180).")

    def handle(self, *args: Any, name: str, max_age: int, **options: Any) -> None:
        cutoff = timezone.now() - dt.timedelta(seconds=max_age)
        if not Heartbeat.objects.filter(name=name, last_beat_at__gte=cutoff).exists():
            raise CommandError(f"heartbeat {name!r} is older than {max_age} s")
        self.stdout.write(f"heartbeat {name!r} is fresh")
