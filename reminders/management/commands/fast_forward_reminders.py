"""Demo only: play the reminders of the next hours as if the clock had moved on."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from reminders import dispatch
from reminders.models import Reminder, Status


class Command(BaseCommand):
    help = "Send every reminder due in the next N hours, each stamped with its own due time (DEBUG only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--hours", type=float, default=48.0)

    def handle(self, *args: Any, hours: float, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("fast_forward_reminders is for demos: it refuses to run when DEBUG is off.")
        if not 0 < hours <= 24 * 14:
            raise CommandError("--hours must be between 0 and 336.")
        until = timezone.now() + dt.timedelta(hours=hours)
        while True:
            upcoming = Reminder.objects.filter(status=Status.SCHEDULED, due_at__lte=until).order_by("due_at").first()
            if upcoming is None:
                break
            moment = upcoming.due_at
            for pk in dispatch.claim_due(now=moment, enqueue=lambda pk: None):
                status = dispatch.send(pk, now=moment)
                reminder = Reminder.objects.get(pk=pk)
                local = moment.astimezone(reminder.procedure.location.tz)
                self.stdout.write(f"{local:%a %d %b %H:%M %Z}  {reminder.kind:<20} {reminder.channel:<5} {status}")
        self.stdout.write(self.style.SUCCESS("Done. Open /nurse/outbox/ to read the messages."))
