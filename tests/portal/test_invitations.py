from __future__ import annotations

import datetime as dt
import socket

import time_machine
from django.core import mail
from django.urls import reverse

from portal.models import Invitation, User
from reminders import dispatch
from reminders.models import Kind, Reminder, Status
from tests.conftest import invitation_link_token, latest_invitation, log_in

NEW_PASSWORD = "blue-lantern-river-42"


def _invite(client, django_capture_on_commit_callbacks, nurse, patient, **overrides):
    client.force_login(nurse)
    data = {
        "full_name": "Gina Guardian",
        "email": "gina@example.org",
        "mobile_number": "312 555 0199",
        "relationship": "Aunt",
        "language": "en",
        **overrides,
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("nurse:guardian_add", args=[patient.pk]), data)
    assert response.status_code == 302
    client.logout()
    return invitation_link_token()


def _accept(client, token, password=NEW_PASSWORD):
    url = reverse("accept_invitation", args=[token])
    return client.post(url, {"new_password1": password, "new_password2": password})


def test_invitation_email_links_to_setting_a_password_then_the_guardian_sees_the_child(
    client, django_capture_on_commit_callbacks, nurse, procedure
):
    token = _invite(client, django_capture_on_commit_callbacks, nurse, procedure.patient)
    invitation = latest_invitation()
    assert invitation.to == ["gina@example.org"]
    assert procedure.patient.last_name not in invitation.body
    assert client.get(reverse("accept_invitation", args=[token])).status_code == 200
    response = _accept(client, token)
    assert response.status_code == 302
    assert client.get(reverse("family:dashboard")).context["procedures"][0] == procedure
    client.logout()
    assert log_in(client, "gina@example.org", NEW_PASSWORD)


def test_invitation_link_works_only_once(client, django_capture_on_commit_callbacks, nurse, patient):
    token = _invite(client, django_capture_on_commit_callbacks, nurse, patient)
    assert _accept(client, token).status_code == 302
    client.logout()
    assert _accept(client, token, "another-pass-phrase-7").status_code == 410
    assert log_in(client, "gina@example.org", NEW_PASSWORD)


def test_invitation_link_expires_after_72_hours(client, django_capture_on_commit_callbacks, nurse, patient):
    start = dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        token = _invite(client, django_capture_on_commit_callbacks, nurse, patient)
    with time_machine.travel(start + dt.timedelta(hours=71, minutes=59), tick=False):
        assert client.get(reverse("accept_invitation", args=[token])).status_code == 200
    with time_machine.travel(start + dt.timedelta(hours=72, seconds=1), tick=False):
        assert client.get(reverse("accept_invitation", args=[token])).status_code == 410
        assert _accept(client, token).status_code == 410
    assert not User.objects.get(email="gina@example.org").has_usable_password()


def test_a_new_invitation_replaces_the_old_link(client, django_capture_on_commit_callbacks, nurse, patient):
    old = _invite(client, django_capture_on_commit_callbacks, nurse, patient)
    guardian = User.objects.get(email="gina@example.org").guardian
    client.force_login(nurse)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("nurse:guardian_resend_invitation", args=[guardian.pk]))
    new = invitation_link_token()
    client.logout()
    assert _accept(client, old).status_code == 410
    assert _accept(client, new).status_code == 302


def test_weak_passwords_are_refused_with_a_message(client, django_capture_on_commit_callbacks, nurse, patient):
    token = _invite(client, django_capture_on_commit_callbacks, nurse, patient)
    response = _accept(client, token, "password")
    assert response.status_code == 200
    assert "too common" in response.content.decode()
    assert Invitation.objects.get().used_at is None


def test_only_a_hash_of_the_token_is_stored(client, django_capture_on_commit_callbacks, nurse, patient):
    token = _invite(client, django_capture_on_commit_callbacks, nurse, patient)
    assert not Invitation.objects.filter(token_hash=token).exists()
    assert Invitation.find_usable(token) is not None


def test_garbage_tokens_get_the_expired_page(client, db):
    for token in ["x", "a" * 500, "%00", "<script>"]:
        assert client.get(f"/invite/{token}/").status_code in (404, 410)


def test_with_the_mail_server_down_the_nurse_sees_no_error_and_the_invitation_goes_later(
    client, nurse, patient, settings
):
    with socket.socket() as probe:  # a port where nothing listens: the mail server is down
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", closed_port, 2
    settings.REMINDER_EMAIL_BACKEND = "email"
    client.force_login(nurse)
    data = {
        "full_name": "Gina Guardian",
        "email": "gina@example.org",
        "mobile_number": "",
        "relationship": "",
        "language": "en",
    }
    assert client.post(reverse("nurse:guardian_add", args=[patient.pk]), data).status_code == 302
    for pk in dispatch.claim_due(enqueue=lambda pk: None):
        dispatch.send(pk)
    invitation = Reminder.objects.get(kind=Kind.INVITATION)
    assert (invitation.status, invitation.attempts) == (Status.SCHEDULED, 1)  # a definite failure: due again
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with time_machine.travel(invitation.due_at, tick=False):
        for pk in dispatch.claim_due(enqueue=lambda pk: None):
            dispatch.send(pk)
    assert [m.to for m in mail.outbox] == [["gina@example.org"]]
    assert "/invite/" in mail.outbox[0].body
