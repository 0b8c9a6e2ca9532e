"""Worker faults with a provider on the other end of a real socket.

A fake Twilio REST API runs in this process over HTTP; real Celery workers
(subprocesses on Redis and PostgreSQL) send texts to it. Each drill kills or
cuts something mid-flight, lets the sweeper and the provider check do their
work, and then counts, for every reminder: texts the provider got (lost: 0,
duplicated: more than 1) and rows left for a nurse to look at (flagged).
`pytest -s` prints the counts.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socketserver
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import redis
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from portal.models import Heartbeat
from procedures.models import Procedure
from reminders import dispatch, recovery, tasks
from reminders.models import Kind, Reminder, Status
from reminders.planning import sync_reminders
from tests.factories import GuardianFactory, LocationFactory, PatientFactory
from tests.workers import start_worker, stop, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("no_quiet_hours")]


class FakeTwilio(BaseHTTPRequestHandler):
    """Creates each message it is sent, a little slowly, and lists them when asked."""

    protocol_version = "HTTP/1.1"  # keeps the connection open after answering, as Twilio does
    # The answer goes out as soon as it is written, as a web server sends it: with Nagle's algorithm
    # on, the body would wait for the client to acknowledge the headers (up to 40 ms of delayed ACK).
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        fields = urllib.parse.parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        with self.server.lock:
            self.server.arrived.append(fields["To"][0])  # the call has started: it may end in a text
        time.sleep(self.server.delay)  # a real API takes a moment: long enough to be killed in
        with self.server.lock:
            sid = f"SM{len(self.server.messages):032d}"
            self.server.messages.append(
                {
                    "sid": sid,
                    "to": fields["To"][0],
                    "body": fields["Body"][0],
                    "status": "queued",
                    "date_created": format_datetime(dt.datetime.now(dt.UTC)),
                }
            )
        self._answer(201, {"sid": sid, "status": "queued"})

    def do_GET(self) -> None:
        to = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)["To"][0]
        with self.server.lock:
            found = [m for m in self.server.messages if m["to"] == to]
        self._answer(200, {"messages": found})

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def twilio(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeTwilio)
    server.daemon_threads = True
    server.messages, server.arrived, server.lock, server.delay = [], [], threading.Lock(), 0.05
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    env = {
        "SMS_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": "AC1",
        "TWILIO_AUTH_TOKEN": "token",
        "TWILIO_FROM_NUMBER": "+13125550000",
        "TWILIO_API_URL": f"http://127.0.0.1:{server.server_address[1]}",
        "NO_PROXY": "127.0.0.1",
    }
    for key, value in env.items():
        setattr(settings, key, value)
    server.env = env
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def queue() -> str:
    return f"drill-{uuid.uuid4().hex[:10]}"


def ring(queue: str):
    return lambda pk: tasks.send_reminder.apply_async(args=[pk], queue=queue)


def texts_due(n: int, channels: tuple[str, ...] = ("sms",)) -> list[int]:
    """n families, each with a message due now on each channel, as a morning's confirmations would be."""
    location = LocationFactory()
    now = timezone.now()
    rows = []
    for i in range(n):
        guardian = GuardianFactory(
            mobile_number=f"+1312555{i:04d}",
            user__email=f"family{i:04d}@example.org",
            sms_enabled=True,
            sms_consent_at=now,
            sms_consent_text="I agree.",
        )
        patient = PatientFactory(location=location, guardians=[guardian], first_name=f"Kid{i:04d}")
        procedure = Procedure.objects.create(
            patient=patient,
            location=location,
            scheduled_start=now + dt.timedelta(days=2),
            arrival_at=now + dt.timedelta(days=2, hours=-1),
        )
        rows += [
            Reminder(
                procedure=procedure,
                guardian=guardian,
                channel=channel,
                kind=Kind.CONFIRMATION,
                due_at=now - dt.timedelta(seconds=1),
                valid_until=now + dt.timedelta(hours=2),
                procedure_version=procedure.version,
            )
            for channel in channels
        ]
    return [r.pk for r in Reminder.objects.bulk_create(rows)]


def settle(queue: str, worker_env: dict[str, str], redis_url: str) -> Counter:
    """After the faults: the sweeper and the provider check run as they would later, and beat keeps ringing."""
    checked: Counter = Counter()
    worker = start_worker(redis_url, queue, env=worker_env)
    try:
        for minutes in (11, 14, 17):
            later = timezone.now() + dt.timedelta(minutes=minutes)
            checked.update({f"swept {k}": v for k, v in recovery.sweep(now=later, enqueue=ring(queue)).items()})
            checked.update({f"provider {k}": v for k, v in recovery.reconcile(now=later).items()})
            while dispatch.claim_due(now=later, enqueue=ring(queue)):
                pass
            wait_for(lambda: not Reminder.objects.filter(status__in=["queued", "sending"]).exists(), 60)
    finally:
        stop(worker)
    return +checked


def count(server: FakeTwilio, ids: list[int]) -> dict[str, int]:
    got = Counter(m["to"] for m in server.messages)
    reminders = Reminder.objects.filter(pk__in=ids).select_related("guardian")
    per = {r.pk: got[r.guardian.mobile_number] for r in reminders}
    return {
        "reminders": len(ids),
        "texts at the provider": len(server.messages),
        "lost": sum(1 for r in reminders if per[r.pk] == 0 and r.status != Status.UNKNOWN),
        "duplicated": sum(1 for n in per.values() if n > 1),
        "flagged": sum(1 for r in reminders if r.status in (Status.UNKNOWN, Status.FAILED)),
        "sent": sum(1 for r in reminders if r.status == Status.SENT),
    }


