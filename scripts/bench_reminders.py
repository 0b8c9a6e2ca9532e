#!/usr/bin/env python
"""Benchmark: N reminders due at the same moment, through the path production runs.

Real celery beat (the database scheduler, the beat schedule in portal/settings.py)
runs the dispatch task; real worker processes of the project's Celery app claim,
render and hand over. The channel: the outbox transport (each hand-over a row
committed with the move to sent), or with `--provider twilio` texts only, through
the Twilio transport to a fake Twilio API in this process. Like the real API it
serves each request on its own thread and takes a moment to answer: by default
40-80 ms a request (`--provider-latency LOW-HIGH`, in milliseconds, spread evenly;
`0` answers at once): the fast end of what an API across the network takes; a
slower provider only makes waiting on it matter more.
The benchmark only seeds and watches:

1. a no-op round: `--noop` tasks (Celery's built-in `celery.accumulate`) through
   the same worker on the same Redis, timed until the queue is empty and nothing
   is left unacknowledged;
2. a reminder round: procedures booked through procedures.services (which plans
   their reminders), then each planned reminder copied as a resend until there
   are `--count`; all made due at one moment a few seconds ahead; the benchmark
   polls the outbox and stamps each hand-over when it becomes visible (or the
   fake Twilio stamps each text it is given).

Rounds alternate (no-op, reminders, no-op, reminders ...) so the ratio compares
the same minutes of a shared machine. Reported per round and as medians:
lateness (hand-over seen minus due) p50/p99/max, throughput, duplicates (more
than one hand-over for a reminder), losses (no hand-over), and the ratio of the
reminder rate to the no-op rate. Per round, from the due moment to the last
hand-over: the CPU the worker's processes used (in cores: 2.00 is both processes
busy all the time) and how busy the whole machine was, which tells a send
worker held up by waiting (on the provider, the database) from one short of CPU.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/marrow_rem_bench \\
    REDIS_URL=redis://127.0.0.1:6379/7 .venv/bin/python scripts/bench_reminders.py \\
        [--count 10000] [--concurrency 2] [--rounds 3] [--noop 5000] [--provider twilio]
        [--provider-latency 40-80]

It flushes its own database first (created if missing) and uses the queues
bench, bench-sms and bench-email. Not a test: timings vary with the machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from scripts.benchdb import ensure_database  # noqa: E402 - once the project is on the path

QUEUE = "bench"
QUEUES = (QUEUE, f"{QUEUE}-sms", f"{QUEUE}-email")


class FakeTwilio(BaseHTTPRequestHandler):
    """Twilio's Messages API: takes each text after its latency and notes when it answered."""

    protocol_version = "HTTP/1.1"  # keeps the connection open after answering, as Twilio does
    # The answer goes out as soon as it is written, as a web server sends it: with Nagle's algorithm
    # on, the body would wait for the client to acknowledge the headers (up to 40 ms of delayed ACK).
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        fields = urllib.parse.parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        low, high = self.server.latency
        with self.server.lock:
            self.server.in_flight += 1
            self.server.most_in_flight = max(self.server.most_in_flight, self.server.in_flight)
        time.sleep(random.uniform(low, high))  # noqa: S311 - a spread of delays, not a secret
        with self.server.lock:
            self.server.in_flight -= 1
            sid = f"SM{len(self.server.received):032d}"
            self.server.received.append((dt.datetime.now(dt.UTC), fields["To"][0]))
        body = json.dumps({"sid": sid, "status": "queued"}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class FakeTwilioServer(ThreadingHTTPServer):
    # Every worker thread may connect at once: the default backlog of 5 would drop
    # connections and add the client's one-second SYN retry to their latency.
    request_queue_size = 128
    daemon_threads = True


def start_fake_twilio(latency: tuple[float, float]) -> ThreadingHTTPServer:
    server = FakeTwilioServer(("127.0.0.1", 0), FakeTwilio)
    server.received, server.lock, server.latency = [], threading.Lock(), latency
    server.in_flight = server.most_in_flight = 0  # texts being answered at once
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def start(args: list[str], log: Path) -> subprocess.Popen:
    # Its own process group, so stopping it stops the pool's children too.
    with log.open("ab") as out:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-m", "celery", "-A", "portal", *args],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def queues_empty(broker) -> bool:
    return not any(broker.llen(name) for name in QUEUES) and not broker.hlen("unacked")


def noop_round(app, broker, count: int) -> float:
    """No-op tasks per second through the same worker: from the first publish until all are acknowledged."""
    began = time.monotonic()
    with app.producer_or_acquire() as producer:
        for _ in range(count):
            app.send_task("celery.accumulate", args=[], queue=f"{QUEUE}-email", producer=producer)
    while not queues_empty(broker):
        time.sleep(0.02)
    return count / (time.monotonic() - began)


def book(procedures: int, nurse, location) -> list:
    """Book procedures the way a nurse does (their reminders are planned by the booking); keep those as templates."""
    from django.utils import timezone

    from procedures import services
    from reminders.models import ACCOUNT_KINDS, Reminder, Status
    from tests.factories import GuardianFactory, PatientFactory

    now = timezone.now()
    for i in range(procedures):
        guardian = GuardianFactory(
            mobile_number=f"+1312555{i % 10000:04d}", sms_enabled=True, sms_consent_at=now, sms_consent_text="I agree."
        )
        patient = PatientFactory(location=location, guardians=[guardian])
        arrival = (now + dt.timedelta(days=3, minutes=7 * i)).replace(second=0, microsecond=0)
        services.schedule_procedure(
            patient=patient, kind="both", location=location, scheduled_start=arrival + dt.timedelta(hours=1),
            arrival_at=arrival, sedation="general", scheduled_by=nurse,
        )  # fmt: skip
    templates = Reminder.objects.filter(status=Status.SCHEDULED).exclude(kind__in=ACCOUNT_KINDS)
    # Beat runs from the start: the templates themselves never come due.
    templates.update(due_at=now + dt.timedelta(days=30))
    return list(templates.order_by("pk"))


def seed(count: int, templates: list) -> list[int]:
    """`count` resends of the planned reminders, not yet due."""
    from django.utils import timezone

    from reminders.models import Reminder

    later = timezone.now() + dt.timedelta(days=1)
    copies = [
        Reminder(
            procedure_id=t.procedure_id, guardian_id=t.guardian_id, channel=t.channel, kind=t.kind, due_at=later,
            valid_until=later + dt.timedelta(hours=2), procedure_version=t.procedure_version,
            appointment_day=t.appointment_day, resend_of=t,
        )
        for t in (templates[n % len(templates)] for n in range(count))
    ]  # fmt: skip
    return [r.pk for r in Reminder.objects.bulk_create(copies, batch_size=2000)]


def worker_cpu_seconds(group: int) -> float:
    """CPU time so far of every process of a process group (the worker and its pool processes), from /proc."""
    ticks = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        if int(fields[2]) == group:  # process group; then user and system time at 11 and 12
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_jiffies() -> tuple[int, int]:
    """(busy, all) CPU time of the whole machine since boot, in jiffies; idle and I/O wait are not busy."""
    counts = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(counts) - counts[3] - counts[4], sum(counts)


class CpuWindow:
    """How busy the worker's processes and the whole machine were between two moments (Linux's /proc)."""

    def __init__(self, group: int) -> None:
        self.group, self.began = group, None

    def start(self) -> None:
        if self.began is None and Path("/proc/stat").exists():
            self.began = (time.monotonic(), worker_cpu_seconds(self.group), machine_jiffies())

    def end(self) -> dict:
        if self.began is None:
            return {"worker_cores": float("nan"), "machine_busy": float("nan")}
        wall, cpu, (busy, total) = self.began
        now_busy, now_total = machine_jiffies()
        return {
            "worker_cores": (worker_cpu_seconds(self.group) - cpu) / (time.monotonic() - wall),
            "machine_busy": (now_busy - busy) / max(now_total - total, 1),
        }


def reminder_round(
    ids: list[int], lead: float, timeout: float, twilio: ThreadingHTTPServer | None, worker_group: int
) -> dict:
    from django.db import connection
    from django.db.models import Count, Max, Min
    from django.utils import timezone

    from reminders.models import OutboxMessage, Reminder, Status

    due = timezone.now() + dt.timedelta(seconds=lead)
    received_before = len(twilio.received) if twilio else 0
    Reminder.objects.filter(pk__in=ids).update(due_at=due, valid_until=due + dt.timedelta(hours=2))
    seen: dict[int, float] = {}  # outbox row -> when it became visible (seconds after due)
    rows: dict[int, int] = {}  # outbox row -> reminder
    last = OutboxMessage.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    wanted = set(ids)
    deadline = time.monotonic() + lead + timeout
    finished = False
    gaps: dict[int, float] = {}  # ids below `last` not seen yet (a transaction still open) -> since when
    this_round = Reminder.objects.filter(pk__gte=min(ids), pk__lte=max(ids), resend_of__isnull=False)
    cpu = CpuWindow(worker_group)  # from the due moment until the last hand-over
    while time.monotonic() < deadline:
        if timezone.now() >= due:
            cpu.start()
        # Checked before the look, so the last look sees everything handed over.
        finished = not this_round.filter(status__in=[Status.SCHEDULED, Status.QUEUED, Status.SENDING]).exists()
        with connection.cursor() as cursor:
            # Rows commit out of id order: besides the new ones, ask again for the gaps left behind.
            cursor.execute(
                "SELECT id, reminder_id FROM reminders_outboxmessage WHERE id > %s OR id = ANY(%s)", [last, list(gaps)]
            )
            found = cursor.fetchall()
        at = (timezone.now() - due).total_seconds()
        for pk, reminder_id in found:
            gaps.pop(pk, None)
            if pk not in seen and reminder_id in wanted:
                seen[pk], rows[pk] = at, reminder_id
        top = max((pk for pk, _ in found), default=last)
        new_ids = {pk for pk, _ in found}
        gaps.update({pk: at for pk in range(last + 1, top) if pk not in new_ids})
        gaps = {pk: since for pk, since in gaps.items() if at - since < 60}  # rolled back: never coming
        last = max(last, top)
        if finished:
            break
        time.sleep(0.2)
    busy = cpu.end()
    time.sleep(1)  # anything sent twice shows up by now
    if twilio:
        # Texts carry no reminder id: texts at the provider beyond the reminders sent are duplicates.
        with twilio.lock:
            lateness = sorted((at - due).total_seconds() for at, _to in twilio.received[received_before:])
            busy["most_at_once"], twilio.most_in_flight = twilio.most_in_flight, 0
        handed = this_round.filter(status=Status.SENT).count()
        duplicates = len(lateness) - handed
    else:
        per: dict[int, int] = {}
        for reminder_id in OutboxMessage.objects.filter(reminder_id__in=ids).values_list("reminder_id", flat=True):
            per[reminder_id] = per.get(reminder_id, 0) + 1
        lateness = sorted(seen.values())
        handed, duplicates = len(per), sum(n - 1 for n in per.values())
    q = statistics.quantiles(lateness, n=100) if len(lateness) > 1 else [float("nan")] * 99
    queued = Reminder.objects.filter(pk__in=ids).aggregate(first=Min("queued_at"), last=Max("queued_at"))
    queued_after_due = (queued["first"] - due).total_seconds() if queued["first"] else float("nan")
    claiming = (queued["last"] - queued["first"]).total_seconds() if queued["first"] else float("nan")
    done = lateness[-1] if lateness else float("nan")
    statuses = dict(Reminder.objects.filter(pk__in=ids).values_list("status").annotate(n=Count("pk")))
    return {
        "handed": handed,
        "duplicates": duplicates,
        # Not handed over: lost when the round finished, still on the way when it timed out.
        "lost": len(wanted) - handed if finished else 0,
        "unfinished": 0 if finished else len(wanted) - handed,
        "p50": q[49],
        "p99": q[98],
        "max": done,
        "first_claim": queued_after_due,
        "claiming": claiming,
        "end_to_end_rate": handed / done if done > 0 else float("nan"),
        "queue_rate": handed / (done - queued_after_due) if done > queued_after_due else float("nan"),
        "statuses": statuses,
        **busy,
    }


def latency_range(text: str) -> tuple[float, float]:
    """Milliseconds "40-80" -> (0.04, 0.08) seconds; "60" -> (0.06, 0.06)."""
    low, _, high = text.partition("-")
    try:
        bounds = (float(low) / 1000, float(high or low) / 1000)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not LOW-HIGH in milliseconds: {text!r}") from None
    if not 0 <= bounds[0] <= bounds[1]:
        raise argparse.ArgumentTypeError(f"not 0 <= LOW <= HIGH: {text!r}")
    return bounds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes (one prefork worker)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--noop", type=int, default=5_000, help="no-op tasks per no-op round")
    parser.add_argument("--procedures", type=int, default=100, help="procedures booked per round")
    parser.add_argument("--lead", type=float, default=10.0, help="seconds from seeding to the due moment")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument(
        "--provider", choices=["outbox", "twilio"], default="outbox",
        help="the outbox (a batch commits with its move to sent), or texts only, to a fake Twilio over HTTP "
        "(a round of PROVIDER_SEND_THREADS texts a transaction, under the same share lock)",
    )  # fmt: skip
    parser.add_argument(
        "--provider-latency", type=latency_range, default="40-80", metavar="LOW-HIGH",
        help="milliseconds the fake Twilio takes to answer each text, spread evenly (default 40-80; 0: at once)",
    )  # fmt: skip
    args = parser.parse_args()

    database_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/marrow_rem_bench")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/7")
    if not database_url.startswith("postgres"):
        sys.exit("The benchmark needs PostgreSQL (DATABASE_URL=postgres://...).")
    os.environ.update(
        DATABASE_URL=database_url, REDIS_URL=redis_url, CELERY_QUEUE=QUEUE, LOG_LEVEL="WARNING", DEBUG="0",
        OUTBOX_ECHO="0", SMS_BACKEND="outbox", REMINDER_EMAIL_BACKEND="outbox",
        SECRET_KEY=os.environ.get("SECRET_KEY", "benchmark-only-secret"), DJANGO_SETTINGS_MODULE="portal.settings",
    )  # fmt: skip
    twilio = start_fake_twilio(args.provider_latency) if args.provider == "twilio" else None
    if twilio:
        os.environ.update(
            SMS_BACKEND="twilio", TWILIO_ACCOUNT_SID="AC1", TWILIO_AUTH_TOKEN="fake-provider",  # noqa: S106
            TWILIO_FROM_NUMBER="+13125550000", NO_PROXY="127.0.0.1",
            TWILIO_API_URL=f"http://127.0.0.1:{twilio.server_address[1]}",
        )  # fmt: skip
    ensure_database(database_url)

    import django

    django.setup()
    import redis
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from portal.celery import app
    from portal.models import Role
    from reminders.models import Reminder, Status
    from tests.factories import LocationFactory, UserFactory

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    broker = redis.Redis.from_url(redis_url)
    broker.flushdb()
    location = LocationFactory(name="Bench clinic")
    nurse = UserFactory(role=Role.NURSE, email="bench-nurse@example.org")
    location.nurses.add(nurse)

    templates = book(args.procedures, nurse, location)
    if twilio:
        templates = [t for t in templates if t.channel == "sms"]
    channels = sorted({t.channel for t in templates})
    print(f"{args.procedures} procedures booked: {len(templates)} planned reminders ({', '.join(channels)}) to copy")
    if twilio:
        low, high = args.provider_latency
        print(f"fake Twilio answers each text in {low * 1000:g}-{high * 1000:g} ms")
    log = ROOT / "var" / "bench-reminders.log"
    log.parent.mkdir(exist_ok=True)
    log.write_text("")
    worker = start(
        ["worker", f"--concurrency={args.concurrency}", "--loglevel=WARNING", "--without-gossip", "--without-mingle",
         "-Q", ",".join(QUEUES), "-n", f"bench-{os.getpid()}@%h"],
        log,
    )  # fmt: skip
    beat = start(["beat", "--loglevel=WARNING", "-S", settings.CELERY_BEAT_SCHEDULER], log)
    print(
        f"beat every {settings.DISPATCH_SECONDS:g} s; one worker, {args.concurrency} processes"
        + (f", {settings.PROVIDER_SEND_THREADS} hand-over threads each; " if twilio else "; ")
        + f"{args.count} reminders per round; log in {log}"
    )
    results: list[tuple[float, dict]] = []
    try:
        time.sleep(5)  # the worker's processes are up and beat has synced its schedule
        for number in range(1, args.rounds + 1):
            noop_rate = noop_round(app, broker, args.noop)
            with connection.cursor() as cursor:
                cursor.execute("TRUNCATE reminders_outboxmessage")
            ids = seed(args.count, templates)
            result = reminder_round(ids, args.lead, args.timeout, twilio, worker.pid)
            # What a timed-out round left behind must not run into the next one.
            Reminder.objects.filter(pk__in=ids, status__in=[Status.SCHEDULED, Status.QUEUED, Status.SENDING]).update(
                status=Status.CANCELLED
            )
            broker.delete(*QUEUES)
            results.append((noop_rate, result))
            print(
                f"round {number}: no-op {noop_rate:.0f} tasks/s | {result['handed']}/{len(ids)} handed over, "
                f"first claim {result['first_claim']:.1f} s after due, all claimed in {result['claiming']:.1f} s, "
                f"lateness p50 {result['p50']:.1f} s "
                f"p99 {result['p99']:.1f} s max {result['max']:.1f} s | {result['queue_rate']:.0f}/s from first "
                f"claim ({result['queue_rate'] / noop_rate:.2f}x no-op), {result['end_to_end_rate']:.0f}/s from due | "
                f"duplicates {result['duplicates']}, lost {result['lost']} | "
                f"worker processes on CPU {result['worker_cores']:.2f} cores, machine {result['machine_busy']:.0%} busy"
                + (f", at most {result['most_at_once']} texts at Twilio at once" if "most_at_once" in result else "")
                + (f", TIMED OUT with {result['unfinished']} not handed over" if result["unfinished"] else "")
                + f" | {result['statuses']}",
                flush=True,
            )
    finally:
        stop(beat)
        stop(worker)
    if len(results) > 1:

        def median(key: str) -> float:
            return statistics.median(r[key] for _, r in results)

        noop = statistics.median(rate for rate, _ in results)
        ratio = statistics.median(r["queue_rate"] / rate for rate, r in results)
        print(
            f"median: no-op {noop:.0f}/s, reminders {median('queue_rate'):.0f}/s from first claim ({ratio:.2f}x), "
            f"lateness p50 {median('p50'):.1f} s p99 {median('p99'):.1f} s max {median('max'):.1f} s"
        )
    bad = any(r["duplicates"] or r["lost"] or r["unfinished"] for _, r in results)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
