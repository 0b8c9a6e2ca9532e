"""The MLLP listener: one block in, one ACK out, on `hl7.mllp`'s asyncio server.

Blocks are read with the stream's `readuntil` rather than the library's `readblock`, so the
bytes of a badly framed or oversized block are kept (and answered) instead of dropped.
Database work runs on one thread of its own: Django's ORM is synchronous.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from django.db import close_old_connections, connections
from hl7.mllp import start_hl7_server
from hl7.mllp.streams import CARRIAGE_RETURN, END_BLOCK, START_BLOCK

from . import hl7v2
from .booking import NotTaken
from .intake import max_message_bytes, receive_hl7
from .models import InboundMessage, MessageStatus, Protocol

logger = logging.getLogger(__name__)

SEPARATOR = END_BLOCK + CARRIAGE_RETURN
# What is kept of a block over the size limit: enough to see what it was and answer it.
KEPT_OF_OVERSIZED = 64 * 1024


class Oversized(Exception):
    def __init__(self, head: bytes, size: int) -> None:
        super().__init__(f"{size} bytes")
        self.head, self.size = head, size


async def read_block(reader: asyncio.StreamReader) -> bytes:
    """The next block up to <FS><CR>, separator removed. Oversized blocks are drained to their end."""
    head, size = b"", 0
    while True:
        try:
            block = await reader.readuntil(SEPARATOR)
        except asyncio.LimitOverrunError as exc:
            chunk = await reader.readexactly(exc.consumed)
            head, size = (head + chunk)[:KEPT_OF_OVERSIZED], size + len(chunk)
            continue
        if size:
            raise Oversized(head, size + len(block))
        return block[: -len(SEPARATOR)]


def _store_rejected(raw: bytes, reason: str, peer: str) -> hl7v2.Header:
    close_old_connections()
    try:
        header = hl7v2.read_header(raw)
    except NotTaken:
        header = hl7v2.Header()
    InboundMessage.objects.create(
        protocol=Protocol.HL7,
        raw=raw,
        peer=peer[:64],
        control_id=header.control_id[:199],
        message_type=header.type_name[:20],
        status=MessageStatus.REJECTED,
        reason=reason,
        attempts=1,
    )
    return header


def _handle(raw: bytes, peer: str) -> bytes:
    close_old_connections()
    return receive_hl7(raw, peer=peer)


def _reject(raw: bytes, reason: str, peer: str) -> bytes:
    return hl7v2.ack(_store_rejected(raw, reason, peer), "AR", reason)


class Listener:
    """Serves MLLP on host:port until stopped; port 0 picks a free one (see `.port`)."""

    def __init__(self, host: str = "0.0.0.0", port: int = 2575) -> None:  # noqa: S104 - a server listens
        self.host, self.requested_port = host, port
        self.port = 0
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hl7-db")
        self.server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        self.server = await start_hl7_server(
            self.connected, self.host, self.requested_port, limit=max_message_bytes() + len(SEPARATOR)
        )
        self.port = self.server.sockets[0].getsockname()[1]
        logger.info("hl7 listener started", extra={"port": self.port})

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        await asyncio.get_running_loop().run_in_executor(self.executor, connections.close_all)
        self.executor.shutdown(wait=True)

    async def db(self, func, *args):
        return await asyncio.get_running_loop().run_in_executor(self.executor, func, *args)

    async def connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = str((writer.get_extra_info("peername") or ("",))[0])
        try:
            while True:
                try:
                    block = await read_block(reader)
                except asyncio.IncompleteReadError as exc:
                    if exc.partial.strip():
                        await self.db(
                            _store_rejected, exc.partial, "The connection closed in the middle of a message.", peer
                        )
                    return
                except Oversized as exc:
                    reason = (
                        f"The message is over {max_message_bytes():,} bytes ({exc.size:,}); only its start is kept."
                    )
                    writer.writeblock(await self.db(_reject, exc.head.lstrip(START_BLOCK), reason, peer))
                    await writer.drain()
                    continue
                start = block.find(START_BLOCK)
                if start < 0:
                    reason = "Not MLLP framing: a message must begin with <VT> (0x0B) and end with <FS><CR>."
                    ack = await self.db(_reject, block, reason, peer)
                else:
                    # Anything before <VT> is noise between frames (a stray newline, say).
                    ack = await self.db(_handle, block[start + 1 :], peer)
                writer.writeblock(ack)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            return
        except Exception:
            # Most likely the database is away: no ACK, so the engine sends the message again.
            logger.exception("hl7 connection dropped", extra={"peer": peer})
        finally:
            writer.close()


class ListenerThread(threading.Thread):
    """A listener on its own event loop in a thread: for tests and the benchmark."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(daemon=True)
        self.listener = Listener(host, port)
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()

    @property
    def port(self) -> int:
        return self.listener.port

    def run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.listener.start())
        self.ready.set()
        self.loop.run_forever()

    def start(self) -> None:
        super().start()
        if not self.ready.wait(10):
            raise RuntimeError("the HL7 listener did not start")

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.listener.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.join(10)
