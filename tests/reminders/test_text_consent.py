"""Consent to texts: recorded by a nurse in person or by phone, or asked once after the family logs in."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from portal.models import AuditAction, AuditEvent
from procedures.models import ConsentVia, Guardian
from reminders import consent
from reminders.models import Channel, Reminder, Status

from ..factories import PASSWORD


@pytest.fixture
def upcoming(procedure):
    """A booked procedure: planning gives it reminders, by email only until there is consent."""
    from reminders.planning import sync_reminders

    sync_reminders(procedure)
    return procedure


def _sms_planned(procedure) -> int:
    return Reminder.objects.filter(procedure=procedure, channel=Channel.SMS, status=Status.SCHEDULED).count()


def _record(client, guardian, **data):
    return client.post(reverse("nurse:guardian_sms_consent", args=[guardian.pk]), data)


def test_the_guardian_page_shows_the_words_to_read_in_the_familys_language(client, nurse, guardian, patient):
    guardian.user.language = "es"
    guardian.user.save()
    client.force_login(nurse)
    page = client.get(reverse("nurse:guardian_detail", args=[guardian.pk])).content.decode()
    assert "Record their consent" in page
    assert escape(consent.words("es")) in page and 'lang="es"' in page
    assert "Texts are off: the family has not agreed yet." in page


def test_a_nurse_records_consent_given_by_phone_and_texts_turn_on_at_once(client, nurse, guardian, upcoming):
    assert _sms_planned(upcoming) == 0
    client.force_login(nurse)
    response = _record(client, guardian, via="phone", read_aloud="on")
    assert response.status_code == 302
    guardian.refresh_from_db()
    assert guardian.sms_consent_by == nurse
    assert guardian.sms_consent_via == ConsentVia.PHONE
    assert guardian.sms_consent_text == consent.words("en")
    assert guardian.sms_consent_at is not None and guardian.sms_enabled and guardian.can_receive_sms
    assert _sms_planned(upcoming) > 0
    page = client.get(reverse("nurse:guardian_detail", args=[guardian.pk])).content.decode()
    assert "Texts on" in page and "recorded by Nora Nurse" in page and "By phone" in page


def test_the_stored_words_are_the_spanish_ones_for_a_spanish_speaking_family(client, nurse, guardian, patient):
    guardian.user.language = "es"
    guardian.user.save()
    client.force_login(nurse)
    _record(client, guardian, via="in_person", read_aloud="on")
    guardian.refresh_from_db()
    assert guardian.sms_consent_text == consent.words("es") != consent.words("en")
    assert guardian.sms_consent_via == ConsentVia.IN_PERSON


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"via": "in_person"}, "Please read the words to them first, then tick this box."),
        ({"read_aloud": "on"}, "Please choose how they agreed: in person or by phone."),
        ({"via": "portal", "read_aloud": "on"}, "Please choose how they agreed"),
        ({"via": "x" * 5000, "read_aloud": "on"}, "Please choose how they agreed"),
    ],
)
def test_consent_without_the_words_read_or_the_way_given_gets_a_clear_message(
    client, nurse, guardian, patient, data, message
):
    client.force_login(nurse)
    response = _record(client, guardian, **data)
    assert response.status_code == 200
    assert message in response.content.decode()
    guardian.refresh_from_db()
    assert guardian.sms_consent_at is None and not guardian.sms_enabled


def test_after_stop_only_the_family_can_turn_texts_back_on(client, nurse, guardian, patient):
    guardian.sms_opted_out_at = timezone.now()
    guardian.save()
    client.force_login(nurse)
    page = client.get(reverse("nurse:guardian_detail", args=[guardian.pk])).content.decode()
    assert "by texting START" in page and "Record their consent" not in page
    response = _record(client, guardian, via="phone", read_aloud="on")
    assert response.status_code == 302
    guardian.refresh_from_db()
    assert guardian.sms_consent_at is None


def test_a_guardian_without_a_mobile_cannot_be_given_texts(client, nurse, guardian, patient):
    guardian.mobile_number = ""
    guardian.save()
    client.force_login(nurse)
    assert "No mobile number yet" in client.get(reverse("nurse:guardian_detail", args=[guardian.pk])).content.decode()
    _record(client, guardian, via="phone", read_aloud="on")
    guardian.refresh_from_db()
    assert guardian.sms_consent_at is None


def test_the_recorded_consent_is_in_the_audit_log(client, nurse, guardian, patient):
    client.force_login(nurse)
    _record(client, guardian, via="phone", read_aloud="on")
    event = AuditEvent.objects.get(route="nurse:guardian_sms_consent")
    assert (event.user_id, event.action, event.object_type, event.object_id) == (
        nurse.pk,
        AuditAction.CHANGE,
        "guardian",
        guardian.pk,
    )


# --- Asked once, after the family logs in -------------------------------------------


def _log_in(client, guardian: Guardian):
    return client.post(reverse("login"), {"username": guardian.user.email, "password": PASSWORD}, follow=True)


def test_a_family_with_a_mobile_and_no_consent_is_asked_after_logging_in(client, guardian, patient):
    response = _log_in(client, guardian)
    assert response.redirect_chain[-1][0] == reverse("family:text_question")
    page = response.content.decode()
    assert "Can we text you reminders?" in page and "(312) 555-0142" in page
    assert escape(consent.words("en")) in page


def test_yes_records_the_words_in_their_language_and_turns_texts_on(client, guardian, upcoming):
    guardian.user.language = "es"
    guardian.user.save()
    client.force_login(guardian.user)
    page = client.get(reverse("family:text_question")).content.decode()
    assert escape(consent.words("es")) in page
    response = client.post(reverse("family:text_question"), {"answer": "yes"})
    assert response.url == reverse("family:dashboard")
    guardian.refresh_from_db()
    assert guardian.sms_consent_text == consent.words("es")
    assert guardian.sms_consent_by == guardian.user and guardian.sms_consent_via == ConsentVia.PORTAL
    assert guardian.can_receive_sms and _sms_planned(upcoming) > 0
    assert AuditEvent.objects.filter(route="family:text_question", action=AuditAction.CHANGE).exists()


def test_not_now_is_remembered_and_not_asked_at_the_next_login(client, guardian, upcoming):
    client.force_login(guardian.user)
    response = client.post(reverse("family:text_question"), {"answer": "not_now"}, follow=True)
    assert "We will not text you" in response.content.decode()
    guardian.refresh_from_db()
    assert guardian.sms_asked_at is not None and guardian.sms_consent_at is None and not guardian.sms_enabled
    assert _sms_planned(upcoming) == 0
    client.logout()
    assert _log_in(client, guardian).redirect_chain[-1][0] == reverse("family:dashboard")
    assert client.get(reverse("family:text_question")).url == reverse("family:dashboard")


@pytest.mark.parametrize("answer", ["", "maybe", "YES", "x" * 10_000])
def test_a_missing_or_odd_answer_gets_a_clear_message(client, guardian, patient, answer):
    client.force_login(guardian.user)
    response = client.post(reverse("family:text_question"), {"answer": answer})
    assert response.status_code == 200
    assert "Please choose Yes or Not now." in response.content.decode()
    guardian.refresh_from_db()
    assert guardian.sms_asked_at is None and guardian.sms_consent_at is None


@pytest.mark.parametrize(
    "change",
    [
        {"mobile_number": ""},
        {"sms_opted_out_at": timezone.now()},
        {"sms_consent_at": timezone.now(), "sms_enabled": True},
    ],
    ids=["no mobile", "replied STOP", "already agreed"],
)
def test_families_with_nothing_to_ask_go_straight_home(client, guardian, patient, change):
    Guardian.objects.filter(pk=guardian.pk).update(**change)
    assert _log_in(client, guardian).redirect_chain[-1][0] == reverse("family:dashboard")


def test_a_new_mobile_number_is_asked_about_again(client, guardian, patient):
    consent.not_now(guardian=guardian)
    client.force_login(guardian.user)
    data = {
        "email": guardian.user.email,
        "email_enabled": "on",
        "mobile_number": "(312) 555-0199",
        "language": "en",
        "current_password": PASSWORD,
    }
    assert client.post(reverse("family:preferences"), data).status_code == 302
    assert client.get(reverse("home")).url == reverse("family:text_question")


def test_nurses_never_see_the_family_question(client, nurse):
    client.force_login(nurse)
    assert client.get(reverse("family:text_question")).status_code == 404
