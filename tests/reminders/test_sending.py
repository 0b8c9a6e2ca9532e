"""Dispatch, send, retry, expire, sweep: never lost, never twice, never stale."""

from __future__ import annotations

import datetime as dt
import re
import smtplib
import subprocess
from unittest import mock

import pytest
import time_machine
from django.core import mail
from django.core.management import CommandError, call_command

from procedures import services
from reminders import channels, dispatch, http, recovery, tasks
from reminders.models import AttemptOutcome, DeliveryAttempt, Kind, OutboxMessage, Reminder, Status

from .conftest import BOOKED_AT, CHICAGO, EVENING, UTC, book, payload, run_due


@pytest.fixture
def booked(patient, nurse, texting_guardian):
    with time_machine.travel(BOOKED_AT, tick=False):
        return book(patient, nurse, arrival=dt.datetime(2026, 6, 11, 7, 30, tzinfo=CHICAGO))


def test_claiming_marks_due_reminders_queued_and_rings_after_commit(booked, django_capture_on_commit_callbacks):
    rung = []
    with time_machine.travel(BOOKED_AT, tick=False), django_capture_on_commit_callbacks(execute=True):
        ids = dispatch.claim_due(enqueue=rung.append)
    assert sorted(rung) == sorted(ids)
    assert set(Reminder.objects.filter(pk__in=ids).values_list("kind", "status")) == {
        (Kind.CONFIRMATION, Status.QUEUED)
    }
    # Left for later: the two fasting reminders on each channel (aftercare waits for "done").
    assert Reminder.objects.filter(status=Status.SCHEDULED).count() == 4


def test_the_evening_reminder_reaches_the_outbox_with_clock_times(booked):
    run_due(BOOKED_AT)
    run_due(EVENING)
    sms = OutboxMessage.objects.get(channel="sms", reminder__kind=Kind.FASTING_EVENING)
    assert sms.created_at == EVENING
    assert sms.to == "+13125550142"
    assert "No fatty food after 11:30 PM Wednesday, solid food or milk after 1:30 AM" in sms.body
    assert "arrive at 7:30 AM Thursday" in sms.body
    assert "Lakeside Day Unit" in sms.body and "(312) 555-0100" in sms.body
    assert "Reply YES to confirm, or call (312) 555-0100." in sms.body
    assert "Reply STOP" in sms.body
    assert f"/v/{booked.pk}" in sms.body


def test_texts_carry_the_least_health_information(booked):
    run_due(BOOKED_AT)
    run_due(EVENING)
    for message in OutboxMessage.objects.filter(channel="sms"):
        lowered = message.body.lower()
        assert booked.patient.last_name.lower() not in lowered
        for word in ("marrow", "biopsy", "aspiration", "diagnos", booked.patient.mrn.lower()):
            assert word not in lowered, word


def test_a_spanish_speaking_guardian_gets_spanish(booked, texting_guardian):
    texting_guardian.user.language = "es"
    texting_guardian.user.save()
    run_due(BOOKED_AT)
    run_due(EVENING)
    sms = OutboxMessage.objects.get(channel="sms", reminder__kind=Kind.FASTING_EVENING)
    assert "llegue con Mia el jueves a las 7:30 AM" in sms.body
    assert "comida solida o leche después de las 1:30 AM" in sms.body
    assert "Responda STOP" in sms.body
    email = OutboxMessage.objects.get(channel="email", reminder__kind=Kind.FASTING_EVENING)
    assert email.subject == "El ayuno de Mia empieza esta noche a las 11:30 PM"


def test_nothing_is_sent_twice_when_a_task_is_delivered_again(booked):
    with time_machine.travel(BOOKED_AT, tick=False):
        ids = dispatch.claim_due(enqueue=lambda pk: None)
        for pk in ids:
            dispatch.send(pk)
            assert dispatch.send(pk) is None  # the same task again
    assert OutboxMessage.objects.count() == len(ids)
    assert DeliveryAttempt.objects.count() == len(ids)


def test_a_reminder_planned_for_an_old_version_is_cancelled_not_sent(booked, nurse):
    with time_machine.travel(EVENING, tick=False):
        ids = dispatch.claim_due(enqueue=lambda pk: None)
        # The nurse moves the appointment while the doorbell is ringing.
        Reminder.objects.filter(pk__in=ids).update(status=Status.QUEUED)
        services.update_procedure(procedure=booked, changed_by=nurse, sedation="sedation")
        for pk in ids:
            dispatch.send(pk)
    stale = Reminder.objects.filter(pk__in=ids)
    assert set(stale.values_list("status", flat=True)) == {Status.CANCELLED}
    assert not OutboxMessage.objects.filter(reminder__in=stale).exists()


