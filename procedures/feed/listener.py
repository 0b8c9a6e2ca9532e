"""The MLLP listener: one block in, one ACK out, on `hl7.mllp`'s asyncio server.

Blocks are read by `Blocks` rather than the library's `readblock`, so the bytes of a badly
framed, oversized or half-sent block are kept (and answered) instead of dropped, <FS> alone
ends a block, and idle connections are closed.
Database work runs on a pool of threads (Django's ORM is synchronous), each with its own
database connection, so messages about different appointments, from different connections, are
applied at the same time. Messages about one appointment (or, for ADT, one child) still apply one
at a time in the order they arrived: each waits its turn on that record's key (`Turns`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import close_old_connections, connections
from hl7.mllp import start_hl7_server
from hl7.mllp.streams import CARRIAGE_RETURN, END_BLOCK, START_BLOCK

from . import hl7v2
from .booking import Err, NotTaken
from .intake import max_message_bytes, receive_hl7
from .models import InboundMessage, MessageStatus, Protocol

logger = logging.getLogger(__name__)

# What is kept of a block over the size limit: enough to see what it was and answer it.
KEPT_OF_OVERSIZED = 64 * 1024
CHUNK = 64 * 1024


class Oversized(Exception):
    def __init__(self, head: bytes, size: int) -> None:
        super().__init__(f"{size} bytes")
        self.head, self.size = head, size


class Idle(Exception):
    """Nothing more came for the idle timeout; `partial` is what was sent of an unfinished block."""

    def __init__(self, partial: bytes) -> None:
        super().__init__(f"{len(partial)} bytes pending")
        self.partial = partial


def idle_timeout() -> float:
    return float(getattr(settings, "FEED_MLLP_IDLE_SECONDS", 300))


def db_threads() -> int:
    return max(1, int(getattr(settings, "FEED_MLLP_DB_THREADS", 4)))


class Turns:
    """One queue per key: holders of the same key go one at a time, first come first served
    (asyncio.Lock wakes its waiters in order); other keys do not wait. "" shares no turn."""

    def __init__(self) -> None:
        self.locks: dict[str, tuple[asyncio.Lock, list[int]]] = {}

    @contextlib.asynccontextmanager
    async def of(self, key: str) -> AsyncIterator[None]:
        if not key:
            yield
            return
        lock, holders = self.locks.setdefault(key, (asyncio.Lock(), [0]))
        holders[0] += 1
        try:
            async with lock:
                yield
        finally:
            holders[0] -= 1
            if not holders[0]:
                del self.locks[key]


class Blocks:
    """The blocks of one connection, each up to its <FS>.

    The <CR> after <FS> is optional: some engines leave it out and wait for the ACK, so a block
    is answered as soon as its <FS> arrives, and a <CR> left over is noise before the next <VT>.
    Oversized blocks are drained to their end; a connection that sends nothing for the idle
    timeout, between blocks or in the middle of one, raises Idle.
    """

    def __init__(self, reader: asyncio.StreamReader, *, limit: int, timeout: float) -> None:
        self.reader, self.limit, self.timeout = reader, limit, timeout
        self.buffer = bytearray()
        self.head, self.dropped = b"", 0

    async def next(self) -> bytes:
        while True:
            end = self.buffer.find(END_BLOCK)
            if end >= 0:
                block = bytes(self.buffer[:end])
                del self.buffer[: end + 1]
                if self.buffer[:1] == CARRIAGE_RETURN:
                    del self.buffer[:1]
                if self.dropped:
                    head, size = self.head, self.dropped + len(block)
                    self.head, self.dropped = b"", 0
                    raise Oversized(head, size)
                return block
            if len(self.buffer) > self.limit:
                if not self.dropped:
                    self.head = bytes(self.buffer[:KEPT_OF_OVERSIZED])
                self.dropped += len(self.buffer)
                self.buffer.clear()
            try:
                chunk = await asyncio.wait_for(self.reader.read(CHUNK), self.timeout)
            except TimeoutError:
                raise Idle(self.head or bytes(self.buffer)) from None
            if not chunk:
                raise asyncio.IncompleteReadError(self.head or bytes(self.buffer), None)
            self.buffer += chunk


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
    return hl7v2.ack(_store_rejected(raw, reason, peer), "AR", reason, Err.SEGMENT)


class Listener:
    """Serves MLLP on host:port until stopped; port 0 picks a free one (see `.port`).

    With an `ssl_context` (tls.server_context) every connection is TLS; a client the context
    refuses (no certificate, or one its client CA did not sign) fails the handshake and never
    reaches `connected`, so nothing it sends is read or stored.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 2575, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.host, self.requested_port = host, port
        self.ssl_context = ssl_context
        self.port = 0
        self.threads = db_threads()
        self.executor = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="hl7-db")
        self.turns = Turns()
        self.server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        self.server = await start_hl7_server(
            self.connected, self.host, self.requested_port, limit=CHUNK, ssl=self.ssl_context
        )
        self.port = self.server.sockets[0].getsockname()[1]
        logger.info("hl7 listener started", extra={"port": self.port, "tls": self.ssl_context is not None})

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        # Each thread closes its own database connection: one task each, held until all have run.
        everyone = threading.Barrier(self.threads)

        def close_mine() -> None:
            connections.close_all()
            with contextlib.suppress(threading.BrokenBarrierError):
                everyone.wait(timeout=10)

        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(self.executor, close_mine) for _ in range(self.threads)))
        self.executor.shutdown(wait=True)

    async def db(self, func, *args):
        return await asyncio.get_running_loop().run_in_executor(self.executor, func, *args)

    async def apply(self, message: bytes, peer: str) -> bytes:
        async with self.turns.of(hl7v2.ordering_key(message)):
            return await self.db(_handle, message, peer)

    async def connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = str((writer.get_extra_info("peername") or ("",))[0])
        blocks = Blocks(reader, limit=max_message_bytes() + 1, timeout=idle_timeout())
        try:
            while True:
                try:
                    block = await blocks.next()
                except asyncio.IncompleteReadError as exc:
                    if exc.partial.strip():
                        await self.db(
                            _store_rejected, exc.partial, "The connection closed in the middle of a message.", peer
                        )
                    return
                except Idle as exc:
                    if exc.partial.strip():
                        reason = f"Nothing more came for {idle_timeout():g} s in the middle of a message: closed."
                        await self.db(_store_rejected, exc.partial, reason, peer)
                    logger.info("hl7 connection idle: closed", extra={"peer": peer})
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
                    acks = [await self.db(_reject, block, reason, peer)]
                else:
                    # Anything before <VT> is noise between frames (a stray newline, say). One frame
                    # may hold several messages: each is answered, in order.
                    acks = [await self.apply(message, peer) for message in hl7v2.split_messages(block[start + 1 :])]
                for ack in acks:
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

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, ssl_context: ssl.SSLContext | None = None) -> None:
        super().__init__(daemon=True)
        self.listener = Listener(host, port, ssl_context=ssl_context)
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
