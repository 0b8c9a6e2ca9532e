#!/usr/bin/env python
"""Page benchmark: four busy pages against a bare Django view, on gunicorn with PostgreSQL.

Seeds its own database (one clinic, 1,000 procedures, N reminders, M audit rows), starts
gunicorn (2 sync workers, DEBUG off) with scripts/bench_settings.py, signs a parent and a
nurse in, and runs wrk (4 connections) in interleaved rounds: each round measures every
target once, in an order rotated from round to round. Prints the median requests/s per
page, its ratio to the bare view and to the bare view with a signed-in session, and the
queries one request makes (counted in this process).

    .venv/bin/python scripts/bench_pages.py --reminders 1000 --audit 1000
    .venv/bin/python scripts/bench_pages.py --reminders 100000 --audit 200000
    .venv/bin/python scripts/bench_pages.py --profile --iterations 50 --no-seed
    PAGE_CACHE=0 .venv/bin/python scripts/bench_pages.py --profile --no-seed --only "nurse dashboard" --cpu

--profile runs each page in this process under cProfile instead of gunicorn and wrk, and
prints where the time goes. DATABASE_URL and REDIS_URL name the database (created if
missing, emptied and seeded on every run unless --no-seed) and the Redis db to use.
Not a test: timings vary with the machine and its load; read the ratios, within one run.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import http.client
import io
import os
import pstats
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from scripts.benchdb import ensure_database  # noqa: E402 - once the project is on the path

WRK = shutil.which("wrk") or "/usr/bin/wrk"
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/marrow_pages_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/6"
PARENT_EMAIL = "bench-parent@example.org"
NURSE_EMAIL = "bench-nurse@example.org"
# A page with nothing of its own: signed in, audited, the site's frame.
EMPTY_PATH = "/bench/empty/"


@dataclass
class Target:
    name: str
    path: str
    who: str  # "", "parent" or "nurse": whose session cookie goes with the request
    bare: bool = False


def configure_environment(database_url: str, redis_url: str) -> dict[str, str]:
    """What production reads from its environment, with TLS redirects off for plain HTTP on 127.0.0.1."""
    values = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "benchmark-only-secret-key-not-for-production"),
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_COOKIES": "0",
        "SECURE_HSTS_SECONDS": "0",
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
        "DJANGO_SETTINGS_MODULE": "scripts.bench_settings",
        "PYTHONPATH": str(ROOT),
    }
    os.environ.update(values)
    return values


# --- Seeding -------------------------------------------------------------------------------

# Everything the seed writes; the tables migrations fill (education pages, warning signs) stay.
SEEDED_TABLES = (
    "portal_user", "procedures_location", "procedures_fastingpolicy", "portal_auditevent",
    "reminders_reminder", "reminders_outboxmessage", "django_session",
)  # fmt: skip
APPOINTMENT_KINDS = (
    "confirmation", "changed", "cancelled", "delayed",
    "fasting_evening", "fasting_morning", "aftercare_evening", "aftercare_next_day",
)  # fmt: skip
FIRST_NAMES = ("Ava", "Liam", "Sofia", "Noah", "Mia", "Mateo", "Zoe", "Elijah", "Luna", "Diego", "Aria", "Leo")
LAST_NAMES = ("Garcia", "Smith", "Nguyen", "Johnson", "Lopez", "Brown", "Patel", "Davis", "Kim", "Martinez")


def _pick(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([value for value, _ in weighted], weights=[weight for _, weight in weighted])[0]


def seed(*, procedures: int, reminders: int, audit: int) -> None:
    from django.db import connection, transaction
    from django.utils import timezone
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from portal.models import AuditEvent, Role, User
    from procedures.models import (
        EducationPage,
        FastingPolicy,
        Guardian,
        Location,
        PageView,
        Patient,
        PreparedQuestion,
        Procedure,
        Readiness,
        SymptomReport,
    )
    from reminders.models import Reminder

    rng = random.Random(20261124)  # noqa: S311 - repeatable benchmark data, not a secret
    began = time.monotonic()
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(SEEDED_TABLES)} RESTART IDENTITY CASCADE")

    with transaction.atomic():
        location = Location.objects.create(name="Bench clinic", phone="+13125550100", timezone="America/Chicago")
        FastingPolicy.objects.create()
        nurse = User.objects.create_user(email=NURSE_EMAIL, full_name="Bench Nurse", role=Role.NURSE)
        location.nurses.add(nurse)
        TOTPDevice.objects.create(user=nurse, name="Authenticator app", confirmed=True)

        # Families of one to four children; the first (the benchmark's parent) has three.
        sizes = [3]
        while sum(sizes) < procedures:
            sizes.append(rng.choice((1, 1, 2, 2, 2, 3, 4)))
        sizes[-1] -= sum(sizes) - procedures
        users, families = [], []
        for number, size in enumerate(sizes):
            names = [f"Parent{number} {rng.choice(LAST_NAMES)}"]
            if number % 3 == 1:
                names.append(f"Carer{number} {rng.choice(LAST_NAMES)}")
            emails = [PARENT_EMAIL] if number == 0 else [f"family{number}-{i}@example.org" for i in range(len(names))]
            users += [
                User(email=email, full_name=name, role=Role.GUARDIAN, password="!unusable")  # noqa: S106
                for email, name in zip(emails, names, strict=True)
            ]
            families.append((len(names), size))
        User.objects.bulk_create(users, batch_size=2000)
        guardians = Guardian.objects.bulk_create(
            [
                Guardian(
                    user=user, mobile_number=f"+1312555{index:04d}", relationship="Parent", sms_enabled=index % 2 == 0,
                    sms_consent_at=now if index % 2 == 0 else None, sms_asked_at=now,
                    sms_opted_out_at=now if index % 50 == 7 else None,
                )
                for index, user in enumerate(users)
            ],
            batch_size=2000,
        )  # fmt: skip

        today = timezone.localdate(now, location.tz)
        patients, links, family_guardians = [], [], []
        g = 0
        for number, (adults, size) in enumerate(families):
            family = guardians[g : g + adults]
            g += adults
            for _ in range(size):
                index = len(patients)
                patients.append(
                    Patient(
                        first_name=rng.choice(FIRST_NAMES), last_name=family[0].user.full_name.split()[-1],
                        date_of_birth=today - dt.timedelta(days=rng.randint(200, 17 * 365)),
                        mrn=f"BENCH{index:06d}", location=location,
                        feeding=_pick(rng, (("regular", 85), ("formula", 7), ("breast_milk", 4),
                                            ("breast_and_formula", 4))),
                        preferred_language="es" if number % 4 == 3 else "en",
                    )
                )  # fmt: skip
                family_guardians.append(family)
        Patient.objects.bulk_create(patients, batch_size=2000)
        for patient, family in zip(patients, family_guardians, strict=True):
            links += [Patient.guardians.through(patient_id=patient.pk, guardian_id=guardian.pk) for guardian in family]
        Patient.guardians.through.objects.bulk_create(links, batch_size=5000)

        # One procedure a child, over the next 60 days, 16 or so a day; the parent's three come first.
        rows = []
        for index, patient in enumerate(patients):
            day = today + dt.timedelta(days=1 + index % 3 if index < 3 else index * 60 // procedures)
            start = dt.datetime.combine(day, dt.time(7, 30), tzinfo=location.tz) + dt.timedelta(
                minutes=30 * (index % 18)
            )
            rescheduled = index % 20 == 5
            rows.append(
                Procedure(
                    patient=patient, location=location, scheduled_start=start,
                    arrival_at=start - dt.timedelta(hours=1),
                    kind=_pick(rng, (("both", 6), ("aspiration", 3), ("biopsy", 1))),
                    sedation=_pick(rng, (("general", 7), ("sedation", 2), ("local", 1))),
                    status="rescheduled" if rescheduled else "scheduled", version=2 if rescheduled else 1,
                    created_by=nurse,
                )
            )  # fmt: skip
        procedure_rows = Procedure.objects.bulk_create(rows, batch_size=2000)

        # The checklist: some families have read pages, confirmed fasting and their phone, asked questions.
        pages = list(EducationPage.objects.filter(procedure_type__slug="bone-marrow"))
        PageView.objects.bulk_create(
            (
                PageView(user_id=guardian.user_id, page=page)
                for guardian in guardians
                if rng.random() < 0.6
                for page in rng.sample(pages, rng.randint(1, len(pages)))
            ),
            batch_size=5000,
        )
        readiness, questions = [], []
        for procedure, family in zip(procedure_rows, family_guardians, strict=True):
            if rng.random() < 0.5:
                readiness.append(
                    Readiness(
                        procedure=procedure, user_id=family[0].user_id,
                        fasting_ack_version=procedure.version if rng.random() < 0.7 else None,
                        contact_confirmed_at=now if rng.random() < 0.6 else None,
                    )
                )  # fmt: skip
            if rng.random() < 0.3:
                questions.append(PreparedQuestion(procedure=procedure, user_id=family[0].user_id, standard_key="why"))
        Readiness.objects.bulk_create(readiness, batch_size=5000)
        PreparedQuestion.objects.bulk_create(questions, batch_size=5000)
        # Check-ins with warning signs, some not yet looked at: the top of the nurse dashboard.
        SymptomReport.objects.bulk_create(
            SymptomReport(
                procedure=procedure_rows[i], user_id=family_guardians[i][0].user_id, pain="some",
                chills=True, flags=["chills"], needs_attention=True, created_at=now - dt.timedelta(hours=i),
                acknowledged_at=None if i % 3 else now - dt.timedelta(hours=i / 2),
                acknowledged_by=nurse if i % 3 == 0 else None,
            )
            for i in range(3, 63)
        )  # fmt: skip

    # Reminders over the procedures: the past ones mostly delivered, some failed, expired or unknown.
    problem_mix = (("delivered", 80), ("sent", 8), ("cancelled", 4), ("failed", 4), ("expired", 3), ("unknown", 1))
    window = dt.timedelta(days=120)
    batch = []
    for i in range(reminders):
        procedure = procedure_rows[i % len(procedure_rows)]
        j = i // len(procedure_rows)
        due = now - dt.timedelta(days=60) + window * (i / max(reminders, 1))
        status = _pick(rng, problem_mix) if due < now else ("scheduled" if rng.random() < 0.9 else "cancelled")
        batch.append(
            Reminder(
                procedure=procedure, guardian=family_guardians[i % len(procedure_rows)][0],
                channel=("email", "sms")[(j // 8) % 2], kind=APPOINTMENT_KINDS[j % 8], procedure_version=j // 16 + 1,
                due_at=due, valid_until=due + dt.timedelta(hours=6), status=status,
                created_at=due - dt.timedelta(days=2),
                attempts=0 if status == "scheduled" else 1, sent_at=due if status in ("sent", "delivered") else None,
                delivered_at=due if status == "delivered" else None,
                last_error="provider said no" if status == "failed" else "",
            )
        )  # fmt: skip
        if len(batch) == 5000:
            Reminder.objects.bulk_create(batch)
            batch = []
    Reminder.objects.bulk_create(batch)
    # bulk_create stamps updated_at with now; a reminder was last touched when it was due (or planned).
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE reminders_reminder SET updated_at = CASE WHEN status = 'scheduled' THEN created_at"
            " ELSE due_at + interval '2 minutes' END"
        )

    routes = (
        ("nurse:procedure_list", "nurse", ""), ("nurse:dashboard", "nurse", ""),
        ("nurse:procedure_detail", "nurse", "procedure"), ("family:dashboard", "guardian", ""),
        ("family:procedure", "guardian", "procedure"), ("family:fasting_card", "guardian", "procedure"),
    )  # fmt: skip
    batch = []
    for i in range(audit):
        route, role, kind = routes[i % len(routes)]
        procedure = procedure_rows[rng.randrange(len(procedure_rows))]
        batch.append(
            AuditEvent(
                at=now - dt.timedelta(days=90) * (1 - i / max(audit, 1)), user_id=nurse.pk if role == "nurse" else
                users[rng.randrange(len(users))].pk, role=role, action="view", route=route, method="GET", status=200,
                patient_id=procedure.patient_id if kind else None, object_type=kind,
                object_id=procedure.pk if kind else None, ip_address="10.0.0.1",
            )
        )  # fmt: skip
        if len(batch) == 5000:
            AuditEvent.objects.bulk_create(batch)
            batch = []
    AuditEvent.objects.bulk_create(batch)

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"Seeded in {time.monotonic() - began:.0f} s: {len(procedure_rows)} procedures, {len(patients)} children, "
        f"{len(users)} guardians, {reminders} reminders, {audit} audit rows."
    )


def describe_data() -> str:
    from portal.models import AuditEvent
    from procedures.models import Procedure
    from reminders.models import Reminder

    return (
        f"{Procedure.objects.count()} procedures ({Procedure.objects.upcoming().count()} upcoming), "
        f"{Reminder.objects.count()} reminders, {AuditEvent.objects.count()} audit rows"
    )


# --- Signing in -------------------------------------------------------------------------------


def sign_in(email: str) -> str:
    """A session as the login (and, for staff, the two-step check) leaves it; returns its key."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from portal import two_factor
    from portal.models import User

    user = User.objects.get(email=email)
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store["started_at"] = store["last_seen"] = int(time.time())
    store["two_step_required"] = two_factor.required_for(user)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is not None:
        store[DEVICE_ID_SESSION_KEY] = device.persistent_id
    store.create()
    return store.session_key


