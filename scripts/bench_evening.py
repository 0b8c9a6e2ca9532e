#!/usr/bin/env python
"""The evening benchmark: every page at once, as an evening really is, beside each page alone.

An evening: families read their dashboard, their child's page and the education pages; the
evening texts drain through a real Celery worker and beat to a fake Twilio that calls back with
"sent" and "delivered" (signed, as Twilio signs them), while nurses watch the dashboard and the
list and a nurse reschedules a procedure every few seconds. Each page is measured twice:

1. quiet: that page alone, `--connections` connections (wrk), nothing else running;
2. evening: all pages at once, the connections shared out among them (their sum is
   `--connections`), with the drain, the callbacks and the rescheduling going on.

Printed per page: p50 and p99 (wrk's own latency record), requests/s, and the kept-page hit
rate in that phase, read from /metrics (`marrow_kept_pages_total`, the gunicorn workers' counts
added up in prometheus-client's multiprocess mode); then what the drain sent, the callbacks it
got and the reschedules done.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/marrow_evening_bench \\
    REDIS_URL=redis://127.0.0.1:6379/6 .venv/bin/python scripts/bench_evening.py \\
        [--no-seed] [--families 20] [--connections 16] [--seconds 30] [--drain 2000]
        [--reschedule-every 5] [--web-workers 3] [--rounds 1]

Seeds like scripts/bench_pages.py (one clinic, 1,000 procedures, 100,000 reminders, 200,000
audit rows) unless --no-seed. gunicorn runs as docker-compose.yml runs it (3 sync workers).
Not a test: timings vary with the machine and its load; read the two phases side by side.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import queue
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from scripts import bench_pages as pages  # noqa: E402 - once the project is on the path
from scripts.bench_reminders import FakeTwilio, FakeTwilioServer, start, stop  # noqa: E402
from scripts.benchdb import ensure_database  # noqa: E402

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/marrow_evening_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/6"
QUEUE = "evening"
AUTH_TOKEN = "evening-bench-token"  # noqa: S105 - the fake provider's, signs its callbacks
METRICS_TOKEN = "evening-bench-metrics"  # noqa: S105 - this benchmark's own scrape token
# Twilio calls back "sent" as the carrier takes the text, "delivered" when the phone has it.
CALLBACK_DELAYS = (("sent", 0.3), ("delivered", 1.5))
CALLBACK_THREADS = 8  # Twilio calls back on many connections at once

# One wrk connection runs a path list in turn; `done` prints what the phase table needs.
WRK_SCRIPT = """
local paths, cookies, i = {}, {}, 0
function init(args)
  for n = 1, #args, 2 do paths[#paths + 1] = args[n]; cookies[#cookies + 1] = args[n + 1] end
  i = math.random(#paths)
end
function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i], {["Cookie"] = cookies[i]})
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d\\n", latency:percentile(50), latency:percentile(99),
    summary.requests, e.status, e.connect + e.read + e.write + e.timeout))