def test_version_is_rechecked_at_send_time(booked):
    with time_machine.travel(EVENING, tick=False):
        ids = dispatch.claim_due(enqueue=lambda pk: None)
        type(booked).objects.filter(pk=booked.pk).update(version=9)  # changed behind our back
        assert dispatch.send(ids[0]) == Status.CANCELLED
    assert not OutboxMessage.objects.exists()


def test_a_reminder_past_its_useful_moment_expires_instead_of_sending(booked):
    # The worker was down all night: at 07:00 the evening reminder (useful until 23:30) is expired.
    run_due(dt.datetime(2026, 6, 11, 12, 0, tzinfo=UTC))
    evening = Reminder.objects.filter(kind=Kind.FASTING_EVENING)
    assert set(evening.values_list("status", flat=True)) == {Status.EXPIRED}
    assert not OutboxMessage.objects.filter(reminder__kind=Kind.FASTING_EVENING).exists()


def test_a_queued_reminder_that_became_useless_expires_at_send(booked):
    with time_machine.travel(EVENING, tick=False):
        dispatch.claim_due(enqueue=lambda pk: None)
    evening = Reminder.objects.filter(kind=Kind.FASTING_EVENING, status=Status.QUEUED).values_list("pk", flat=True)
    assert len(evening) == 2
    with time_machine.travel(dt.datetime(2026, 6, 11, 6, 0, tzinfo=UTC), tick=False):
        assert {dispatch.send(pk) for pk in evening} == {Status.EXPIRED}


def test_temporary_errors_retry_with_backoff_through_the_schedule(booked, settings):
    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC123", "token"
    settings.TWILIO_FROM_NUMBER = "+13125550000"
    with mock.patch.object(http, "post", autospec=True) as post:
        post.return_value = http.Response(429, payload("twilio_error_20429"))
        run_due(EVENING)
        sms = Reminder.objects.get(channel="sms", kind=Kind.FASTING_EVENING)
        assert sms.status == Status.SCHEDULED
        assert sms.due_at == EVENING + dt.timedelta(seconds=30)
        assert sms.attempts == 1
        assert sms.delivery_attempts.get().outcome == AttemptOutcome.TRANSIENT
        post.return_value = http.Response(201, payload("twilio_message_created"))
        run_due(EVENING + dt.timedelta(seconds=30))
    sms.refresh_from_db()
    assert (sms.status, sms.attempts, sms.provider_message_id) == (
        Status.SENT,
        2,
        "SM0123456789abcdef0123456789abcdef",
    )
    assert [a.outcome for a in sms.delivery_attempts.all()] == [AttemptOutcome.TRANSIENT, AttemptOutcome.SUCCESS]


@pytest.mark.parametrize("name", ["twilio_error_21211", "twilio_error_21610"])
def test_permanent_sms_errors_fail_at_once(booked, settings, name):
    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC123", "token"
    with mock.patch.object(http, "post", autospec=True, return_value=http.Response(400, payload(name))):
        run_due(EVENING)
    sms = Reminder.objects.get(channel="sms", kind=Kind.FASTING_EVENING)
    assert sms.status == Status.FAILED
    assert sms.attempts == 1
    assert sms.last_error == channels.TWILIO_PERMANENT[payload(name)["code"]]


def test_twilio_is_called_with_the_number_body_and_status_callback(booked, settings):
    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC123", "token"
    settings.TWILIO_FROM_NUMBER = "+13125550000"
    with mock.patch.object(
        http, "post", autospec=True, return_value=http.Response(201, payload("twilio_message_created"))
    ) as post:
        run_due(EVENING)
    url, data = post.call_args.args
    assert url == "https://api.twilio.com/2010-04-01/Accounts/AC123/Messages.json"
    assert post.call_args.kwargs == {"auth": ("AC123", "token")}
    assert data["To"] == "+13125550142" and data["From"] == "+13125550000"
    assert data["StatusCallback"].endswith("/webhooks/twilio/status/")