def targets() -> list[Target]:
    from procedures.models import Procedure

    parent_procedure = Procedure.objects.filter(patient__guardians__user__email=PARENT_EMAIL).order_by("pk").first()
    return [
        Target("bare view", "/bench/bare/", "", bare=True),
        Target("bare, parent signed in", "/bench/session/", "parent", bare=True),
        Target("bare, nurse signed in", "/bench/session/", "nurse", bare=True),
        Target("empty page, parent", EMPTY_PATH, "parent"),
        Target("empty page, nurse", EMPTY_PATH, "nurse"),
        Target("family dashboard", "/family/", "parent"),
        Target("family procedure page", f"/family/procedures/{parent_procedure.pk}/", "parent"),
        Target("nurse procedure list", "/nurse/", "nurse"),
        Target("nurse dashboard", "/nurse/dashboard/", "nurse"),
    ]


# --- Counting queries and profiling, in this process ------------------------------------------


def client_for(who: str, sessions: dict[str, str]):
    from django.conf import settings
    from django.test import Client

    client = Client()
    if who:
        client.cookies[settings.SESSION_COOKIE_NAME] = sessions[who]
    return client


def check_response(target: Target, response) -> None:
    if response.status_code != 200:
        sys.exit(f"{target.name} ({target.path}) answered {response.status_code}, not 200: check the sign-in.")