end
"""


class CallingBackTwilio(FakeTwilio):
    """The fake Messages API, which also calls the StatusCallback URL back as Twilio does."""

    def do_POST(self) -> None:
        fields = urllib.parse.parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        time.sleep(random.uniform(*self.server.latency))  # noqa: S311 - a spread of delays, not a secret
        with self.server.lock:
            sid = f"SM{len(self.server.received):032d}"
            self.server.received.append((dt.datetime.now(dt.UTC), fields["To"][0]))
        body = json.dumps({"sid": sid, "status": "queued"}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        callback = fields.get("StatusCallback", [""])[0]
        if callback:
            for status, delay in CALLBACK_DELAYS:
                self.server.callbacks.put((time.monotonic() + delay, callback, sid, status))


def call_back(server: FakeTwilioServer) -> None:
    """Post each status when it is due, signed with the account's token (twilio's RequestValidator)."""
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(AUTH_TOKEN)
    while True:
        due, url, sid, status = server.callbacks.get()
        time.sleep(max(0.0, due - time.monotonic()))
        params = {"MessageSid": sid, "MessageStatus": status, "AccountSid": "AC1"}
        request = urllib.request.Request(  # noqa: S310 - the benchmark's own gunicorn
            url, data=urllib.parse.urlencode(params).encode(),
            headers={"X-Twilio-Signature": validator.compute_signature(url, params)},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
                outcome = "applied" if answer.status < 300 else f"answered {answer.status}"
        except OSError as error:
            outcome = f"failed: {error}"
        with server.lock:
            server.called_back[outcome] = server.called_back.get(outcome, 0) + 1


def start_provider(latency: tuple[float, float]) -> FakeTwilioServer:
    server = FakeTwilioServer(("127.0.0.1", 0), CallingBackTwilio)
    server.received, server.lock, server.latency = [], threading.Lock(), latency
    server.in_flight = server.most_in_flight = 0
    server.callbacks, server.called_back = queue.PriorityQueue(), {}
    threading.Thread(target=server.serve_forever, daemon=True).start()
    for _ in range(CALLBACK_THREADS):
        threading.Thread(target=call_back, args=(server,), daemon=True).start()
    return server


# --- What is read, and by whom --------------------------------------------------------------


class Page:
    """One page of the table: the paths wrk asks in turn (each with its session cookie)."""

    def __init__(self, name: str, share: float, requests: list[tuple[str, str]]) -> None:
        self.name, self.share, self.requests = name, share, requests


def the_evening(families: int) -> tuple[list[Page], object, object]:
    """The pages, `families` families signed in (each reading its own), the nurse and the clinic."""
    from django.conf import settings
    from django.urls import reverse

    from portal.models import User
    from procedures.models import Location, Procedure
    from procedures.readiness import education_pages

    def cookie(email: str) -> str:
        return f"{settings.SESSION_COOKIE_NAME}={pages.sign_in(email)}"

    location = Location.objects.get(name="Bench clinic")
    nurse = User.objects.get(email=pages.NURSE_EMAIL)
    nurse_cookie = cookie(pages.NURSE_EMAIL)
    learn = []
    for page in education_pages().prefetch_related("steps"):
        steps = len(page.steps.all())
        learn += [reverse("learn:step", args=[page.slug, n]) for n in range(1, steps + 1)] or [
            reverse("learn:page", args=[page.slug])
        ]
    emails = [f"family{number}-0@example.org" for number in range(1, families + 1)]
    signed_in = {email: cookie(email) for email in emails}
    upcoming = Procedure.objects.filter(scheduled_start__gte=time_now()).active().order_by("scheduled_start")
    theirs = {
        email: upcoming.filter(patient__guardians__user__email=email).values_list("pk", flat=True).first()
        for email in emails
    }
    family_pages = [(reverse("family:procedure", args=[pk]), signed_in[email]) for email, pk in theirs.items() if pk]
    reading = [(path, signed_in[email]) for email in emails for path in random.sample(learn, len(learn))]
    return (
        [
            Page("family dashboard", 0.25, [(reverse("family:dashboard"), c) for c in signed_in.values()]),
            Page("family procedure page", 0.2, family_pages),
            Page("education pages", 0.2, reading),
            Page("nurse dashboard", 0.25, [(reverse("nurse:dashboard"), nurse_cookie)]),
            Page("nurse procedure list", 0.1, [(reverse("nurse:procedure_list"), nurse_cookie)]),
        ],
        nurse,
        location,
    )


def time_now() -> dt.datetime:
    from django.utils import timezone

    return timezone.now()


# --- Measuring ------------------------------------------------------------------------------


def shares(page_list: list[Page], connections: int) -> dict[str, int]:
    """Connections per page, at least one each, adding up to `connections`."""
    given = {page.name: max(1, round(page.share * connections)) for page in page_list}
    biggest = max(page_list, key=lambda page: page.share).name
    given[biggest] += connections - sum(given.values())
    return given


def run_wrk(port: int, script: Path, runs: dict[str, tuple[Page, int]], seconds: float) -> dict[str, dict]:
    """Every page of `runs` at once, each its own wrk with its connections; their results by page."""
    started = {}
    for name, (page, connections) in runs.items():
        command = [pages.WRK, "-t1", f"-c{connections}", f"-d{round(seconds)}s", "--timeout", "10s", "-s", str(script)]
        command += [f"http://127.0.0.1:{port}/", "--"]
        for path, cookie in page.requests:
            command += [path, cookie]
        started[name] = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)  # noqa: S603
    results = {}
    for name, process in started.items():
        output = process.communicate()[0]
        found = re.search(r"RESULT (\d+) (\d+) (\d+) (\d+) (\d+)", output)
        if not found:
            sys.exit(f"wrk gave no result for {name}:\n{output}")
        p50, p99, requests, bad, errors = (int(value) for value in found.groups())
        results[name] = {"p50": p50 / 1000, "p99": p99 / 1000, "rate": requests / seconds, "bad": bad + errors}
    return results


def kept_counts(port: int) -> dict[tuple[str, str], float]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
        text = answer.read().decode()
    found = re.findall(r'marrow_kept_pages_total\{outcome="(\w+)",route="([^"]+)"\} ([\d.e+]+)', text)
    return {(route, outcome): float(value) for outcome, route, value in found}


ROUTES = {
    "family dashboard": ("family:dashboard",),
    "family procedure page": ("family:procedure",),
    "education pages": ("learn:step", "learn:page"),
    "nurse dashboard": ("nurse:dashboard",),
    "nurse procedure list": ("nurse:procedure_list",),
}


def hit_rates(before: dict, after: dict) -> dict[str, float | None]:
    rates: dict[str, float | None] = {}
    for name, routes in ROUTES.items():
        kept = sum(after.get((r, "kept"), 0) - before.get((r, "kept"), 0) for r in routes)
        made = sum(after.get((r, "made"), 0) - before.get((r, "made"), 0) for r in routes)
        rates[name] = kept / (kept + made) if kept + made else None
    return rates


def measure(port: int, script: Path, runs: dict[str, tuple[Page, int]], seconds: float) -> tuple[dict, dict]:
    before = kept_counts(port)
    results = run_wrk(port, script, runs, seconds)
    return results, hit_rates(before, kept_counts(port))


# --- The evening's other work ---------------------------------------------------------------


def texts_due(location, count: int, lead: float) -> list[int]:
    """`count` evening texts to families who take texts, due `lead` seconds from now: resends of the
    texts already planned for the clinic's coming procedures, as a nurse's "send again" makes them."""
    from django.db.models import F

    from reminders.models import Kind, Reminder

    due = time_now() + dt.timedelta(seconds=lead)
    planned = list(
        Reminder.objects.filter(
            procedure__location=location, procedure__scheduled_start__gte=due, procedure__status="scheduled",
            procedure_version=F("procedure__version"), channel="sms", kind=Kind.FASTING_EVENING,
            resend_of__isnull=True, guardian__sms_enabled=True, guardian__sms_consent_at__isnull=False,
            guardian__sms_opted_out_at__isnull=True,
        ).order_by("pk")[:count]
    )  # fmt: skip
    if not planned:
        sys.exit("No planned evening texts to copy: seed first (drop --no-seed).")
    rows = []
    for n in range(count):
        template = planned[n % len(planned)]
        row = Reminder(
            procedure_id=template.procedure_id, guardian_id=template.guardian_id, channel="sms", kind=template.kind,
            due_at=due, valid_until=due + dt.timedelta(hours=2), procedure_version=template.procedure_version,
            appointment_day=template.appointment_day, resend_of=template,
        )  # fmt: skip
        rows.append(row)
    return [row.pk for row in Reminder.objects.bulk_create(rows, batch_size=2000)]


def reschedule_every(seconds: float, nurse, location, stopping: threading.Event, done: dict[str, int]) -> None:
    """A nurse moving one procedure by 15 minutes every `seconds`, through the one change path."""
    from django.db import connection

    from procedures import services

    rng = random.Random(7)  # noqa: S311 - which procedure moves, not a secret
    try:
        while not stopping.wait(seconds):
            choices = list(location.procedures.active().filter(scheduled_start__gte=time_now() + dt.timedelta(days=1)))
            procedure = rng.choice(choices)
            shift = dt.timedelta(minutes=rng.choice((-15, 15)))
            try:
                services.update_procedure(
                    procedure=procedure, changed_by=nurse, scheduled_start=procedure.scheduled_start + shift,
                    arrival_at=procedure.arrival_at + shift,
                )  # fmt: skip
                done["rescheduled"] += 1
            except Exception as error:  # counted and shown: the evening goes on
                done[f"refused: {error}"] = done.get(f"refused: {error}", 0) + 1
    finally:
        connection.close()


def drained(ids: list[int]) -> dict[str, int]:
    from django.db.models import Count

    from reminders.models import Reminder

    rows = Reminder.objects.filter(pk__in=ids).values("status").annotate(n=Count("pk"))
    return {row["status"]: row["n"] for row in rows}


# --- The run --------------------------------------------------------------------------------


def report(quiet: dict, evening: dict, quiet_hits: dict, evening_hits: dict, given: dict[str, int], total: int) -> None:
    header = (
        f"{'page':<22} {'quiet p50':>9} {'p99':>7} {'req/s':>6} {'kept':>5} │"
        f" {'conns':>5} {'evening p50':>11} {'p99':>7} {'req/s':>6} {'kept':>5} {'bad':>4}"
    )
    print("\n" + header + "\n" + "─" * len(header))

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.0%}"

    for name in quiet:
        q, e = quiet[name], evening[name]
        print(
            f"{name:<22} {q['p50']:7.0f}ms {q['p99']:5.0f}ms {q['rate']:6.1f} {pct(quiet_hits[name]):>5} │"
            f" {given[name]:5d} {e['p50']:9.0f}ms {e['p99']:5.0f}ms {e['rate']:6.1f} {pct(evening_hits[name]):>5}"
            f" {e['bad']:4d}"
        )
    print(f"quiet: each page alone on {total} connections; evening: all at once, the connections shared as shown.")
    print("kept: the share of requests served as a kept page (marrow_kept_pages_total); bad: non-2xx and errors.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--procedures", type=int, default=1000)
    parser.add_argument("--reminders", type=int, default=100_000)
    parser.add_argument("--audit", type=int, default=200_000)
    parser.add_argument("--no-seed", action="store_true", help="keep the data already in the database")
    parser.add_argument("--families", type=int, default=20, help="families signed in and reading")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each measurement")
    parser.add_argument("--drain", type=int, default=2000, help="evening texts due as the evening phase begins")
    parser.add_argument("--reschedule-every", type=float, default=5.0, help="seconds between a nurse's reschedules")
    parser.add_argument("--web-workers", type=int, default=3, help="gunicorn sync workers (compose runs 3)")
    parser.add_argument("--rounds", type=int, default=1, help="quiet then evening, this many times")
    parser.add_argument("--provider-latency", default="40-80", help="milliseconds the fake Twilio takes, LOW-HIGH")
    args = parser.parse_args()

    database_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE)
    redis_url = os.environ.get("REDIS_URL", DEFAULT_REDIS)
    if not database_url.startswith("postgres"):
        sys.exit("The benchmark needs PostgreSQL (DATABASE_URL=postgres://...).")
    low, high = (float(part) / 1000 for part in args.provider_latency.split("-"))
    provider = start_provider((low, high))
    port = pages.free_port()
    metrics_dir = tempfile.mkdtemp(prefix="evening-metrics-")
    pages.configure_environment(database_url, redis_url)
    os.environ.update(
        SITE_URL=f"http://127.0.0.1:{port}", SMS_BACKEND="twilio", TWILIO_ACCOUNT_SID="AC1",
        TWILIO_AUTH_TOKEN=AUTH_TOKEN, TWILIO_FROM_NUMBER="+13125550000", NO_PROXY="127.0.0.1",
        TWILIO_API_URL=f"http://127.0.0.1:{provider.server_address[1]}", REMINDER_EMAIL_BACKEND="outbox",
        OUTBOX_ECHO="0", CELERY_QUEUE=QUEUE, METRICS_TOKEN=METRICS_TOKEN, PROMETHEUS_MULTIPROC_DIR=metrics_dir,
        LOG_LEVEL="WARNING",
    )  # fmt: skip
    ensure_database(database_url)

    import django

    django.setup()
    import redis
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    if not args.no_seed:
        pages.seed(procedures=args.procedures, reminders=args.reminders, audit=args.audit)
    redis.Redis.from_url(redis_url).flushdb()
    print(f"Data: {pages.describe_data()}.")
    page_list, nurse, location = the_evening(args.families)
    given = shares(page_list, args.connections)
    script = Path(tempfile.mkdtemp(prefix="evening-wrk-")) / "pages.lua"
    script.write_text(WRK_SCRIPT)

    log = ROOT / "var" / "bench-evening.log"
    log.parent.mkdir(exist_ok=True)
    log.write_text("")
    command = [
        sys.executable, "-m", "gunicorn", "portal.wsgi:application", "--workers", str(args.web_workers),
        "--worker-class", "sync", "--bind", f"127.0.0.1:{port}", "--error-logfile", "-",
    ]  # fmt: skip
    with log.open("ab") as sink:
        web = subprocess.Popen(command, cwd=ROOT, stdout=sink, stderr=sink)  # noqa: S603 - our own command
    worker = start(
        ["worker", "--concurrency=2", "--loglevel=WARNING", "--without-gossip", "--without-mingle",
         "-Q", f"{QUEUE},{QUEUE}-sms,{QUEUE}-email", "-n", f"evening-{os.getpid()}@%h"],
        log,
    )  # fmt: skip
    beat = start(["beat", "--loglevel=WARNING", "-S", settings.CELERY_BEAT_SCHEDULER], log)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                kept_counts(port)
                break
            except OSError:
                if time.monotonic() > deadline:
                    sys.exit(f"gunicorn did not answer on port {port}; see {log}")
                time.sleep(0.5)
        warm = {page.name: (page, 2) for page in page_list}
        run_wrk(port, script, warm, 3)  # every worker has its connections, templates and first reads
        print(
            f"gunicorn {args.web_workers} sync workers; one Celery worker (2 processes) and beat; "
            f"{args.families} families; {args.connections} connections; {args.seconds:g} s a measurement; log in {log}"
        )
        for number in range(1, args.rounds + 1):
            quiet, quiet_hits = {}, {}
            for page in page_list:
                result, hits = measure(port, script, {page.name: (page, args.connections)}, args.seconds)
                quiet[page.name], quiet_hits[page.name] = result[page.name], hits[page.name]
            ids = texts_due(location, args.drain, lead=2)
            sent_before, called_before = len(provider.received), dict(provider.called_back)
            stopping, done = threading.Event(), {"rescheduled": 0}
            mover = threading.Thread(
                target=reschedule_every, args=(args.reschedule_every, nurse, location, stopping, done)
            )
            mover.start()
            try:
                evening, evening_hits = measure(
                    port, script, {page.name: (page, given[page.name]) for page in page_list}, args.seconds
                )
            finally:
                stopping.set()
                mover.join(60)
            print(f"\nRound {number}/{args.rounds}")
            report(quiet, evening, quiet_hits, evening_hits, given, args.connections)
            called = {k: v - called_before.get(k, 0) for k, v in provider.called_back.items()}
            print(
                f"During the evening: {len(provider.received) - sent_before} texts at the provider of {len(ids)} due; "
                f"callbacks {called}; reminders now {drained(ids)}; reschedules {done}."
            )
    finally:
        for process in (beat, worker):
            stop(process)
        web.terminate()
        web.wait(30)


if __name__ == "__main__":
    main()
