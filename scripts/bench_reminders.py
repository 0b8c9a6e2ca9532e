#!/usr/bin/env python
"""Benchmark: 10,000 reminders due in the same minute, two Celery workers, PostgreSQL + Redis.

Measures the time until all are handed to the (outbox) channel, lateness
(sent minus due) p50/p99/max, and duplicates and losses (both must be 0).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/marrow_bench \\
    REDIS_URL=redis://127.0.0.1:6379/2 .venv/bin/python scripts/bench_reminders.py [--count 10000] [--workers 2]

It uses its own database (created if missing) and wipes its reminders first.
Not a test: timings vary with the machine; read them as a whole.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
QUEUE = "bench"


def ensure_database(url: str) -> None:
    import psycopg2

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = psycopg2.connect(
        host=parsed.hostname, port=parsed.port or 5432, user=parsed.username or "postgres",
        password=parsed.password or "", dbname="postgres",
    )  # fmt: skip
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    database_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/marrow_bench")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/2")
    if not database_url.startswith("postgres"):
        sys.exit("The benchmark needs PostgreSQL (DATABASE_URL=postgres://...).")
    os.environ.update(
        DATABASE_URL=database_url, REDIS_URL=redis_url, CELERY_QUEUE=QUEUE, LOG_LEVEL="WARNING",
        SECRET_KEY=os.environ.get("SECRET_KEY", "benchmark-only-secret"), DJANGO_SETTINGS_MODULE="portal.settings",
    )  # fmt: skip
    ensure_database(database_url)

    import django

    django.setup()
    import redis
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Count
    from django.utils import timezone

    from portal.models import Role, User
    from procedures.models import Guardian, Location, Patient, Procedure
    from reminders import dispatch, tasks
    from reminders.models import Kind, OutboxMessage, Reminder, Status

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE reminders_outboxmessage, reminders_deliveryattempt, reminders_reminder RESTART IDENTITY"
        )
    redis.Redis.from_url(redis_url).delete(QUEUE, f"{QUEUE}-sms", f"{QUEUE}-email")

    location, _ = Location.objects.get_or_create(name="Bench clinic", defaults={"phone": "+13125550100"})
    user = User.objects.filter(email="bench-parent@example.org").first() or User.objects.create_user(
        email="bench-parent@example.org", full_name="Bench Parent", role=Role.GUARDIAN
    )
    guardian, _ = Guardian.objects.get_or_create(user=user)
    patient, _ = Patient.objects.get_or_create(
        mrn="BENCH-1",
        defaults={"first_name": "Bench", "last_name": "Child", "date_of_birth": dt.date(2018, 1, 1),
                  "location": location},
    )  # fmt: skip
    patient.guardians.add(guardian)
    start = timezone.now() + dt.timedelta(days=2)
    procedure = Procedure.objects.filter(patient=patient).first() or Procedure.objects.create(
        patient=patient, location=location, scheduled_start=start, arrival_at=start - dt.timedelta(hours=1)
    )

    due = (timezone.now() + dt.timedelta(seconds=20)).replace(microsecond=0)
    fields = {
        "procedure": procedure, "guardian": guardian, "channel": "email", "kind": Kind.CONFIRMATION,
        "due_at": due, "valid_until": due + dt.timedelta(hours=1), "procedure_version": procedure.version,
    }  # fmt: skip
    base = Reminder.objects.create(**fields)
    Reminder.objects.bulk_create((Reminder(**fields, resend_of=base) for _ in range(args.count - 1)), batch_size=2000)
    print(f"Planned {args.count} reminders due at {due:%H:%M:%S} UTC; starting {args.workers} workers.")

    command = [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=solo", "--loglevel=WARNING"]
    command += ["--without-gossip", "--without-mingle", "-Q", f"{QUEUE},{QUEUE}-sms,{QUEUE}-email"]
    workers = [
        subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [*command, "-n", f"bench{i}@%h"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for i in range(args.workers)
    ]
    try:
        while timezone.now() < due:
            time.sleep(0.2)
        began = time.monotonic()
        deadline = began + 600
        enqueue = tasks.enqueue
        # The dispatcher as beat runs it: a pass every second, each pass draining what is due.
        while time.monotonic() < deadline:
            while dispatch.claim_due(enqueue=enqueue):
                pass
            if not Reminder.objects.filter(status__in=[Status.SCHEDULED, Status.QUEUED, Status.SENDING]).exists():
                break
            time.sleep(1)
        elapsed = time.monotonic() - began
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(30)

    ids = list(Reminder.objects.filter(procedure=procedure).values_list("pk", flat=True))
    per = dict(OutboxMessage.objects.values_list("reminder_id").annotate(n=Count("pk")))
    lost = sum(1 for pk in ids if pk not in per)
    duplicates = sum(n - 1 for n in per.values() if n > 1)
    lateness = sorted(
        (m.created_at - m.reminder.due_at).total_seconds()
        for m in OutboxMessage.objects.select_related("reminder").only("created_at", "reminder__due_at")
    )
    q = statistics.quantiles(lateness, n=100) if len(lateness) > 1 else [0] * 99
    print(f"all handed to the outbox in {elapsed:.1f} s ({args.count / elapsed:.0f} reminders/s)")
    print(f"lateness p50 {q[49]:.2f} s, p99 {q[98]:.2f} s, max {lateness[-1]:.2f} s")
    print(f"duplicates {duplicates}, losses {lost}")
    sys.exit(1 if duplicates or lost else 0)


if __name__ == "__main__":
    main()
