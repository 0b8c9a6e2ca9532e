"""Unknown outcomes: a provider that answers after we gave up, a mail server that hangs.

A timeout after the request went out is not a failure: the provider is asked
before anything is sent again, and only a definite "not accepted" is retried.
The fakes misbehave the way real ones do: a Twilio that creates the message
and then is too slow to say so, a socket that accepts and never answers, an
SMTP server that takes the message and then falls silent.
"""

from __future__ import annotations

import datetime as dt
import socket
import socketserver
import threading
from collections.abc import Iterator
from email.utils import format_datetime
from unittest import mock

import pytest
import time_machine
from celery.fixups.django import DjangoWorkerFixup
from django.core.management import CommandError, call_command
from django.db import connection

from portal.celery import app
from portal.tasks import record_heartbeat
from reminders import channels, dispatch, http, recovery, tasks
from reminders.models import AttemptOutcome, Kind, OutboxMessage, Reminder, Status

from .conftest import BOOKED_AT, EVENING, UTC, run_due


def reconcile(at: dt.datetime) -> dict[str, int]:
    with time_machine.travel(at, tick=False):
        return recovery.reconcile()


class SlowTwilio:
    """Creates each message it is given; answers late (after our timeout) when told to."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.answer_late = 0
        self.lose_next = 0
        self.lookups_down = False

    def post(self, url: str, data: dict[str, str], *, auth: tuple[str, str] | None = None) -> http.Response:
        if self.lose_next:
            self.lose_next -= 1
            raise http.NoAnswer("timed out")  # the request was cut before Twilio created anything
        sid = f"SM{len(self.messages):032d}"
        created = format_datetime(dt.datetime.now(UTC))
        self.messages.append({"sid": sid, "to": data["To"], "body": data["Body"], "date_created": created})
        if self.answer_late:
            self.answer_late -= 1
            raise http.NoAnswer("The read operation timed out")
        return http.Response(201, {"sid": sid, "status": "queued"})

    def get(self, url: str, params: dict[str, str], *, auth: tuple[str, str] | None = None) -> http.Response:
        if self.lookups_down:
            return http.Response(503, {})
        found = [m | {"status": "delivered"} for m in self.messages if m["to"] == params["To"]]
        return http.Response(200, {"messages": found})


@pytest.fixture
def twilio(booked, settings) -> Iterator[SlowTwilio]:
    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC123", "token"
    settings.TWILIO_FROM_NUMBER = "+13125550000"
    fake = SlowTwilio()
    with mock.patch.object(http, "post", fake.post), mock.patch.object(http, "get", fake.get):
        run_due(BOOKED_AT)  # the booking texts go first; the tests are about the evening one
        fake.messages.clear()
        yield fake


def evening_sms() -> Reminder:
    return Reminder.objects.get(channel="sms", kind=Kind.FASTING_EVENING)


def test_a_provider_that_accepts_after_our_timeout_sends_exactly_one_text(booked, twilio):
    twilio.answer_late = 1
    run_due(EVENING)
    assert evening_sms().status == Status.UNKNOWN
    assert evening_sms().delivery_attempts.get().outcome == AttemptOutcome.UNKNOWN
    # Beat keeps running: nothing sends it again while no one knows.
    run_due(EVENING + dt.timedelta(minutes=1))
    assert reconcile(EVENING + dt.timedelta(minutes=1)) == {"found": 0, "not_found": 0, "cannot_tell": 0, "settled": 0}
    assert reconcile(EVENING + dt.timedelta(minutes=3)) == {"found": 1, "not_found": 0, "cannot_tell": 0, "settled": 0}
    run_due(EVENING + dt.timedelta(minutes=4))
    sms = evening_sms()
    assert (sms.status, sms.provider_message_id) == (Status.SENT, twilio.messages[0]["sid"])
    assert "Twilio has it: delivered" in sms.last_error
    assert len(twilio.messages) == 1


def test_a_request_twilio_never_got_is_sent_again_once(booked, twilio):
    twilio.lose_next = 1
    run_due(EVENING)
    assert evening_sms().status == Status.UNKNOWN
    assert reconcile(EVENING + dt.timedelta(minutes=3))["not_found"] == 1
    assert evening_sms().status == Status.SCHEDULED
    run_due(EVENING + dt.timedelta(minutes=3))
    assert evening_sms().status == Status.SENT
    assert len(twilio.messages) == 1


def test_while_twilio_cannot_be_asked_the_text_stays_unknown_and_the_nurse_sees_why(booked, twilio, client, nurse):
    twilio.answer_late = 1
    twilio.lookups_down = True
    run_due(EVENING)
    assert reconcile(EVENING + dt.timedelta(minutes=3))["cannot_tell"] == 1
    sms = evening_sms()
    assert sms.status == Status.UNKNOWN and "Twilio answered 503" in sms.last_error
    twilio.lookups_down = False
    assert reconcile(EVENING + dt.timedelta(minutes=6))["found"] == 1
    assert len(twilio.messages) == 1


def test_resend_waits_until_the_provider_was_asked(booked, twilio, client, nurse):
    twilio.answer_late = 1
    run_due(EVENING)
    client.force_login(nurse)
    with time_machine.travel(EVENING + dt.timedelta(minutes=1), tick=False):
        page = client.post(f"/nurse/reminders/{evening_sms().pk}/resend/", follow=True).content.decode()
    assert "still asking the provider" in page
    assert not Reminder.objects.filter(resend_of__isnull=False).exists()


# --- Email: what a mail server lets us know ---------------------------------------------


class SilentServer(socketserver.BaseRequestHandler):
    """Accepts the connection and never says a word."""

    def handle(self) -> None:
        self.server.release.wait(30)


class SilentAfterData(socketserver.StreamRequestHandler):
    """Takes the whole message, then never answers."""

    def handle(self) -> None:
        self.wfile.write(b"220 mail.example ESMTP\r\n")
        while line := self.rfile.readline():
            command = line.strip().upper()
            if command.startswith((b"EHLO", b"HELO")):
                self.wfile.write(b"250 mail.example\r\n")
            elif command == b"DATA":
                self.wfile.write(b"354 go ahead\r\n")
                while self.rfile.readline().rstrip(b"\r\n") != b".":
                    pass
                self.server.release.wait(30)
                return
            elif command == b"QUIT":
                return
            else:
                self.wfile.write(b"250 ok\r\n")


@pytest.fixture
def smtp_server(request, settings) -> Iterator[socketserver.ThreadingTCPServer]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), request.param)
    server.daemon_threads = True
    server.release = threading.Event()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.server_address[1]
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 1
    settings.REMINDER_EMAIL_BACKEND = "email"
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


def _send_in_thread(message: channels.Message) -> BaseException | str:
    """Run the send where a hang would show: the test waits at most 30 s for it."""
    outcome: list[BaseException | str] = []

    def run() -> None:
        try:
            outcome.append(channels.EmailTransport().send(message))
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    assert outcome, "the email send hung past every timeout"
    return outcome[0]


MESSAGE = channels.Message("email", "alice@example.org", "Subject", "Body", 1)


@pytest.mark.parametrize("smtp_server", [SilentServer], indirect=True)
def test_a_mail_server_that_never_answers_is_a_definite_temporary_failure(smtp_server):
    outcome = _send_in_thread(MESSAGE)
    assert isinstance(outcome, channels.DeliveryError) and not outcome.permanent


@pytest.mark.parametrize("smtp_server", [SilentAfterData], indirect=True)
def test_a_mail_server_that_goes_silent_after_the_message_is_an_unknown_outcome(smtp_server):
    outcome = _send_in_thread(MESSAGE)
    assert isinstance(outcome, channels.OutcomeUnknown)
    lookup = channels.EmailTransport().lookup(channels.Sent(1, "alice@example.org", "", dt.datetime.now(UTC)))
    assert lookup.found is None and "may or may not have arrived" in lookup.detail


# --- Queues, health checks, connections --------------------------------------------------


def test_texts_and_emails_wait_in_their_own_queues(booked, settings):
    sent = []
    with (
        mock.patch.object(tasks.send_reminder, "apply_async", side_effect=lambda **kw: sent.append(kw)),
        time_machine.travel(BOOKED_AT, tick=False),
    ):
        for pk in dispatch.claim_due(enqueue=lambda pk: None):
            tasks.enqueue(pk)
    queues = {Reminder.objects.get(pk=kw["args"][0]).channel: kw["queue"] for kw in sent}
    assert queues == {"sms": settings.SEND_QUEUES["sms"], "email": settings.SEND_QUEUES["email"]}
    assert len(set(queues.values())) == 2


def test_the_worker_health_check_fails_when_its_heartbeat_is_stale(db):
    with time_machine.travel(BOOKED_AT, tick=False):
        record_heartbeat("queue:celery-email")
    with time_machine.travel(BOOKED_AT + dt.timedelta(minutes=2), tick=False):
        call_command("check_heartbeat", "queue:celery-email", "--max-age", "180")
    with (
        time_machine.travel(BOOKED_AT + dt.timedelta(minutes=4), tick=False),
        pytest.raises(CommandError, match="older than 180 s"),
    ):
        call_command("check_heartbeat", "queue:celery-email", "--max-age", "180")
    with pytest.raises(CommandError):
        call_command("check_heartbeat", "queue:never-seen")


def test_the_worker_keeps_its_database_connection_between_tasks(db):
    fixup = DjangoWorkerFixup(app)
    assert fixup.db_reuse_max == 1000
    connection.ensure_connection()
    before = connection.connection
    for _ in range(10):  # what the worker does after each task
        fixup.close_database()
    assert connection.connection is before


# --- The HTTP wrapper tells "never got there" from "no answer" ------------------------------


def test_a_refused_connection_never_reached_the_provider():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(http.TransportError):
        http.post(f"http://127.0.0.1:{port}/", {"a": "b"})


def test_a_request_sent_to_a_server_that_never_answers_has_no_answer(monkeypatch):
    monkeypatch.setattr(http, "TIMEOUT_SECONDS", 0.5)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    try:
        with pytest.raises(http.NoAnswer):
            http.post(f"http://127.0.0.1:{listener.getsockname()[1]}/", {"a": "b"})
    finally:
        listener.close()


def test_the_outbox_is_asked_directly(booked):
    with time_machine.travel(BOOKED_AT, tick=False):
        ids = dispatch.claim_due(enqueue=lambda pk: None)
        dispatch.send(ids[0])
    landed = OutboxMessage.objects.get(reminder_id=ids[0])
    sent = channels.Sent(ids[0], landed.to, "", dt.datetime.now(UTC))
    assert channels.OutboxTransport().lookup(sent) == channels.Lookup(True, f"outbox-{landed.pk}")
    assert channels.OutboxTransport().lookup(channels.Sent(ids[1], "", "", dt.datetime.now(UTC))).found is False


def _unknown_emails(booked, n: int, *, at: dt.datetime) -> None:
    """n emails whose mail server stopped answering, older than the text."""
    base = Reminder.objects.filter(procedure=booked, channel="email", kind=Kind.FASTING_EVENING).get()
    rows = [
        Reminder(
            procedure=booked,
            guardian=base.guardian,
            channel="email",
            kind=Kind.FASTING_EVENING,
            due_at=at,
            valid_until=at + dt.timedelta(hours=12),
            procedure_version=booked.version,
            status=Status.UNKNOWN,
            attempts=1,
            resend_of=base,
        )
        for _ in range(n)
    ]
    Reminder.objects.bulk_create(rows)
    Reminder.objects.filter(pk__in=[row.pk for row in rows]).update(updated_at=at)


def test_unknown_emails_never_crowd_out_texts_and_are_settled_once(booked, twilio, settings):
    settings.REMINDER_EMAIL_BACKEND = "email"  # a mail server: it cannot be asked afterwards
    twilio.answer_late = 1
    run_due(EVENING)
    assert evening_sms().status == Status.UNKNOWN
    _unknown_emails(booked, recovery.BATCH + 50, at=EVENING - dt.timedelta(minutes=30))
    first = reconcile(EVENING + dt.timedelta(minutes=3))
    assert first == {"found": 1, "not_found": 0, "cannot_tell": 0, "settled": recovery.BATCH + 50}
    assert evening_sms().status == Status.SENT
    emails = Reminder.objects.filter(channel="email", status=Status.UNKNOWN)
    assert emails.count() == recovery.BATCH + 50
    assert set(emails.values_list("last_error", flat=True)) == {recovery.CANNOT_ASK}  # what the nurse reads
    # Settled: never taken again.
    assert reconcile(EVENING + dt.timedelta(minutes=10)) == {"found": 0, "not_found": 0, "cannot_tell": 0, "settled": 0}
