"""Twilio callbacks: signed, replay-safe, forward-only; STOP/START/HELP."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from reminders.models import Kind, Reminder, Status
from reminders.webhooks import expected_signature

from .conftest import book

TOKEN = "test-auth-token"
CHICAGO = ZoneInfo("America/Chicago")


@pytest.fixture(autouse=True)
def _twilio(settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.SITE_URL = "https://portal.example.org"


def signed_post(client, name, data, token=TOKEN):
    path = reverse(name)
    signature = expected_signature("https://portal.example.org" + path, data, token)
    return client.post(path, data, HTTP_X_TWILIO_SIGNATURE=signature)


@pytest.fixture
def sent_sms(patient, nurse, texting_guardian):
    with time_machine.travel(dt.datetime(2026, 6, 8, 15, 0, tzinfo=dt.UTC), tick=False):
        procedure = book(patient, nurse, arrival=dt.datetime(2026, 6, 11, 7, 30, tzinfo=CHICAGO))
    reminder = Reminder.objects.get(channel="sms", kind=Kind.CONFIRMATION)
    reminder.status = Status.SENT
    reminder.provider_message_id = "SM1"
    reminder.save()
    return procedure, reminder


@pytest.mark.parametrize("name", ["reminders:twilio_status", "reminders:twilio_inbound"])
def test_unsigned_or_wrongly_signed_requests_are_refused(client, db, name):
    data = {"MessageSid": "SM1", "MessageStatus": "delivered", "From": "+13125550142", "Body": "STOP"}
    assert client.post(reverse(name), data).status_code == 403
    assert signed_post(client, name, data, token="wrong").status_code == 403


def test_a_signature_over_other_values_is_refused(client, sent_sms):
    path = reverse("reminders:twilio_status")
    signature = expected_signature(
        "https://portal.example.org" + path, {"MessageSid": "SM1", "MessageStatus": "sent"}, TOKEN
    )
    response = client.post(path, {"MessageSid": "SM1", "MessageStatus": "delivered"}, HTTP_X_TWILIO_SIGNATURE=signature)
    assert response.status_code == 403
    assert Reminder.objects.get(provider_message_id="SM1").status == Status.SENT


def test_delivery_is_recorded(client, sent_sms):
    assert (
        signed_post(client, "reminders:twilio_status", {"MessageSid": "SM1", "MessageStatus": "delivered"}).status_code
        == 204
    )
    reminder = Reminder.objects.get(provider_message_id="SM1")
    assert reminder.status == Status.DELIVERED and reminder.delivered_at is not None


def test_status_only_moves_forward_and_replays_change_nothing(client, sent_sms):
    for status in ("delivered", "sent", "delivered", "queued"):
        signed_post(client, "reminders:twilio_status", {"MessageSid": "SM1", "MessageStatus": status})
    assert Reminder.objects.get(provider_message_id="SM1").status == Status.DELIVERED


def test_undelivered_shows_as_failed_with_the_code(client, sent_sms):
    signed_post(
        client, "reminders:twilio_status", {"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30003"}
    )
    reminder = Reminder.objects.get(provider_message_id="SM1")
    assert reminder.status == Status.FAILED and "30003" in reminder.last_error


def test_unknown_message_ids_are_ignored(client, db):
    assert (
        signed_post(client, "reminders:twilio_status", {"MessageSid": "SMX", "MessageStatus": "delivered"}).status_code
        == 204
    )


@pytest.mark.parametrize("word", ["STOP", "stop", "StopAll", "UNSUBSCRIBE", "cancel", "END", "quit please"])
def test_stop_words_opt_the_number_out_at_once(client, sent_sms, texting_guardian, word):
    response = signed_post(
        client, "reminders:twilio_inbound", {"MessageSid": f"SMin-{word}", "From": "+13125550142", "Body": word}
    )
    assert response.status_code == 200
    texting_guardian.refresh_from_db()
    assert texting_guardian.sms_opted_out_at is not None
    open_sms = Reminder.objects.filter(channel="sms", status__in=[Status.SCHEDULED, Status.QUEUED])
    assert not open_sms.exists()
    assert Reminder.objects.filter(channel="email", status=Status.SCHEDULED).exists()


def test_start_opts_back_in_and_plans_texts_again(client, sent_sms, texting_guardian):
    signed_post(client, "reminders:twilio_inbound", {"MessageSid": "a", "From": "+13125550142", "Body": "STOP"})
    with time_machine.travel(dt.datetime(2026, 6, 9, 15, 0, tzinfo=dt.UTC), tick=False):
        signed_post(client, "reminders:twilio_inbound", {"MessageSid": "b", "From": "+13125550142", "Body": "START"})
    texting_guardian.refresh_from_db()
    assert texting_guardian.sms_opted_out_at is None
    assert Reminder.objects.filter(channel="sms", kind=Kind.FASTING_EVENING, status=Status.SCHEDULED).exists()


def test_help_answers_with_the_clinic_name_and_phone(client, sent_sms):
    response = signed_post(
        client, "reminders:twilio_inbound", {"MessageSid": "h", "From": "+13125550142", "Body": "HELP"}
    )
    body = response.content.decode()
    assert "Lakeside Day Unit" in body and "(312) 555-0100" in body and "STOP" in body


def test_a_replayed_inbound_message_is_handled_once(client, sent_sms, texting_guardian):
    data = {"MessageSid": "dup", "From": "+13125550142", "Body": "STOP"}
    signed_post(client, "reminders:twilio_inbound", data)
    type(texting_guardian).objects.filter(pk=texting_guardian.pk).update(sms_opted_out_at=None)
    signed_post(client, "reminders:twilio_inbound", data)
    texting_guardian.refresh_from_db()
    assert texting_guardian.sms_opted_out_at is None


def test_opted_out_guardian_is_shown_to_the_nurse(client, sent_sms, nurse):
    procedure, _ = sent_sms
    signed_post(client, "reminders:twilio_inbound", {"MessageSid": "s", "From": "+13125550142", "Body": "STOP"})
    client.force_login(nurse)
    page = client.get(reverse("nurse:procedure_detail", args=[procedure.pk])).content.decode()
    assert "Opted out of texts" in page
