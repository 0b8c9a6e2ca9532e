"""Demo only: play the reminders of the next hours as if the clock had moved on."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.test.utils import override_settings
from django.utils import timezone

from reminders import dispatch
from reminders.models import Reminder, Status

# `make run` writes the address it serves here; a second terminal does not share its PORT or SITE_URL.
SERVED_AT = Path(settings.BASE_DIR) / "var" / "site-url"


def served_site_url() -> str:
    """SITE_URL when set; else the address the last `make run` served (its PORT); else the settings' default."""
    if "SITE_URL" not in os.environ and SERVED_AT.is_file():
        return SERVED_AT.read_text().strip().rstrip("/") or settings.SITE_URL
    return settings.SITE_URL


class Command(BaseCommand):
    help = "Send every reminder due in the next N hours, each stamped with its own due time (DEBUG only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--hours", type=float, default=48.0)

    def handle(self, *args: Any, hours: float, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("fast_forward_reminders is for demos: it refuses to run when DEBUG is off.")
        if not 0 < hours <= 24 * 14:
            raise CommandError("--hours must be between 0 and 336.")
        with override_settings(SITE_URL=served_site_url()):
            self._play(timezone.now() + dt.timedelta(hours=hours))
        self.stdout.write(self.style.SUCCESS("Done. Open /nurse/outbox/ to read the messages."))

    def _play(self, until: dt.datetime) -> None:
        self.stdout.write(f"Links point to {settings.SITE_URL}")
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