def count_queries(pages: list[Target], sessions: dict[str, str], repeat: int = 5) -> dict[str, tuple[int, float, list]]:
    """Per page: the queries of one request (after a warm-up request), and the median SQL time over `repeat`.

    Returns the count, the median milliseconds in SQL a request, and the three slowest
    statements (median time of each, keyed by their text before parameters go in).
    """
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = {}
    for target in pages:
        client = client_for(target.who, sessions)
        check_response(target, client.get(target.path))
        per_sql: dict[str, list[float]] = {}
        totals = []

        def timer(execute, sql, params, many, context, per_sql=per_sql):
            began = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                per_sql.setdefault(sql, []).append(time.perf_counter() - began)

        with CaptureQueriesContext(connection) as captured:
            check_response(target, client.get(target.path))
        # As assertNumQueries counts (a transaction's BEGIN and COMMIT too); read now, as the
        # next request empties the connection's query log.
        count = len(captured)
        for _ in range(repeat):
            before = sum(len(times) for times in per_sql.values()), sum(sum(times) for times in per_sql.values())
            with connection.execute_wrapper(timer):
                check_response(target, client.get(target.path))
            totals.append(sum(sum(times) for times in per_sql.values()) - before[1])
        slowest = sorted(((statistics.median(times), sql) for sql, times in per_sql.items()), reverse=True)[:3]
        counts[target.name] = (count, statistics.median(totals) * 1000, slowest)
    return counts


