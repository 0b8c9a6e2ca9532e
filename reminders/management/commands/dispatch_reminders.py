from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from reminders import dispatch, recovery
from reminders.tasks import enqueue, enqueue_many


class Command(BaseCommand):
    help = "Queue due reminders for the workers (what beat runs), once or in a loop."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="One dispatch pass, then exit.")
        parser.add_argument(
            "--send-here",
            action="store_true",
            help="Send in this process instead of through the workers (for operations without a worker).",
        )

    def handle(self, *args: Any, once: bool, send_here: bool, **options: Any) -> None:
        ring = dispatch.send if send_here else enqueue
        while True:
            swept = recovery.sweep(enqueue=ring)
            # Through the workers: one task per batch of a channel, as beat's dispatcher does.
            ids = dispatch.claim_due(enqueue=ring) if send_here else dispatch.claim_due(enqueue_many=enqueue_many)
            self.stdout.write(f"Queued {len(ids)} reminder(s); requeued {swept['requeued']}.")
            if once:
                return
            time.sleep(settings.DISPATCH_SECONDS)
