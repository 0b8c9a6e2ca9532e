"""Twilio callbacks: signed, replay-safe, forward-only, never throttled away; STOP/START/HELP in two languages."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from twilio.request_validator import RequestValidator

from reminders import recovery
from reminders.models import EarlyStatus, Kind, Reminder, Status
from reminders.webhooks import apply_early_status, classify

from .conftest import book, payload

TOKEN = "test-auth-token"
CHICAGO = ZoneInfo("America/Chicago")
NUMBER = "+13125550142"


@pytest.fixture(autouse=True)
def _twilio(settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.SITE_URL = "https://portal.example.org"


def signature(name, data, token=TOKEN):
    return RequestValidator(token).compute_signature("https://portal.example.org" + reverse(name), data)


def signed_post(client, name, data, token=TOKEN, **extra):
    return client.post(reverse(name), data, HTTP_X_TWILIO_SIGNATURE=signature(name, data, token), **extra)


def text_in(client, body, sid=None, number=NUMBER):
    data = {"MessageSid": sid or f"SMin-{body}", "From": number, "Body": body}
    return signed_post(client, "reminders:twilio_inbound", data)


@pytest.fixture
def sent_sms(patient, nurse, texting_guardian):
    with time_machine.travel(dt.datetime(2026, 6, 8, 15, 0, tzinfo=dt.UTC), tick=False):
        procedure = book(patient, nurse, arrival=dt.datetime(2026, 6, 11, 7, 30, tzinfo=CHICAGO))
    reminder = Reminder.objects.get(channel="sms", kind=Kind.CONFIRMATION)
    reminder.status = Status.SENT
    reminder.provider_message_id = "SM1"
    reminder.save()
    return procedure, reminder


def opted_out(guardian):
    guardian.refresh_from_db()
    return guardian.sms_opted_out_at is not None


# --- Signatures -------------------------------------------------------------


@pytest.mark.parametrize("name", ["reminders:twilio_status", "reminders:twilio_inbound"])
def test_unsigned_or_wrongly_signed_requests_are_refused(client, db, name):
    data = {"MessageSid": "SM1", "MessageStatus": "delivered", "From": NUMBER, "Body": "STOP"}
    assert client.post(reverse(name), data).status_code == 403
    assert signed_post(client, name, data, token="wrong").status_code == 403


def test_a_signature_over_other_values_is_refused(client, sent_sms):
    path = reverse("reminders:twilio_status")
    other = signature("reminders:twilio_status", {"MessageSid": "SM1", "MessageStatus": "sent"})
    response = client.post(path, {"MessageSid": "SM1", "MessageStatus": "delivered"}, HTTP_X_TWILIO_SIGNATURE=other)
    assert response.status_code == 403
    assert Reminder.objects.get(provider_message_id="SM1").status == Status.SENT


def test_a_recorded_twilio_callback_with_all_its_fields_is_accepted(client, sent_sms):
    data = payload("twilio_status_callback_delivered") | {"MessageSid": "SM1", "SmsSid": "SM1"}
    assert signed_post(client, "reminders:twilio_status", data).status_code == 204
    assert Reminder.objects.get(provider_message_id="SM1").status == Status.DELIVERED


# --- Delivery status --------------------------------------------------------


def test_delivery_is_recorded(client, sent_sms):
    response = signed_post(client, "reminders:twilio_status", {"MessageSid": "SM1", "MessageStatus": "delivered"})
    assert response.status_code == 204
    reminder = Reminder.objects.get(provider_message_id="SM1")
    assert reminder.status == Status.DELIVERED and reminder.delivered_at is not None


def test_status_only_moves_forward_and_replays_change_nothing(client, sent_sms):
    for status in ("delivered", "sent", "delivered", "queued"):
        signed_post(client, "reminders:twilio_status", {"MessageSid": "SM1", "MessageStatus": status})
    assert Reminder.objects.get(provider_message_id="SM1").status == Status.DELIVERED


def test_undelivered_shows_as_failed_with_the_code(client, sent_sms):
    data = {"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30003"}
    signed_post(client, "reminders:twilio_status", data)
    reminder = Reminder.objects.get(provider_message_id="SM1")
    assert reminder.status == Status.FAILED and "30003" in reminder.last_error


def test_a_status_for_an_id_we_have_not_stored_is_kept_for_later(client, db):
    response = signed_post(client, "reminders:twilio_status", {"MessageSid": "SMX", "MessageStatus": "delivered"})
    assert response.status_code == 204
    early = EarlyStatus.objects.get(message_id="SMX")
    assert early.status == "delivered" and early.applied_at is None


def test_a_callback_that_comes_before_the_id_is_stored_is_applied_when_it_is(client, sent_sms):
    _, reminder = sent_sms
    Reminder.objects.filter(pk=reminder.pk).update(provider_message_id="")
    signed_post(client, "reminders:twilio_status", {"MessageSid": "SM1", "MessageStatus": "delivered"})
    assert Reminder.objects.get(pk=reminder.pk).status == Status.SENT

    Reminder.objects.filter(pk=reminder.pk).update(provider_message_id="SM1")
    assert apply_early_status(reminder) == Status.DELIVERED

    reminder.refresh_from_db()
    assert reminder.status == Status.DELIVERED and reminder.delivered_at is not None
    assert EarlyStatus.objects.get(message_id="SM1").applied_at is not None


def test_a_status_left_waiting_by_a_worker_that_stopped_is_applied_by_the_sweep(client, sent_sms):
    """The callback came before the id was stored; the worker stored it and stopped before applying it."""
    _, reminder = sent_sms
    Reminder.objects.filter(pk=reminder.pk).update(provider_message_id="")
    signed_post(client, "reminders:twilio_status", {"MessageSid": "SM1", "MessageStatus": "undelivered"})
    Reminder.objects.filter(pk=reminder.pk).update(provider_message_id="SM1")  # and nothing more
    assert recovery.sweep(enqueue=lambda pk: pytest.fail("nothing to send"))["early_applied"] == 0  # still fresh

    with time_machine.travel(timezone.now() + dt.timedelta(days=2), tick=False):  # older than a sweep looks back
        assert recovery.sweep(enqueue=lambda pk: pytest.fail("nothing to send"))["early_applied"] == 0
    later = timezone.now() + dt.timedelta(minutes=11)
    with time_machine.travel(later, tick=False):
        result = recovery.sweep(enqueue=lambda pk: pytest.fail("nothing to send"))
        assert recovery.sweep(enqueue=lambda pk: pytest.fail("nothing to send"))["early_applied"] == 0
    assert result["early_applied"] == 1
    assert Reminder.objects.get(pk=reminder.pk).status == Status.FAILED
    assert EarlyStatus.objects.get(message_id="SM1").applied_at is not None


def test_early_statuses_still_only_move_forward_and_apply_once(client, sent_sms):
    _, reminder = sent_sms
    Reminder.objects.filter(pk=reminder.pk).update(provider_message_id="")
    for status in ("sent", "delivered", "queued"):
        signed_post(client, "reminders:twilio_status", {"MessageSid": "SM1", "MessageStatus": status})
    Reminder.objects.filter(pk=reminder.pk).update(provider_message_id="SM1")
    assert apply_early_status(reminder) == Status.DELIVERED
    delivered_at = Reminder.objects.get(pk=reminder.pk).delivered_at
    assert apply_early_status(reminder) == Status.DELIVERED
    assert Reminder.objects.get(pk=reminder.pk).delivered_at == delivered_at
    assert not EarlyStatus.objects.filter(applied_at__isnull=True).exists()


def test_a_failed_early_status_carries_its_code(client, sent_sms):
    _, reminder = sent_sms
    Reminder.objects.filter(pk=reminder.pk).update(provider_message_id="")
    data = {"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30005"}
    signed_post(client, "reminders:twilio_status", data)
    Reminder.objects.filter(pk=reminder.pk).update(provider_message_id="SM1")
    assert apply_early_status(reminder) == Status.FAILED
    assert "30005" in Reminder.objects.get(pk=reminder.pk).last_error


def test_a_reminder_without_an_id_has_nothing_to_apply(sent_sms):
    _, reminder = sent_sms
    Reminder.objects.filter(pk=reminder.pk).update(provider_message_id="")
    assert apply_early_status(reminder) is None


# --- Rate limits --------------------------------------------------------------


def test_a_burst_of_signed_status_callbacks_never_holds_up_a_stop(client, sent_sms, texting_guardian):
    for number in range(700):
        data = {"MessageSid": f"SMburst{number}", "MessageStatus": "delivered"}
        assert signed_post(client, "reminders:twilio_status", data, REMOTE_ADDR="192.0.2.9").status_code == 204
    stop = {"MessageSid": "SMstop", "From": NUMBER, "Body": "STOP"}
    response = signed_post(client, "reminders:twilio_inbound", stop, REMOTE_ADDR="192.0.2.9")
    assert response.status_code == 200
    assert opted_out(texting_guardian)


@pytest.mark.usefixtures("held_clock")
def test_unsigned_traffic_on_one_hook_does_not_spend_the_others_budget(client, sent_sms, texting_guardian):
    status_path = reverse("reminders:twilio_status")
    for _ in range(600):
        assert client.post(status_path, {}, REMOTE_ADDR="192.0.2.9").status_code == 403
    assert client.post(status_path, {}, REMOTE_ADDR="192.0.2.9").status_code == 429
    assert client.post(reverse("reminders:twilio_inbound"), {}, REMOTE_ADDR="192.0.2.9").status_code == 403
    stop = {"MessageSid": "SMstop", "From": NUMBER, "Body": "STOP"}
    assert signed_post(client, "reminders:twilio_status", {"MessageSid": "SM1", "MessageStatus": "delivered"},
                       REMOTE_ADDR="192.0.2.9").status_code == 204  # fmt: skip
    assert signed_post(client, "reminders:twilio_inbound", stop, REMOTE_ADDR="192.0.2.9").status_code == 200
    assert opted_out(texting_guardian)


# --- Hostile values -----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("reminders:twilio_status", "MessageSid"),
        ("reminders:twilio_status", "MessageStatus"),
        ("reminders:twilio_inbound", "MessageSid"),
        ("reminders:twilio_inbound", "From"),
        ("reminders:twilio_inbound", "Body"),
    ],
)
@pytest.mark.parametrize("bad", ["SM\x001", "x" * 5000], ids=["nul", "oversize"])
def test_a_signed_request_with_a_nul_byte_or_an_oversize_value_is_a_bad_request(client, sent_sms, name, field, bad):
    data = {"MessageSid": "SMhostile", "MessageStatus": "delivered", "From": NUMBER, "Body": "STOP"} | {field: bad}
    assert signed_post(client, name, data).status_code == 400


def test_a_nul_byte_changes_nothing(client, sent_sms, texting_guardian):
    text_in(client, "STOP\x00")
    signed_post(client, "reminders:twilio_status", {"MessageSid": "SM1\x00", "MessageStatus": "delivered"})
    assert not opted_out(texting_guardian)
    assert Reminder.objects.get(provider_message_id="SM1").status == Status.SENT


# --- Opt-out, opt-in, help ----------------------------------------------------

STOP_WORDS = [
    "STOP", "stop", "Stop.", "stop!", "  StOp  ", "StopAll", "STOP ALL", "UNSUBSCRIBE", "cancel", "END", "quit please",
    "OPTOUT", "opt out", "Opt-Out", "REVOKE", "revoke.", "stop texting me please", "Please stop sending me messages",
    "PARAR", "Parar.", "para", "ALTO", "¡Alto!", "CANCELAR", "baja", "BAJA!", "dar de baja", "Darme de baja",
    "fin", "TERMINAR", "revocar", "Basta ya", "no más mensajes", "NO MAS", "parar por favor", "Por favor, parar",
    "Cancelar los mensajes",
]  # fmt: skip


@pytest.mark.parametrize("word", STOP_WORDS)
def test_any_reasonable_way_of_saying_stop_opts_the_number_out_at_once(client, sent_sms, texting_guardian, word):
    response = text_in(client, word)
    assert response.status_code == 200
    assert opted_out(texting_guardian)
    open_sms = Reminder.objects.filter(channel="sms", status__in=[Status.SCHEDULED, Status.QUEUED])
    assert not open_sms.exists()
    assert Reminder.objects.filter(channel="email", status=Status.SCHEDULED).exists()


@pytest.mark.parametrize(
    "body",
    ["Thank you", "ok", "See you then", "Stop by the desk?", "Can we cancel the appointment?", "Para mañana?", ""],
)
def test_ordinary_replies_do_not_opt_out(client, sent_sms, texting_guardian, body):
    assert text_in(client, body, sid=f"SM-{len(body)}-{body[:4]}").status_code == 200
    assert not opted_out(texting_guardian)


def test_the_opt_out_is_confirmed_in_the_guardians_language(client, sent_sms, texting_guardian):
    texting_guardian.user.language = "es"
    texting_guardian.user.save()
    body = text_in(client, "STOP").content.decode()
    # START is the word the phone company itself knows for turning texts back on.
    assert "<Message>Ya no le enviaremos" in body and "START" in body


@pytest.mark.parametrize("word", ["START", "start", "Unstop", "YES", "yes please", "Sí", "si", "COMENZAR", "Empezar."])
def test_start_words_opt_back_in_and_plan_texts_again(client, sent_sms, texting_guardian, word):
    text_in(client, "STOP")
    with time_machine.travel(dt.datetime(2026, 6, 9, 15, 0, tzinfo=dt.UTC), tick=False):
        response = text_in(client, word)
    assert not opted_out(texting_guardian)
    assert Reminder.objects.filter(channel="sms", kind=Kind.FASTING_EVENING, status=Status.SCHEDULED).exists()
    assert "STOP" in response.content.decode()


@pytest.mark.parametrize("word", ["HELP", "help?", "Info", "AYUDA", "ayuda por favor", "Información"])
def test_help_words_answer_with_the_clinic_name_and_phone(client, sent_sms, word):
    body = text_in(client, word).content.decode()
    assert "Lakeside Day Unit" in body and "(312) 555-0100" in body and "STOP" in body


def test_help_is_answered_in_the_guardians_language(client, sent_sms, texting_guardian):
    texting_guardian.user.language = "es"
    texting_guardian.user.save()
    body = text_in(client, "HELP").content.decode()
    assert "Llame al (312) 555-0100" in body


def test_help_from_an_unknown_number_answers_in_the_language_it_was_asked_in(client, db):
    assert "Recordatorios" in text_in(client, "AYUDA", number="+13125550199").content.decode()
    assert "reminders" in text_in(client, "HELP", number="+13125550199").content.decode()


def test_keywords_are_read_the_same_whatever_the_case_accents_or_punctuation():
    assert classify("  ¡¡PARÁR!!  ") == ("opt-out", "es")
    assert classify("Opt-Out, please.") == ("opt-out", "en")
    assert classify("sí") == classify("SI") == ("opt-in", "es")
    assert classify("INFORMACION") == ("help", "es")
    assert classify("stop the appointment moving") == (None, "en")


def test_a_replayed_inbound_message_is_handled_once(client, sent_sms, texting_guardian):
    data = {"MessageSid": "dup", "From": NUMBER, "Body": "STOP"}
    signed_post(client, "reminders:twilio_inbound", data)
    type(texting_guardian).objects.filter(pk=texting_guardian.pk).update(sms_opted_out_at=None)
    signed_post(client, "reminders:twilio_inbound", data)
    assert not opted_out(texting_guardian)


def test_a_recorded_inbound_stop_opts_out(client, sent_sms, texting_guardian):
    assert signed_post(client, "reminders:twilio_inbound", payload("twilio_inbound_message")).status_code == 200
    assert opted_out(texting_guardian)


def test_opted_out_guardian_is_shown_to_the_nurse(client, sent_sms, nurse):
    procedure, _ = sent_sms
    text_in(client, "STOP")
    client.force_login(nurse)
    page = client.get(reverse("nurse:procedure_detail", args=[procedure.pk])).content.decode()
    assert "Opted out of texts" in page