def _short_sql(sql: str) -> str:
    """The statement from its outermost FROM on (the column lists say little), on one line."""
    sql = " ".join(sql.split())
    depth = 0
    for index, char in enumerate(sql):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and sql.startswith(" FROM ", index):
            return (sql.split(" ")[0] + " ..." + sql[index:])[:170]
    return sql[:170]


def quiet_request_log() -> None:
    """The request log lines still get formatted (as in production) but go nowhere in this process."""
    import logging

    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
            handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the process


# (label, file suffix, function name): the outermost call of each is reported.
WATCHED = (
    ("middleware and request handling outside the view", "", ""),
    ("the view (including its template)", "django/core/handlers/base.py", "_get_response"),
    ("template rendering", "django/template/base.py", "render"),
    ("SQL: waiting for PostgreSQL (cursor.execute)", "~", "<method 'execute' of 'psycopg2.extensions.cursor' objects>"),
    ("SQL: compiling queries (SQLCompiler.as_sql)", "django/db/models/sql/compiler.py", "as_sql"),
    ("SQL: building querysets (filter/exclude)", "django/db/models/query.py", "_filter_or_exclude"),
    ("SQL: building querysets (annotate)", "django/db/models/query.py", "_annotate"),
    ("ORM: making model instances (Model.from_db)", "django/db/models/base.py", "from_db"),
    ("session load (db backend)", "django/contrib/sessions/backends/db.py", "load"),
    ("session save (db backend)", "django/contrib/sessions/backends/db.py", "save"),
    ("auth: loading the user", "django/contrib/auth/__init__.py", "get_user"),
    ("django-otp middleware", "django_otp/middleware.py", "_verify_user"),
    ("audit row (portal.audit.record)", "portal/audit.py", "record"),
    ("request log line (logging handle)", "logging/__init__.py", "handle"),
    ("CSP header (csp middleware)", "csp/middleware.py", "process_response"),
    ("url reversals (django.urls.reverse)", "django/urls/base.py", "reverse"),
    ("gettext (translation lookups)", "django/utils/translation/__init__.py", "gettext"),
    ("{% translate %} / {% blocktranslate %} nodes", "django.templatetags.i18n:TranslateNode.render", "", "code"),
    ("", "django.templatetags.i18n:BlockTranslateNode.render", "", "code"),
    ("|date and |time filters (dateformat)", "django/utils/dateformat.py", "format"),
    ("{% include %} nodes", "django.template.loader_tags:IncludeNode.render", "", "code"),
    ("{% url %} nodes", "django.template.defaulttags:URLNode.render", "", "code"),
    ("{% for %} loops (all nested)", "django.template.defaulttags:ForNode.render", "", "code"),
    ("form widgets rendered", "django/forms/boundfield.py", "as_widget"),
    ("paginator count", "django/core/paginator.py", "count"),
    ("phones context processor (family clinics)", "procedures/context_processors.py", "<lambda>"),
    ("FastingPolicy.current()", "procedures/models/fasting_policy.py", "current"),
    ("Procedure.fasting_plan", "procedures/models/care.py", "fasting_plan"),
    ("fasting_display.describe_plan", "procedures/fasting_display.py", "describe_plan"),
    ("readiness.checklist", "procedures/readiness.py", "checklist"),
    ("readiness.with_readiness (building the annotations)", "procedures/readiness.py", "with_readiness"),
    ("readiness.with_user_readiness", "procedures/readiness.py", "with_user_readiness"),
    ("dashboard.build (nurse dashboard queries)", "procedures/dashboard.py", "build"),
    ("Location.localize (clinic time)", "procedures/models/care.py", "localize"),
    ("|phone and |tel filters (phonenumbers parsing)", "procedures/templatetags/procedures_extras.py", "phone"),
    ("", "procedures/templatetags/procedures_extras.py", "tel"),
    ("Model.__init__ (instances made)", "django/db/models/base.py", "__init__"),
)