def test_network_failures_are_temporary(booked, settings):
    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC123", "token"
    with mock.patch.object(http, "post", autospec=True, side_effect=http.TransportError("timed out")):
        run_due(EVENING)
    assert Reminder.objects.get(channel="sms", kind=Kind.FASTING_EVENING).status == Status.SCHEDULED


def test_retries_stop_when_the_next_try_would_be_too_late(booked, settings):
    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC123", "token"
    late = dt.datetime(2026, 6, 11, 4, 29, 45, tzinfo=UTC)  # 15 s before the cut-off it announces
    Reminder.objects.filter(kind=Kind.FASTING_EVENING).update(due_at=late)
    with mock.patch.object(http, "post", autospec=True, return_value=http.Response(503, {})):
        run_due(late)
    assert Reminder.objects.get(channel="sms", kind=Kind.FASTING_EVENING).status == Status.FAILED


def test_email_goes_through_djangos_mail_backend(booked, settings):
    settings.REMINDER_EMAIL_BACKEND = "email"
    run_due(BOOKED_AT)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == "Mia's appointment is booked"
    assert Reminder.objects.get(channel="email", kind=Kind.CONFIRMATION).status == Status.SENT


def test_a_refused_email_address_fails_permanently(booked, settings):
    settings.REMINDER_EMAIL_BACKEND = "email"
    refused = smtplib.SMTPRecipientsRefused({"alice@example.org": (550, b"no such user")})
    with mock.patch("django.core.mail.EmailMessage.send", autospec=True, side_effect=refused):
        run_due(BOOKED_AT)
    assert Reminder.objects.get(channel="email", kind=Kind.CONFIRMATION).status == Status.FAILED


def test_opted_out_guardian_fails_visibly_instead_of_sending(booked, texting_guardian):
    with time_machine.travel(EVENING, tick=False):
        ids = dispatch.claim_due(enqueue=lambda pk: None)
        type(texting_guardian).objects.filter(pk=texting_guardian.pk).update(sms_opted_out_at=EVENING)
        for pk in ids:
            dispatch.send(pk)
    sms = Reminder.objects.get(channel="sms", kind=Kind.FASTING_EVENING)
    assert sms.status == Status.FAILED
    assert not OutboxMessage.objects.filter(channel="sms").exists()


