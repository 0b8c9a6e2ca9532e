#!/usr/bin/env python
"""Benchmark: SIU messages applied per second through the MLLP listener (`manage.py listen_hl7`).

Each engine connection sends messages one after another and waits for each ACK,
as interface engines do; `--connections N` opens N of them at once, each with its own
appointments (a template change at a hospital sends thousands from several). Kinds are
interleaved in rounds, so each rate is measured under the same conditions: a new booking
(S12: child, guardian, invitation, procedure, reminders), a reschedule (S13: change path,
re-planned reminders, change notices) and a resend of that reschedule (recognised, no
change); `--kinds s12` sends bookings only. `--db-threads` sets the listener's
FEED_MLLP_DB_THREADS (1: every message applied on one thread, as before).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/marrow_bench \\
    REDIS_URL=redis://127.0.0.1:6379/2 .venv/bin/python scripts/bench_hl7.py \\
        [--rounds 200] [--connections 1] [--kinds all|s12] [--db-threads 4]

It uses its own database (created if missing) and its own sending system.
Not a test: timings vary with the machine; read them as a whole.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_reminders import ensure_database  # noqa: E402

VT, FS, CR = b"\x0b", b"\x1c", b"\r"

MESSAGE = (
    "MSH|^~\\&|BENCH|BENCHFAC|MARROW|READY|{sent}||SIU^{trigger}^SIU_{trigger}|{control}|P|2.5.1\r"
    "SCH||{filler}||||||||||^^60^{start}\r"
    "PID|1||{mrn}^^^BENCH^MR||Bench^Child{n}||20170612|M\r"
    "NK1|1|Bench^Parent{n}|MTH^Mother||^PRN^CP^^1^312^5550142~^NET^Internet^parent{run}-{n}@example.org\r"
    "RGS|1|A\r"
    "AIS|1|A|BMAB-GA^Aspiration and biopsy|{start}\r"
    "AIL|1|A|BENCH-UNIT|||{start}\r"
)


def ts(at: dt.datetime) -> str:
    return at.strftime("%Y%m%d%H%M%S%z")


def send(sock: socket.socket, text: str) -> bytes:
    sock.sendall(VT + text.encode() + FS + CR)
    data = b""
    while not data.endswith(FS + CR):
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the listener closed the connection")
        data += chunk
    return data


KINDS = ("S12 new booking", "S13 reschedule", "S13 resend")


def engine(port: int, *, run: str, rounds: range, kinds: tuple[str, ...], totals: dict, base: dt.datetime) -> None:
    """One engine connection: its own appointments, each message waiting for its ACK."""
    from django.utils import timezone

    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        for n in rounds:
            values = {"run": run, "n": n, "mrn": f"B{run}{n}", "filler": f"{run}-{n}"}
            sent = timezone.now()
            booking = MESSAGE.format(
                trigger="S12", control=f"{run}-{n}-a", sent=ts(sent), start=ts(base + dt.timedelta(days=3)), **values
            )
            moved = MESSAGE.format(
                trigger="S13",
                control=f"{run}-{n}-b",
                sent=ts(sent + dt.timedelta(seconds=1)),
                start=ts(base + dt.timedelta(days=4)),
                **values,
            )
            for label, text in zip(KINDS, (booking, moved, moved), strict=True):
                if label not in kinds:
                    continue
                began = time.perf_counter()
                ack = send(sock, text)
                elapsed = time.perf_counter() - began
                with totals["lock"]:
                    totals[label] += elapsed
                    totals["count " + label] += 1
                    totals["bad"] += b"MSA|AA|" not in ack


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=200, help="rounds in all, shared among the connections")
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--kinds", choices=("all", "s12"), default="all")
    parser.add_argument("--db-threads", type=int, default=None, help="the listener's FEED_MLLP_DB_THREADS")
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/marrow_bench")
    if not database_url.startswith("postgres"):
        sys.exit("The benchmark needs PostgreSQL (DATABASE_URL=postgres://...).")
    os.environ.update(
        DATABASE_URL=database_url, REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/2"),
        LOG_LEVEL="WARNING", SECRET_KEY=os.environ.get("SECRET_KEY", "benchmark-only-secret"),
        DJANGO_SETTINGS_MODULE="portal.settings",
    )  # fmt: skip
    ensure_database(database_url)

    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from procedures.feed.models import LocationCode, SendingSystem, ServiceCode
    from procedures.models import Location, ProcedureKind, Sedation

    call_command("migrate", verbosity=0)
    clinic, _ = Location.objects.get_or_create(name="Bench clinic", defaults={"phone": "+13125550100"})
    system = SendingSystem.objects.filter(name="Bench engine").first() or SendingSystem.objects.create(
        name="Bench engine", hl7_application="BENCH", hl7_facility="BENCHFAC"
    )
    system.clinics.add(clinic)
    LocationCode.objects.get_or_create(system=system, code="BENCH-UNIT", defaults={"location": clinic})
    ServiceCode.objects.get_or_create(
        system=system, code="BMAB-GA", defaults={"kind": ProcedureKind.BOTH, "sedation": Sedation.GENERAL}
    )

    command = [sys.executable, "manage.py", "listen_hl7", "--host", "127.0.0.1", "--port", "0"]
    env = {**os.environ, **({"FEED_MLLP_DB_THREADS": str(args.db_threads)} if args.db_threads else {})}
    listener = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)  # noqa: S603
    kinds = KINDS if args.kinds == "all" else KINDS[:1]
    totals: dict = {"lock": threading.Lock(), "bad": 0} | dict.fromkeys(KINDS, 0.0) | {f"count {k}": 0 for k in KINDS}
    try:
        port = int(listener.stdout.readline().decode().strip().rsplit(":", 1)[1])
        run = uuid.uuid4().hex[:8]
        base = timezone.localtime(timezone.now()).replace(hour=9, minute=0, second=0, microsecond=0)
        engines = [
            threading.Thread(
                target=engine,
                args=(port,),
                kwargs={
                    "run": run,
                    "rounds": range(c, args.rounds, args.connections),
                    "kinds": kinds,
                    "totals": totals,
                    "base": base,
                },
            )
            for c in range(args.connections)
        ]
        began = time.perf_counter()
        for thread in engines:
            thread.start()
        for thread in engines:
            thread.join()
        wall = time.perf_counter() - began
    finally:
        listener.terminate()
        listener.wait(20)
    threads = args.db_threads or "default"
    print(
        f"{args.rounds} rounds through MLLP on {args.connections} connection(s) at once (listener db threads: "
        f"{threads}), each message waiting for its ACK:"
    )
    for label in kinds:
        count, seconds = totals[f"count {label}"], totals[label]
        print(f"  {label:16} {count / wall:7.1f} messages/s in all  ({seconds / max(count, 1) * 1000:.1f} ms each)")
    sent = sum(totals[f"count {label}"] for label in kinds)
    print(f"  {'all kinds':16} {sent / wall:7.1f} messages/s in {wall:.1f} s; not AA: {totals['bad']}")


if __name__ == "__main__":
    main()