def _code_of(spec: str) -> tuple[str, int, str]:
    import importlib

    module, _, attribute = spec.partition(":")
    function = importlib.import_module(module)
    for part in attribute.split("."):
        function = getattr(function, part)
    code = function.__code__
    return code.co_filename, code.co_firstlineno, code.co_name


def _outermost(stats: dict, suffix: str, name: str, how: str = "max") -> tuple[int, float]:
    """Calls and cumulative seconds of the matching function with the largest cumulative time.

    With how="code", `suffix` names one function exactly ("module:Class.method").
    """
    if how == "code":
        _cc, calls, _tt, cumulative, _callers = stats.get(_code_of(suffix), (0, 0, 0.0, 0.0, None))
        return calls, cumulative
    found = [
        (calls, cumulative)
        for (filename, _line, function), (_cc, calls, _tt, cumulative, _callers) in stats.items()
        if function == name and filename.endswith(suffix)
    ]
    return max(found, key=lambda pair: pair[1], default=(0, 0.0))


def profile(pages: list[Target], sessions: dict[str, str], iterations: int, top: int, cpu: bool = False) -> None:
    print(f"\nIn-process profile: {iterations} requests per page through django.test.Client (full middleware).")
    for target in pages:
        client = client_for(target.who, sessions)
        for _ in range(3):
            check_response(target, client.get(target.path))
        began, began_cpu = time.perf_counter(), time.process_time()
        for _ in range(iterations):
            client.get(target.path)
        plain_ms = (time.perf_counter() - began) * 1000 / iterations
        cpu_ms = (time.process_time() - began_cpu) * 1000 / iterations
        # CPU time: the work a request costs this process, whatever else the machine is doing.
        profiler = cProfile.Profile(time.process_time) if cpu else cProfile.Profile()
        profiler.enable()
        for _ in range(iterations):
            client.get(target.path)
        profiler.disable()
        stats = pstats.Stats(profiler)
        raw = stats.stats  # type: ignore[attr-defined]
        _calls, total = _outermost(raw, "django/test/client.py", "request")
        print(
            f"\n=== {target.name} ({target.path}): {plain_ms:.1f} ms a request unprofiled, "
            f"{cpu_ms:.1f} ms of it this process's CPU ==="
        )
        if cpu:
            print("(profile in CPU time: waiting for PostgreSQL counts only as the client's share)")
        print(f"{'share':>6} {'ms/req':>7} {'calls/req':>9}  what (cProfile, cumulative; lines overlap)")
        view_calls, view_time = _outermost(raw, "django/core/handlers/base.py", "_get_response")
        for label, suffix, name, *how in WATCHED:
            if name or how:
                calls, cumulative = _outermost(raw, suffix, name, *how)
            else:
                calls, cumulative = view_calls, total - view_time
            if cumulative <= 0:
                continue
            per = 1000 * cumulative / iterations
            print(f"{cumulative / total:6.1%} {per:7.2f} {calls / iterations:9.1f}  {label or '  (same, other)'}")
        out = io.StringIO()
        project = pstats.Stats(profiler, stream=out)
        project.sort_stats("cumulative").print_stats(r"/(portal|procedures|reminders)/", top)
        print(f"--- top {top} project functions by cumulative time ---")
        print(_trim_pstats(out.getvalue()))
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
        print(f"--- top {top} functions by own time ---")
        print(_trim_pstats(out.getvalue()))


