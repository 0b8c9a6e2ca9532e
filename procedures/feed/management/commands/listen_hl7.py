from __future__ import annotations

import asyncio
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from procedures.feed.listener import Listener


class Command(BaseCommand):
    help = "Listen for HL7 v2 scheduling messages (SIU) over MLLP and apply them."

    def add_arguments(self, parser: CommandParser) -> None:
        # Loopback unless told otherwise: an engine on another host needs FEED_MLLP_HOST or --host.
        parser.add_argument("--host", default=getattr(settings, "FEED_MLLP_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=2575)

    def handle(self, *args: Any, host: str, port: int, **options: Any) -> None:
        asyncio.run(self.serve(host, port))

    async def serve(self, host: str, port: int) -> None:
        listener = Listener(host, port)
        await listener.start()
        self.stdout.write(f"Listening for HL7 over MLLP on {host}:{listener.port}")
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopping.set)
        await stopping.wait()
        await listener.stop()