def test_the_sweeper_rings_again_for_lost_queued_reminders(booked, django_capture_on_commit_callbacks):
    with time_machine.travel(BOOKED_AT, tick=False):
        ids = dispatch.claim_due(enqueue=lambda pk: None)  # the broker lost these
    rung = []
    with (
        time_machine.travel(BOOKED_AT + dt.timedelta(minutes=11), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        result = recovery.sweep(enqueue=rung.append)
    with time_machine.travel(BOOKED_AT + dt.timedelta(minutes=11), tick=False):
        for pk in rung:
            dispatch.send(pk)
    assert sorted(rung) == sorted(ids)
    assert result == {"requeued": len(ids), "unknown_outcome": 0, "found_sent": 0, "early_applied": 0}
    assert OutboxMessage.objects.count() == len(ids)


def test_the_sweeper_never_resends_a_message_that_may_have_gone(booked, settings):
    settings.SMS_BACKEND, settings.REMINDER_EMAIL_BACKEND = "twilio", "email"
    with time_machine.travel(BOOKED_AT, tick=False):
        ids = dispatch.claim_due(enqueue=lambda pk: None)
        Reminder.objects.filter(pk__in=ids).update(status=Status.SENDING)  # a worker died mid-send
    with time_machine.travel(BOOKED_AT + dt.timedelta(minutes=11), tick=False):
        result = recovery.sweep(enqueue=lambda pk: pytest.fail("must not resend"))
    assert result["unknown_outcome"] == len(ids)
    # Unknown, not failed: the provider is asked before anything goes again (test_unknown_outcomes.py).
    assert set(Reminder.objects.filter(pk__in=ids).values_list("status", flat=True)) == {Status.UNKNOWN}


def test_the_sweeper_rings_again_for_an_outbox_message_that_never_landed(booked, django_capture_on_commit_callbacks):
    """The outbox row and the move to sent commit together: no row means it was never handed over."""
    with time_machine.travel(BOOKED_AT, tick=False):
        ids = dispatch.claim_due(enqueue=lambda pk: None)
        Reminder.objects.filter(pk__in=ids).update(status=Status.SENDING)  # a worker died mid-send
    rung = []
    with (
        time_machine.travel(BOOKED_AT + dt.timedelta(minutes=11), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        result = recovery.sweep(enqueue=rung.append)
    with time_machine.travel(BOOKED_AT + dt.timedelta(minutes=11), tick=False):
        assert result == {"requeued": len(ids), "unknown_outcome": 0, "found_sent": 0, "early_applied": 0}
        for pk in rung:
            dispatch.send(pk)
    assert sorted(rung) == sorted(ids)
    assert OutboxMessage.objects.filter(reminder_id__in=ids).count() == len(ids)


def test_recent_in_flight_reminders_are_left_alone(booked):
    with time_machine.travel(BOOKED_AT, tick=False):
        dispatch.claim_due(enqueue=lambda pk: None)
        assert recovery.sweep(enqueue=lambda pk: pytest.fail("too early")) == {
            "requeued": 0,
            "unknown_outcome": 0,
            "found_sent": 0,
            "early_applied": 0,
        }


def test_dispatch_command_runs_one_pass(booked, capsys, django_capture_on_commit_callbacks):
    with time_machine.travel(BOOKED_AT, tick=False), django_capture_on_commit_callbacks(execute=True):
        call_command("dispatch_reminders", "--once", "--send-here")
    assert "Queued 2 reminder(s)" in capsys.readouterr().out
    assert OutboxMessage.objects.count() == 2


def test_demo_fast_forward_plays_reminders_at_their_due_times(booked, settings, capsys):
    settings.DEBUG = True
    with time_machine.travel(BOOKED_AT, tick=False):
        call_command("fast_forward_reminders", "--hours", "72")
    evening = OutboxMessage.objects.get(channel="sms", reminder__kind=Kind.FASTING_EVENING)
    morning = OutboxMessage.objects.get(channel="sms", reminder__kind=Kind.FASTING_MORNING)
    assert evening.created_at == EVENING
    assert morning.created_at == dt.datetime(2026, 6, 11, 10, 30, tzinfo=UTC)
    assert "clear drinks until 6:30 AM" in morning.body
    assert "Wed 10 Jun 18:00 CDT" in capsys.readouterr().out


def test_fast_forward_sends_no_aftercare_until_the_procedure_is_marked_done(booked, nurse, settings, capsys):
    settings.DEBUG = True
    aftercare = (Kind.AFTERCARE_EVENING, Kind.AFTERCARE_NEXT_DAY)
    # Still scheduled three days on (never marked done): no "we hope she is resting well".
    with time_machine.travel(BOOKED_AT, tick=False):
        call_command("fast_forward_reminders", "--hours", "120")
    assert not OutboxMessage.objects.filter(reminder__kind__in=aftercare).exists()
    assert "aftercare" not in capsys.readouterr().out
    # Marked done at 10:15 on the day: the same evening and the next morning, from the real end.
    ended = dt.datetime(2026, 6, 11, 15, 15, tzinfo=UTC)
    with time_machine.travel(ended, tick=False):
        services.mark_done(procedure=booked, ended_at=ended, done_by=nurse)
        call_command("fast_forward_reminders", "--hours", "48")
    sent = OutboxMessage.objects.filter(reminder__kind__in=aftercare, channel="sms")
    assert sorted((m.reminder.kind, m.created_at) for m in sent) == [
        (Kind.AFTERCARE_EVENING, dt.datetime(2026, 6, 11, 23, 0, tzinfo=UTC)),  # 6 PM CDT that day
        (Kind.AFTERCARE_NEXT_DAY, dt.datetime(2026, 6, 12, 15, 0, tzinfo=UTC)),  # 10 AM CDT the next
    ]


def test_fast_forward_writes_links_to_the_port_make_run_serves(booked, settings, tmp_path, monkeypatch, capsys):
    from reminders.management.commands import fast_forward_reminders

    settings.DEBUG = True
    served = tmp_path / "site-url"
    served.write_text("http://127.0.0.1:8123\n")
    monkeypatch.setattr(fast_forward_reminders, "SERVED_AT", served)
    monkeypatch.delenv("SITE_URL", raising=False)
    with time_machine.travel(BOOKED_AT, tick=False):
        call_command("fast_forward_reminders", "--hours", "72")
    links = [link for message in OutboxMessage.objects.all() for link in re.findall(r"https?://\S+", message.body)]
    assert len(links) >= 6
    assert all(link.startswith("http://127.0.0.1:8123/") for link in links), links
    assert "Links point to http://127.0.0.1:8123" in capsys.readouterr().out


def test_an_explicit_site_url_wins_over_the_served_port(booked, settings, tmp_path, monkeypatch):
    from reminders.management.commands import fast_forward_reminders

    settings.DEBUG = True
    settings.SITE_URL = "https://marrow.example.org"
    served = tmp_path / "site-url"
    served.write_text("http://127.0.0.1:8123\n")
    monkeypatch.setattr(fast_forward_reminders, "SERVED_AT", served)
    monkeypatch.setenv("SITE_URL", "https://marrow.example.org")
    with time_machine.travel(BOOKED_AT, tick=False):
        call_command("fast_forward_reminders", "--hours", "72")
    links = [link for message in OutboxMessage.objects.all() for link in re.findall(r"https?://\S+", message.body)]
    assert links and all(link.startswith("https://marrow.example.org/") for link in links), links


def test_make_run_records_the_address_it_serves(settings):
    # make -n prints what `make run` would do without doing it.
    plan = subprocess.run(
        ["make", "-n", "run", "PORT=8123"], capture_output=True, text=True, check=True, cwd=settings.BASE_DIR
    ).stdout
    assert 'echo "http://127.0.0.1:8123" > var/site-url' in plan
    assert plan.index("var/site-url") < plan.index("runserver 127.0.0.1:8123")


def test_fast_forward_refuses_without_debug(booked, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="refuses to run when DEBUG is off"):
        call_command("fast_forward_reminders")


def test_one_dispatch_tick_drains_more_than_one_batch(procedure, guardian):
    """Beat rings the dispatcher every few seconds; one tick claims all that is due, not one batch of it."""
    now = dt.datetime(2026, 6, 8, 15, 0, tzinfo=UTC)
    fields = {
        "procedure": procedure,
        "guardian": guardian,
        "channel": "email",
        "kind": Kind.CONFIRMATION,
        "due_at": now,
        "valid_until": now + dt.timedelta(hours=1),
        "procedure_version": procedure.version,
    }
    base = Reminder.objects.create(**fields)
    Reminder.objects.bulk_create(Reminder(**fields, resend_of=base) for _ in range(dispatch.BATCH * 2 + 49))
    with time_machine.travel(now, tick=False), mock.patch.object(tasks, "enqueue"):
        assert tasks.dispatch() == dispatch.BATCH * 2 + 50
    assert not Reminder.objects.filter(status=Status.SCHEDULED).exists()


@pytest.mark.parametrize(("threads", "sizes"), [(25, [50, 50, 20]), (40, [80, 40]), (1, [50, 50, 20])])
def test_a_send_task_takes_two_rounds_of_calls_or_fifty_reminders(settings, threads, sizes):
    settings.PROVIDER_SEND_THREADS = threads
    queued: list[list[int]] = []
    with mock.patch.object(tasks.send_reminders, "apply_async", lambda args, **kwargs: queued.append(args[0])):
        tasks.enqueue_many("sms", list(range(1, 121)))
    assert [len(batch) for batch in queued] == sizes
    assert [pk for batch in queued for pk in batch] == list(range(1, 121))  # each once, in order


def test_a_queued_row_the_broker_lost_is_rung_again_within_a_minute(
    booked, django_capture_on_commit_callbacks, settings
):
    with time_machine.travel(BOOKED_AT, tick=False):
        ids = dispatch.claim_due(enqueue=lambda pk: None)  # the broker lost these (a flushed Redis)
    assert ids
    with time_machine.travel(BOOKED_AT + dt.timedelta(seconds=30), tick=False):
        assert recovery.sweep(enqueue=lambda pk: pytest.fail("a doorbell may still be on its way"))["requeued"] == 0
    rung = []
    with (
        time_machine.travel(BOOKED_AT + recovery.RING_AGAIN + dt.timedelta(seconds=1), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert recovery.sweep(enqueue=rung.append)["requeued"] == len(ids)
    assert sorted(rung) == sorted(ids)
    # Beat sweeps often enough that the worst case is still within the minute.
    sweep_every = settings.CELERY_BEAT_SCHEDULE["sweep-reminders"]["schedule"]
    assert recovery.RING_AGAIN.total_seconds() + sweep_every <= 60