def _trim_pstats(text: str) -> str:
    lines = [line.replace(str(ROOT) + "/", "") for line in text.splitlines()]
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
    kept = [re.sub(r"\S*/site-packages/", "", line) for line in lines[start:] if line.strip()]
    return "\n".join(kept)


# --- Serving and measuring ----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(port: int, target: Target, cookie: str) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", target.path, headers={"Cookie": cookie} if cookie else {})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, response.getheader("Location", "") or body[:40].decode(errors="replace")


def start_gunicorn(port: int, log: Path) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "gunicorn", "portal.wsgi:application", "--workers", "2", "--worker-class", "sync",
        "--bind", f"127.0.0.1:{port}", "--error-logfile", "-",
    ]  # fmt: skip
    with log.open("ab") as sink:
        server = subprocess.Popen(command, cwd=ROOT, stdout=sink, stderr=sink)  # noqa: S603 - our own command
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if get(port, Target("health", "/healthz", ""), "")[0] == 200:
                return server
        except OSError:
            time.sleep(0.3)
    server.terminate()
    sys.exit(f"gunicorn did not answer on port {port}; see {log}")


def wrk(port: int, target: Target, cookie: str, seconds: float) -> float:
    command = [WRK, "-t2", "-c4", f"-d{round(seconds)}s", "--timeout", "10s", f"http://127.0.0.1:{port}{target.path}"]
    if cookie:
        command[1:1] = ["-H", f"Cookie: {cookie}"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout  # noqa: S603
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    if bad or errors:
        print(f"  warning: {target.name}: {bad.group(0) if bad else ''} {errors.group(0) if errors else ''}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))


def serve_and_measure(
    everything: list[Target], sessions: dict[str, str], queries: dict, *, rounds: int, seconds: float
) -> None:
    from django.conf import settings

    cookies = {who: f"{settings.SESSION_COOKIE_NAME}={key}" for who, key in sessions.items()}
    cookies[""] = ""
    log = ROOT / "var" / "bench-pages-gunicorn.log"
    log.parent.mkdir(exist_ok=True)
    port = free_port()
    server = start_gunicorn(port, log)
    # A plain `kill` of this script stops gunicorn too (through the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped"))
    try:
        for target in everything:
            status, detail = get(port, target, cookies[target.who])
            if status != 200 or (target.bare and target.who and detail != "ok"):
                sys.exit(f"{target.name} answered {status} {detail!r} over HTTP; see {log}")
            wrk(port, target, cookies[target.who], 2)  # warm both workers and their connections
        bare = everything[0]
        signed_in = {target.who: target for target in everything if target.bare and target.who}
        pages = [target for target in everything if not target.bare]
        results: dict[str, list[float]] = {target.name: [] for target in everything}
        # Each page right after the two bare views it is compared with, so a change in the
        # machine's load between rounds touches both sides of a ratio alike.
        ratios: dict[str, list[tuple[float, float]]] = {target.name: [] for target in pages}
        for number in range(rounds):
            shift = number % len(pages)
            for target in pages[shift:] + pages[:shift]:
                measured = [wrk(port, one, cookies[one.who], seconds) for one in (bare, signed_in[target.who], target)]
                for one, rate in zip((bare, signed_in[target.who], target), measured, strict=True):
                    results[one.name].append(rate)
                ratios[target.name].append((measured[2] / measured[0], measured[2] / measured[1]))
            print(f"  round {number + 1}/{rounds} done", flush=True)
    finally:
        server.terminate()
        server.wait(30)

    header = f"{'page':<26} {'req/s median':>12} {'(min-max)':>13} {'÷ bare':>7} {'÷ bare signed in':>16}"
    header += f" {'÷ empty page':>12} {'queries':>7}"
    print("\n" + header + "\n" + "-" * len(header))
    empty = {target.who: target for target in pages if target.path == EMPTY_PATH}
    to_signed_in: dict[str, float] = {}
    for target in everything:
        values = results[target.name]
        if target.bare:
            to_bare = statistics.median(values) / statistics.median(results[bare.name])
            to_signed_in[target.name] = 1.0 if target.who else to_bare
        else:
            to_bare = statistics.median(ratio for ratio, _ in ratios[target.name])
            to_signed_in[target.name] = statistics.median(ratio for _, ratio in ratios[target.name])
        floor = empty.get(target.who) if not target.bare else None
        to_empty = to_signed_in[target.name] / to_signed_in[floor.name] if floor and floor is not target else None
        count = queries.get(target.name, (None,))[0]
        print(
            f"{target.name:<26} {statistics.median(values):12.1f} {f'({min(values):.0f}-{max(values):.0f})':>13}"
            f" {to_bare:7.3f} {to_signed_in[target.name]:16.3f} {'' if to_empty is None else f'{to_empty:.3f}':>12}"
            f" {'' if count is None else count:>7}"
        )
    print("÷ bare: the page's req/s over the bare view's measured just before it, median of the rounds;")
    print("÷ bare signed in: the same against the bare view with the same user's session;")
    print("÷ empty page: that over the same user's empty page's (signed in, audited, the site's frame).")
    print("wrk: 2 threads, 4 connections; gunicorn: 2 sync workers.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--procedures", type=int, default=1000)
    parser.add_argument("--reminders", type=int, default=100_000)
    parser.add_argument("--audit", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=4.0, help="length of one wrk run")
    parser.add_argument("--no-seed", action="store_true", help="keep the data already in the database")
    parser.add_argument("--profile", action="store_true", help="profile in this process instead of serving")
    parser.add_argument("--iterations", type=int, default=50, help="requests per page under --profile")
    parser.add_argument("--top", type=int, default=20, help="lines of each pstats listing under --profile")
    parser.add_argument("--only", default="", help="under --profile: only the pages whose name contains this")
    parser.add_argument("--cpu", action="store_true", help="under --profile: count CPU time, not the clock's")
    args = parser.parse_args()

    database_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE)
    if not database_url.startswith("postgres"):
        sys.exit("The benchmark needs PostgreSQL (DATABASE_URL=postgres://...).")
    configure_environment(database_url, os.environ.get("REDIS_URL", DEFAULT_REDIS))
    ensure_database(database_url)

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    if not args.no_seed:
        seed(procedures=args.procedures, reminders=args.reminders, audit=args.audit)
    print(f"Data: {describe_data()}.")
    quiet_request_log()
    sessions = {"parent": sign_in(PARENT_EMAIL), "nurse": sign_in(NURSE_EMAIL)}
    everything = targets()
    pages = [target for target in everything if not target.bare]
    if args.profile:
        profile([page for page in pages if args.only in page.name], sessions, args.iterations, args.top, args.cpu)
        return
    queries = count_queries(everything, sessions)
    print("\nQueries of one request (counted in this process, after a warm-up request):")
    for name, (count, total_ms, slowest) in queries.items():
        print(f"  {name:<26} {count:3d} queries, {total_ms:6.1f} ms in SQL a request (median of 5); slowest:")
        for seconds, sql in slowest:
            print(f"      {seconds * 1000:6.2f} ms  {_short_sql(sql)}")
    serve_and_measure(everything, sessions, queries, rounds=args.rounds, seconds=args.seconds)


if __name__ == "__main__":
    main()
