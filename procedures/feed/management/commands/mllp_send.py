from __future__ import annotations

import io
import socket
import ssl
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from hl7.client import read_loose, read_stream
from hl7.mllp.streams import CARRIAGE_RETURN, END_BLOCK, START_BLOCK

from procedures.feed import tls


class Command(BaseCommand):
    help = (
        "Send the HL7 messages of a file (or stdin) to an MLLP listener, one at a time, printing each ACK: "
        "python-hl7's mllp_send, with MLLP over TLS and client certificates."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("host")
        parser.add_argument("-p", "--port", type=int, default=2575)
        parser.add_argument("-f", "--file", help="read from FILE instead of stdin")
        parser.add_argument(
            "--loose", action="store_true", help="messages separated by new lines, each beginning MSH|^~\\&|"
        )
        parser.add_argument("--timeout", type=float, default=30, help="seconds to wait for each ACK")
        parser.add_argument("--tls", action="store_true", help="MLLP over TLS, the listener checked by the system CAs")
        parser.add_argument(
            "--tls-ca", default="", help="PEM CA the listener's certificate must chain to (implies --tls)"
        )
        parser.add_argument("--tls-cert", default="", help="PEM client certificate, for a listener that asks for one")
        parser.add_argument("--tls-key", default="", help="PEM key of the client certificate, if not in that file")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["loose"] and not options["file"]:
            raise CommandError("--loose needs --file.")
        if options["file"]:
            with open(options["file"], "rb") as handle:
                stream = io.BytesIO(handle.read())
        else:
            stream = sys.stdin.buffer
        messages = read_loose(stream) if options["loose"] else read_stream(stream)
        use_tls = options["tls"] or bool(options["tls_ca"] or options["tls_cert"])
        try:
            connection = socket.create_connection((options["host"], options["port"]), timeout=options["timeout"])
            if use_tls:
                context = tls.client_context(ca=options["tls_ca"], cert=options["tls_cert"], key=options["tls_key"])
                connection = context.wrap_socket(connection, server_hostname=options["host"])
        except (OSError, ssl.SSLError) as exc:
            raise CommandError(f"Cannot connect to {options['host']}:{options['port']}: {exc}") from exc
        acks = _Acks(connection)
        with connection:
            for message in messages:
                try:
                    connection.sendall(START_BLOCK + message + END_BLOCK + CARRIAGE_RETURN)
                    ack = acks.next()
                except (OSError, ssl.SSLError) as exc:
                    raise CommandError(f"No acknowledgement: {exc}") from exc
                # As python-hl7's mllp_send prints it: the ACK as sent (segments end in <CR>), one per line.
                self.stdout.write(ack.decode("utf-8", "backslashreplace"))


class _Acks:
    """The ACK blocks a listener answers on one connection, each up to its <FS>."""

    def __init__(self, connection: socket.socket) -> None:
        self.connection, self.buffer = connection, b""

    def next(self) -> bytes:
        while END_BLOCK not in self.buffer:
            chunk = self.connection.recv(65536)
            if not chunk:
                raise ConnectionError("the listener closed the connection before an acknowledgement")
            self.buffer += chunk
        block, _, self.buffer = self.buffer.partition(END_BLOCK)
        return block.lstrip(CARRIAGE_RETURN + b"\n").lstrip(START_BLOCK)
