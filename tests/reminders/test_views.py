"""Preferences and consent, the nurse's reminder timeline and resend, and the outbox page."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from reminders.forms import SMS_CONSENT_TEXT
from reminders.models import Kind, OutboxMessage, Reminder, Status
from tests.conftest import send_queued_email
from tests.factories import PASSWORD

from .conftest import book

CHICAGO = ZoneInfo("America/Chicago")
NOW = dt.datetime(2026, 6, 8, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def booked(patient, nurse, guardian):
    with time_machine.travel(NOW, tick=False):
        return book(patient, nurse, arrival=dt.datetime(2026, 6, 11, 7, 30, tzinfo=CHICAGO))


def _prefs(client, **overrides):
    data = {
        "email": "alice@example.org",
        "email_enabled": "on",
        "mobile_number": "+13125550142",
        "language": "en",
        "current_password": PASSWORD,
        **overrides,
    }
    return client.post(reverse("family:preferences"), data)


def test_texts_need_consent(client, guardian, booked):
    with time_machine.travel(NOW, tick=False):
        client.force_login(guardian.user)
        response = _prefs(client, sms_enabled="on")
    assert response.status_code == 200
    assert "tick the box to agree" in response.content.decode()
    guardian.refresh_from_db()
    assert not guardian.sms_enabled


def test_consent_records_who_when_and_the_exact_words_and_plans_texts(client, guardian, booked):
    with time_machine.travel(NOW, tick=False):
        client.force_login(guardian.user)
        assert _prefs(client, sms_enabled="on", sms_consent="on").status_code == 302
    guardian.refresh_from_db()
    assert guardian.sms_consent_at == NOW
    assert guardian.sms_consent_by == guardian.user
    assert guardian.sms_consent_text == str(SMS_CONSENT_TEXT)
    assert Reminder.objects.filter(channel="sms", kind=Kind.FASTING_EVENING, status=Status.SCHEDULED).exists()


def test_consent_is_recorded_in_the_words_shown(client, guardian, booked):
    guardian.user.language = "es"
    guardian.user.save()
    with time_machine.travel(NOW, tick=False):
        client.force_login(guardian.user)
        _prefs(client, sms_enabled="on", sms_consent="on", language="es")
    guardian.refresh_from_db()
    assert guardian.sms_consent_text.startswith("Acepto recibir mensajes de texto")


def test_turning_email_off_cancels_email_reminders(client, guardian, booked):
    with time_machine.travel(NOW, tick=False):
        client.force_login(guardian.user)
        _prefs(client, email_enabled="")
    assert not Reminder.objects.filter(channel="email", status=Status.SCHEDULED).exists()


def test_a_new_number_needs_consent_again(client, guardian, booked):
    with time_machine.travel(NOW, tick=False):
        client.force_login(guardian.user)
        _prefs(client, sms_enabled="on", sms_consent="on")
        response = _prefs(client, sms_enabled="on", mobile_number="(773) 555-0123")
    assert "tick the box again" in response.content.decode()
    guardian.refresh_from_db()
    assert guardian.mobile_number == "+13125550142"


@pytest.mark.parametrize("number", ["12", "+1 800 555 0100", "<script>"])
def test_bad_numbers_get_a_message_and_change_nothing(client, guardian, booked, number):
    client.force_login(guardian.user)
    response = _prefs(client, mobile_number=number)
    assert response.status_code == 200
    assert response.context["form"].errors["mobile_number"]
    guardian.refresh_from_db()
    assert guardian.mobile_number == "+13125550142"


def test_language_choice_is_saved(client, guardian, booked):
    client.force_login(guardian.user)
    _prefs(client, language="es")
    guardian.user.refresh_from_db()
    assert guardian.user.language == "es"


def test_nurse_sees_the_reminder_timeline(client, nurse, booked):
    client.force_login(nurse)
    page = client.get(reverse("nurse:procedure_detail", args=[booked.pk])).content.decode()
    for label in ("Appointment booked", "Fasting, evening before", "Fasting, morning of", "Planned"):
        assert label in page


def _failed(booked):
    reminder = Reminder.objects.get(kind=Kind.FASTING_EVENING)
    reminder.status = Status.FAILED
    reminder.save()
    return reminder


def test_nurse_can_resend_a_failed_reminder(client, nurse, booked):
    reminder = _failed(booked)
    at = dt.datetime(2026, 6, 10, 23, 30, tzinfo=dt.UTC)
    with time_machine.travel(at, tick=False):
        client.force_login(nurse)
        response = client.post(reverse("nurse:reminder_resend", args=[reminder.pk]))
    assert response.status_code == 302
    copy = Reminder.objects.get(resend_of=reminder)
    assert (copy.status, copy.due_at, copy.valid_until) == (Status.SCHEDULED, at, reminder.valid_until)


def test_resending_after_the_cutoff_is_refused(client, nurse, booked):
    reminder = _failed(booked)
    with time_machine.travel(dt.datetime(2026, 6, 11, 6, 0, tzinfo=dt.UTC), tick=False):
        client.force_login(nurse)
        response = client.post(reverse("nurse:reminder_resend", args=[reminder.pk]), follow=True)
    assert "no longer useful" in response.content.decode()
    assert not Reminder.objects.filter(resend_of=reminder).exists()


def test_resending_a_reminder_for_old_times_is_refused(client, nurse, booked):
    reminder = _failed(booked)
    type(booked).objects.filter(pk=booked.pk).update(version=2)
    with time_machine.travel(NOW, tick=False):
        client.force_login(nurse)
        client.post(reverse("nurse:reminder_resend", args=[reminder.pk]))
    assert not Reminder.objects.filter(resend_of=reminder).exists()


def test_outbox_shows_a_nurse_only_their_clinics_messages(client, nurse, other_nurse, booked):
    reminder = Reminder.objects.filter(channel="email").first()
    OutboxMessage.objects.create(channel="email", to="x@example.org", subject="Hello", body="Body", reminder=reminder)
    client.force_login(nurse)
    assert len(client.get(reverse("nurse:outbox")).context["page"]) == 1
    client.force_login(other_nurse)
    assert len(client.get(reverse("nurse:outbox")).context["page"]) == 0


def test_changing_the_mobile_number_needs_the_password(client, guardian, booked):
    client.force_login(guardian.user)
    response = _prefs(client, mobile_number="(773) 555-0123", current_password="")
    assert "enter your password" in response.content.decode()
    wrong = _prefs(client, mobile_number="(773) 555-0123", current_password="not-it")
    assert "enter your password" in wrong.content.decode()
    guardian.refresh_from_db()
    assert guardian.mobile_number == "+13125550142"


def test_a_contact_change_is_told_to_the_old_address(client, guardian, booked, django_capture_on_commit_callbacks):

    client.force_login(guardian.user)
    with django_capture_on_commit_callbacks(execute=True):
        assert _prefs(client, email="alice.new@example.org").status_code == 302
    guardian.user.refresh_from_db()
    assert guardian.user.email == "alice.new@example.org"
    (notice,) = [m for m in send_queued_email() if m.to == ["alice@example.org"]]
    assert "changed" in notice.subject


def test_an_email_used_by_another_account_is_refused(client, guardian, other_guardian, booked):
    client.force_login(guardian.user)
    response = _prefs(client, email=other_guardian.user.email)
    assert "already used by another account" in response.content.decode()


def test_other_choices_need_no_password(client, guardian, booked):
    client.force_login(guardian.user)
    assert _prefs(client, language="es", current_password="").status_code == 302
