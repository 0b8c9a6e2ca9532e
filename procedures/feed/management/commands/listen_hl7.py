from __future__ import annotations

import asyncio
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from procedures.feed import tls
from procedures.feed.listener import Listener


class Command(BaseCommand):
    help = "Listen for HL7 v2 scheduling messages (SIU) over MLLP, or MLLP over TLS, and apply them."

    def add_arguments(self, parser: CommandParser) -> None:
        # Loopback unless told otherwise: an engine on another host needs FEED_MLLP_HOST or --host.
        parser.add_argument("--host", default=getattr(settings, "FEED_MLLP_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=2575)
        parser.add_argument(
            "--tls-cert",
            default=getattr(settings, "FEED_MLLP_TLS_CERT", ""),
            help="PEM certificate (and chain) of this listener: MLLP over TLS. Default FEED_MLLP_TLS_CERT.",
        )
        parser.add_argument(
            "--tls-key",
            default=getattr(settings, "FEED_MLLP_TLS_KEY", ""),
            help="PEM private key, when not in the certificate file. Default FEED_MLLP_TLS_KEY.",
        )
        parser.add_argument(
            "--tls-client-ca",
            default=getattr(settings, "FEED_MLLP_TLS_CLIENT_CA", ""),
            help="PEM CA certificate(s): only engines with a certificate they signed may connect. "
            "Default FEED_MLLP_TLS_CLIENT_CA.",
        )

    def handle(
        self, *args: Any, host: str, port: int, tls_cert: str, tls_key: str, tls_client_ca: str, **options: Any
    ) -> None:
        context = tls.from_settings(cert=tls_cert, key=tls_key, client_ca=tls_client_ca)
        asyncio.run(self.serve(host, port, context, client_certificates=bool(tls_client_ca)))

    async def serve(self, host: str, port: int, context: Any, *, client_certificates: bool = False) -> None:
        listener = Listener(host, port, ssl_context=context)
        await listener.start()
        if context is None:
            self.stdout.write(f"Listening for HL7 over MLLP on {host}:{listener.port}")
        else:
            clients = "client certificate required" if client_certificates else "no client certificate asked for"
            self.stdout.write(f"Listening for HL7 over MLLP with TLS ({clients}) on {host}:{listener.port}")
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopping.set)
        await stopping.wait()
        await listener.stop()
