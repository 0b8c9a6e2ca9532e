"""Messages about different appointments, from different connections, are applied at the same time;
messages about one appointment still one at a time, in the order they arrived."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from procedures.feed import hl7v2, listener
from procedures.feed.listener import ListenerThread, Turns
from procedures.models import Procedure

from . import corpus
from .conftest import Engine, msa
from .test_hl7_listener import siu


def _run(scenario):
    """asyncio.run on a thread of its own: a browser test before this one on the same worker can leave
    an event loop running in the main thread (Playwright's sync API), where asyncio.run refuses."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(scenario())).result(timeout=60)


def test_one_key_goes_one_at_a_time_in_arrival_order_and_other_keys_do_not_wait():
    async def scenario() -> list[str]:
        turns, done = Turns(), []
        first_in = asyncio.Event()
        release = asyncio.Event()

        async def holder(name: str, key: str, *, hold: bool = False) -> None:
            async with turns.of(key):
                done.append(f"{name} in")
                if hold:
                    first_in.set()
                    await release.wait()
                done.append(f"{name} out")

        a = asyncio.create_task(holder("a", "siu:F1", hold=True))
        await first_in.wait()
        b = asyncio.create_task(holder("b", "siu:F1"))
        c = asyncio.create_task(holder("c", "siu:F1"))
        other = asyncio.create_task(holder("other", "siu:F2"))
        unkeyed = asyncio.create_task(holder("unkeyed", ""))
        await asyncio.gather(other, unkeyed)  # while a still holds F1
        release.set()
        await asyncio.gather(a, b, c)
        assert not turns.locks  # nothing kept once no one waits
        return done

    assert _run(scenario) == [
        "a in",
        "other in",
        "other out",
        "unkeyed in",
        "unkeyed out",
        "a out",
        "b in",
        "b out",
        "c in",
        "c out",
    ]


def test_the_ordering_key_names_the_sender_and_the_appointment_or_the_child():
    epic = siu(corpus.EPIC_S12, control="K1", filler="A77").encode()
    assert hl7v2.ordering_key(epic) == "EPIC^LAKESIDE|SCH-2|A77"
    placer_only = corpus.fill(
        corpus.COREPOINT_SIU,
        sent_min="202612080101",
        start_min="202612100900",
        trigger="S12",
        control="K2",
        placer="PL9",
        mrn="M1",
        email="x@example.org",
        status="Booked",
    ).encode()
    assert hl7v2.ordering_key(placer_only) == "GPMS^CTX|SCH-1|PL9"
    adt = corpus.fill(corpus.EPIC_A08, control="K3", mrn="E12345", first="Mateo", sent="20261208010000").encode()
    assert hl7v2.ordering_key(adt) == "EPIC^LAKESIDE|PID-3|E12345"
    assert hl7v2.ordering_key(b"not hl7") == ""
    assert hl7v2.ordering_key(b"MSH|^~\\&|X|Y|||20261208||ORU^R01|1|P|2.5\rOBX|1") == ""


class _Meeting:
    """Wraps the listener's database work: each message waits (a while) for another to be in it at the same time."""

    def __init__(self, real) -> None:
        self.real = real
        self.barrier = threading.Barrier(2, timeout=3)
        self.met = 0
        self.lock = threading.Lock()

    def __call__(self, raw: bytes, peer: str) -> bytes:
        try:
            self.barrier.wait()
            with self.lock:
                self.met += 1
        except threading.BrokenBarrierError:
            pass
        return self.real(raw, peer)


@pytest.fixture
def meeting(monkeypatch) -> _Meeting:
    wrapped = _Meeting(listener._handle)
    monkeypatch.setattr(listener, "_handle", wrapped)
    return wrapped


def _two_connections_at_once(port: int, first: str, second: str) -> list[list[str]]:
    engines = [Engine(port), Engine(port)]
    try:
        with ThreadPoolExecutor(2) as pool:
            acks = list(pool.map(lambda pair: msa(pair[0].send(pair[1])), zip(engines, (first, second), strict=True)))
    finally:
        for engine in engines:
            engine.close()
    return acks


def test_different_appointments_from_two_connections_are_applied_at_the_same_time(epic, settings, meeting):
    settings.FEED_MLLP_DB_THREADS = 4
    thread = ListenerThread()
    thread.start()
    try:
        acks = _two_connections_at_once(
            thread.port,
            siu(corpus.EPIC_S12, control="P1", filler="A1", mrn="M1"),
            siu(corpus.EPIC_S12, control="P2", filler="A2", mrn="M2"),
        )
    finally:
        thread.stop()
    assert [ack[0] for ack in acks] == ["AA", "AA"]
    assert meeting.met == 2  # both were being applied at once: one thread would have left each waiting alone
    assert Procedure.objects.count() == 2


def test_one_appointment_from_two_connections_is_applied_one_message_at_a_time(epic, settings, meeting):
    settings.FEED_MLLP_DB_THREADS = 4
    thread = ListenerThread()
    thread.start()
    try:
        acks = _two_connections_at_once(
            thread.port,
            siu(corpus.EPIC_S12, control="Q1", filler="A1"),
            siu(corpus.EPIC_S14, control="Q2", filler="A1"),
        )
    finally:
        thread.stop()
    assert [ack[0] for ack in acks] == ["AA", "AA"]
    assert meeting.met == 0  # never in at the same time
    assert Procedure.objects.count() == 1