@pytest.fixture
def drill(transactional_db, postgres, redis_url, twilio, queue):
    Reminder.objects.all().delete()
    return twilio


def test_a_worker_killed_mid_call_three_times_loses_nothing_and_sends_nothing_twice(drill, redis_url, queue, capsys):
    ids = texts_due(200)
    dispatch.claim_due(enqueue=ring(queue))
    for round_ in range(3):
        worker = start_worker(redis_url, queue, env=drill.env)
        seen = len(drill.messages)
        try:
            assert wait_for(lambda seen=seen: len(drill.messages) >= seen + 15, 60), stop(worker)
            os.kill(worker.pid, signal.SIGKILL)  # in the middle of a call: the API sleeps on each
            worker.wait(10)
        finally:
            stop(worker)
        assert len(drill.messages) < len(ids), f"round {round_}: all sent before the kill; make it bigger"
    checked = settle(queue, drill.env, redis_url)
    counts = count(drill, ids)
    with capsys.disabled():
        print(f"\nSIGKILL mid-call x3: {counts}; on the way: {dict(checked)}")
    assert counts["lost"] == 0
    assert counts["duplicated"] == 0
    assert counts["sent"] + counts["flagged"] == len(ids)


def test_redis_flushed_and_two_beats_at_once_lose_nothing_and_send_nothing_twice(drill, redis_url, queue, capsys):
    ids = texts_due(150)
    dispatch.claim_due(enqueue=ring(queue))
    redis.Redis.from_url(redis_url).flushdb()  # every doorbell lost
    workers = [start_worker(redis_url, queue, env=drill.env) for _ in range(2)]
    try:
        later = timezone.now() + dt.timedelta(minutes=11)

        def beat() -> None:
            try:
                recovery.sweep(now=later, enqueue=ring(queue))
            finally:
                connection.close()

        beats = [threading.Thread(target=beat), threading.Thread(target=beat)]
        for beat in beats:
            beat.start()
        for beat in beats:
            beat.join(30)
        assert wait_for(lambda: len(drill.messages) >= len(ids), 120)
    finally:
        for worker in workers:
            stop(worker)
    checked = settle(queue, drill.env, redis_url)
    counts = count(drill, ids)
    with capsys.disabled():
        print(f"\nRedis flushed, two sweeps at once: {counts}; on the way: {dict(checked)}")
    assert counts == {**counts, "lost": 0, "duplicated": 0, "flagged": 0, "sent": len(ids)}


class HungMailServer(socketserver.BaseRequestHandler):
    """Accepts the connection and never says a word."""

    def handle(self) -> None:
        self.server.release.wait(120)


def test_a_hung_mail_server_holds_up_no_texts_and_fails_the_email_workers_health_check(
    transactional_db, postgres, redis_url, queue, twilio, patient, texting_guardian
):
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), HungMailServer)
    server.daemon_threads, server.release = True, threading.Event()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {
        **twilio.env,
        "CELERY_QUEUE": queue,
        "REMINDER_EMAIL_BACKEND": "email",
        "EMAIL_URL": f"smtp://127.0.0.1:{server.server_address[1]}",
        "EMAIL_TIMEOUT": "60",  # long enough to show the email worker stuck
    }
    book_at = timezone.now()
    procedure = Procedure.objects.create(
        patient=patient,
        location=patient.location,
        scheduled_start=book_at + dt.timedelta(days=2),
        arrival_at=book_at + dt.timedelta(days=2, hours=-1),
    )
    sync_reminders(procedure, event=Kind.CONFIRMATION)
    email_worker = start_worker(redis_url, queue, env=env, only=f"{queue}-email")
    sms_worker = start_worker(redis_url, queue, env=env, only=f"{queue}-sms")
    try:
        with override_settings(SEND_QUEUES={"sms": f"{queue}-sms", "email": f"{queue}-email"}):
            dispatch.claim_due(enqueue=tasks.enqueue)
            email = Reminder.objects.get(channel="email", kind=Kind.CONFIRMATION)
            assert wait_for(lambda: Reminder.objects.get(pk=email.pk).status == Status.SENDING, 60)
            # The email worker is stuck on the silent server; the text still goes. (Twilio keeps it
            # before it answers, and the worker records it after: wait for the record, not the text.)
            text = Reminder.objects.get(channel="sms", kind=Kind.CONFIRMATION)
            assert wait_for(lambda: Reminder.objects.get(pk=text.pk).status == Status.SENT, 60)
            assert len(twilio.messages) == 1
            for name in ("sms", "email"):
                tasks.queue_heartbeat.apply_async(args=[f"{queue}-{name}"], queue=f"{queue}-{name}")
            assert wait_for(lambda: Heartbeat.objects.filter(name=f"queue:{queue}-sms").exists(), 30)
        call_command("check_heartbeat", f"queue:{queue}-sms")
        with pytest.raises(CommandError):  # the stuck worker's own heartbeat never ran
            call_command("check_heartbeat", f"queue:{queue}-email")
    finally:
        server.release.set()
        stop(sms_worker)
        stop(email_worker)
        server.shutdown()
        server.server_close()
