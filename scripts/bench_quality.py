#!/usr/bin/env python
"""Benchmark: the clinic quality page (/nurse/quality/) with 50,000 procedures and 1,000,000 reminders.

Seeds its own database: one clinic whose procedures are spread over the last twelve months
(so the week view reads about 8,000 of them and the month view about 25,000), most with an
outcome and the time of the last drink and food, and twenty reminders each. Then asks for
the page in this process (Django's test client, a signed-in nurse, DEBUG off) and prints
the median and the slowest time per view, with the queries one request makes: "counted"
when the request counts the figures itself (the cache emptied first), "kept" when it reads
the figures kept for a few minutes, as nurses do once beat has counted them ahead
(procedures.tasks.count_quality). Last, how long beat's count of every clinic takes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/marrow_quality_bench \\
    .venv/bin/python scripts/bench_quality.py [--procedures 50000] [--reminders-each 20] [--no-seed]

Not a test: timings vary with the machine and its load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from scripts.benchdb import ensure_database  # noqa: E402 - once the project is on the path

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/marrow_quality_bench"
NURSE_EMAIL = "bench-quality-nurse@example.org"

# Every statement below is this file's own text; the numbers are parameters.
SEED = [
    # Children: one for every five procedures.
    """
    INSERT INTO procedures_patient (first_name, last_name, date_of_birth, mrn, feeding, preferred_language,
                                    location_id, created_at)
    SELECT 'Child' || n, 'Bench', DATE '2018-01-01' + (n %% 2000), 'QB' || n, 'regular', 'en', %(clinic)s, now()
    FROM generate_series(1, %(patients)s) AS n
    """,
    # Procedures: 8:30 local starts spread over the last 365 days, arrival an hour before.
    """
    INSERT INTO procedures_procedure (patient_id, kind, location_id, scheduled_start, arrival_at, sedation, status,
        version, cancel_reason, running_late_minutes, morning_medicines, created_at, updated_at,
        started_at, last_drink_at, last_food_at)
    SELECT patient.id, 'both', %(clinic)s, start, start - interval '1 hour', 'general',
           CASE WHEN n %% 10 = 0 THEN 'cancelled' ELSE 'completed' END,
           1, '', 0, '', now(), now(),
           CASE WHEN n %% 10 = 0 THEN NULL ELSE start + (n %% 7) * interval '10 minutes' END,
           CASE WHEN n %% 3 = 0 THEN NULL ELSE start - (90 + n %% 300) * interval '1 minute' END,
           CASE WHEN n %% 4 = 0 THEN NULL ELSE start - (400 + n %% 500) * interval '1 minute' END
    FROM generate_series(1, %(procedures)s) AS n
    CROSS JOIN LATERAL (SELECT (date_trunc('day', now() AT TIME ZONE 'America/Chicago')
                                - (n %% 365) * interval '1 day' + interval '8 hours 30 minutes')
                               AT TIME ZONE 'America/Chicago' AS start) AS at
    JOIN procedures_patient patient ON patient.mrn = 'QB' || (1 + n %% %(patients)s)
    """,
    # Outcomes: on time, late for a reason, cancelled on the day or before.
    """
    INSERT INTO procedures_dayoutcome (procedure_id, kind, late_minutes, reason_id, reason_text, recorded_at)
    SELECT p.id,
           CASE WHEN p.status = 'cancelled' THEN
                    CASE WHEN p.id %% 2 = 0 THEN 'cancelled_on_day' ELSE 'cancelled_before' END
                WHEN p.started_at - p.scheduled_start > interval '5 minutes' THEN 'late' ELSE 'on_time' END,
           CASE WHEN p.status = 'cancelled' THEN NULL
                ELSE (extract(epoch FROM p.started_at - p.scheduled_start) / 60)::int END,
           CASE WHEN p.status = 'cancelled' OR p.started_at - p.scheduled_start > interval '5 minutes'
                THEN (SELECT id FROM procedures_outcomereason WHERE location_id IS NULL
                      ORDER BY id OFFSET p.id %% 8 LIMIT 1) END,
           '', now()
    FROM procedures_procedure p WHERE p.location_id = %(clinic)s
    """,
    # Reminders: a fixed set of kinds and channels each, sent, delivered, failed or unknown.
    """
    INSERT INTO reminders_reminder (procedure_id, guardian_id, address, channel, kind, due_at, valid_until,
        procedure_version, status, attempts, provider_message_id, last_error, lease_owner, created_at, updated_at,
        sent_at)
    SELECT p.id, NULL, '', plan.channel, plan.kind, p.scheduled_start - interval '12 hours', p.scheduled_start, 1,
           (ARRAY['delivered', 'delivered', 'delivered', 'sent', 'failed', 'unknown'])[1 + (p.id + plan.n) %% 6],
           1, '', '', '', now(), now(), p.scheduled_start - interval '12 hours' + (p.id %% 9) * interval '1 minute'
    FROM procedures_procedure p
    CROSS JOIN LATERAL (
        SELECT n, (ARRAY['sms', 'email'])[1 + n %% 2] AS channel,
               (ARRAY['confirmation', 'changed', 'cancelled', 'delayed', 'fasting_evening', 'fasting_morning',
                      'aftercare_evening', 'aftercare_next_day', 'invitation', 'contact_changed'])[1 + n / 2]
                   AS kind
        FROM generate_series(0, %(reminders_each)s - 1) AS n
    ) AS plan
    WHERE p.location_id = %(clinic)s
    """,
]


def seed(procedures: int, reminders_each: int) -> tuple[int, int]:
    from django.db import connection, transaction
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from portal.models import Role, User
    from procedures.models import Location

    with transaction.atomic():
        with connection.cursor() as cursor:
            # The page-version triggers are for the portal's own writes; a seed of this size skips them.
            cursor.execute("SET LOCAL session_replication_role = replica")
            cursor.execute(
                "TRUNCATE reminders_reminder, procedures_dayoutcome, procedures_procedure, procedures_patient CASCADE"
            )
        clinic, _created = Location.objects.get_or_create(name="Bench Quality Unit", defaults={"phone": "+13125550100"})
        nurse = User.objects.filter(email=NURSE_EMAIL).first() or User.objects.create_user(
            email=NURSE_EMAIL, full_name="Bench Nurse", role=Role.NURSE
        )
        clinic.nurses.add(nurse)
        TOTPDevice.objects.get_or_create(user=nurse, name="bench", defaults={"confirmed": True})
        values = {
            "clinic": clinic.pk,
            "patients": max(procedures // 5, 1),
            "procedures": procedures,
            "reminders_each": reminders_each,
        }
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")
            for statement in SEED:
                started = time.perf_counter()
                cursor.execute(statement, values)
                print(f"  {cursor.rowcount:>9,} rows in {time.perf_counter() - started:5.1f} s")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return clinic.pk, nurse.pk


def measure(rounds: int) -> None:
    """Cold: the figures counted for this request. Kept: as the next nurse within minutes gets them."""
    from django.conf import settings
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client

    from scripts.bench_pages import sign_in

    client = Client()
    # Signed in as the login and the two-step check leave a nurse (scripts/bench_pages.py).
    client.cookies[settings.SESSION_COOKIE_NAME] = sign_in(NURSE_EMAIL)
    statements: list[str] = []

    def count(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    def get(path: str) -> float:
        started = time.perf_counter()
        response = client.get(path)
        took = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise SystemExit(f"{path} answered {response.status_code} {response.get('Location', '')}")
        return took

    for by in ("week", "month"):
        path = f"/nurse/quality/?by={by}"
        get(path)  # templates, translations, query plans
        cold, kept = [], []
        for _round in range(rounds):
            cache.clear()
            statements.clear()
            with connection.execute_wrapper(count):
                cold.append(get(path))
            cold_queries = len(statements)
            statements.clear()
            with connection.execute_wrapper(count):
                kept.append(get(path))
            kept_queries = len(statements)
        for name, took, queries in (("counted", cold, cold_queries), ("kept", kept, kept_queries)):
            print(
                f"{path:<26} {name:<8} median {statistics.median(took):7.1f} ms   slowest {max(took):7.1f} ms   "
                f"{queries} queries"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--procedures", type=int, default=50_000)
    parser.add_argument("--reminders-each", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--no-seed", action="store_true")
    options = parser.parse_args()
    database = os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE)
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-not-for-production")
    os.environ.setdefault("DEBUG", "0")
    for name in ("SECURE_SSL_REDIRECT", "SECURE_COOKIES", "SECURE_HSTS_SECONDS"):
        os.environ.setdefault(name, "0")
    os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
    os.environ["PAGE_CACHE"] = "0"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scripts.bench_settings")  # static files as built
    ensure_database(database)

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)  # the manifest DEBUG-off pages need
    if not options.no_seed:
        print(f"Seeding {options.procedures:,} procedures, {options.reminders_each} reminders each")
        seed(options.procedures, options.reminders_each)
    measure(options.rounds)
    from procedures import quality

    started = time.perf_counter()
    counted = quality.count_ahead()
    print(
        f"beat's count ahead (procedures.tasks.count_quality): {counted} sets in {time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    main()
