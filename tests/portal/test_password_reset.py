"""Forgot your password: a link by email for everyone, a code by text for families."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from axes.models import AccessAttempt
from django.core import mail
from django.test import Client
from django.urls import reverse

from portal.models import AuditAction, AuditEvent, ResetCode
from portal.password_reset import MESSAGES_PER_ACCOUNT_PER_HOUR, REQUESTS_PER_MINUTE
from reminders.models import Channel, Kind, OutboxMessage, Reminder, Status
from tests.conftest import log_in, send_queued_email
from tests.factories import PASSWORD

NEW_PASSWORD = "quiet-harbor-morning-58"
MOBILE = "+13125550177"
START = dt.datetime(2026, 5, 1, 5, tzinfo=dt.UTC)


@pytest.fixture
def parent(guardian):
    guardian.mobile_number = MOBILE
    guardian.save()
    return guardian


def _ask_by_email(client, email, address="192.0.2.1"):
    return client.post(reverse("password_reset"), {"email": email}, REMOTE_ADDR=address)


def _reset_link() -> str:
    emails = [m for m in send_queued_email() if "/accounts/password/reset/" in m.body]
    return re.search(r"http://[^/\s]+(/accounts/password/reset/\S+/\S+/)", emails[-1].body).group(1)


def _choose(client, url, password=NEW_PASSWORD):
    return client.post(url, {"new_password1": password, "new_password2": password})


def _use_link(client, link, password=NEW_PASSWORD):
    """Open the link as a browser does (Django swaps the token for a session and redirects), then choose."""
    opened = client.get(link)
    if opened.status_code != 302:
        return opened
    return _choose(client, opened["Location"], password)


def _ask_by_text(client, typed="(312) 555-0177", address="192.0.2.1"):
    return client.post(reverse("password_reset_text"), {"mobile_number": typed}, REMOTE_ADDR=address)


def _texted_code() -> str:
    send_queued_email()
    text = OutboxMessage.objects.filter(channel=Channel.SMS).first()
    return re.search(r"\b(\d{6})\b", text.body).group(1)


def _enter(client, code):
    return client.post(reverse("password_reset_code"), {"code": code})


# --- By email -------------------------------------------------------------------


def test_the_login_page_links_to_forgot_your_password(client, db):
    page = client.get(reverse("login")).content.decode()
    assert reverse("password_reset") in page and "Forgot your password?" in page


def test_a_parent_gets_a_link_by_email_and_chooses_a_new_password(client, parent):
    response = _ask_by_email(client, "Alice@Example.org")
    assert response.status_code == 302 and response["Location"] == reverse("password_reset_done")
    assert mail.outbox == []  # nothing is sent inside the request
    queued = Reminder.objects.get(kind=Kind.PASSWORD_RESET)
    assert (queued.channel, queued.status, queued.about_id) == (Channel.EMAIL, Status.SCHEDULED, parent.user_id)
    link = _reset_link()
    assert link not in str(Reminder.objects.values().get(pk=queued.pk))  # the row never holds the link
    email = [m for m in mail.outbox if "/accounts/password/reset/" in m.body][-1]
    assert email.to == ["alice@example.org"] and "60 minutes" in email.body
    response = _use_link(client, link)
    assert response.status_code == 302 and response["Location"] == reverse("password_reset_complete")
    assert log_in(Client(), "alice@example.org", NEW_PASSWORD)
    assert not log_in(Client(), "alice@example.org", PASSWORD)


def test_the_emailed_link_works_only_once(client, parent):
    _ask_by_email(client, "alice@example.org")
    link = _reset_link()
    assert _use_link(client, link).status_code == 302
    again = _use_link(Client(), link, "another-long-pass-phrase-3")
    assert again.status_code == 200 and "This link no longer works" in again.content.decode()
    assert log_in(Client(), "alice@example.org", NEW_PASSWORD)


def test_the_emailed_link_stops_working_after_an_hour(client, parent):
    with time_machine.travel(START, tick=False):
        _ask_by_email(client, "alice@example.org")
        link = _reset_link()
    with time_machine.travel(START + dt.timedelta(minutes=59), tick=False):
        assert client.get(link).status_code == 302
    with time_machine.travel(START + dt.timedelta(minutes=60, seconds=1), tick=False):
        late = _use_link(Client(), link)
        assert late.status_code == 200 and "This link no longer works" in late.content.decode()
    assert log_in(Client(), "alice@example.org", PASSWORD)


def test_a_link_not_sent_within_the_hour_is_never_sent(client, parent):
    with time_machine.travel(START, tick=False):
        _ask_by_email(client, "alice@example.org")
    with time_machine.travel(START + dt.timedelta(minutes=61), tick=False):
        assert send_queued_email() == []
    assert Reminder.objects.get(kind=Kind.PASSWORD_RESET).status == Status.EXPIRED


def test_an_unknown_email_gets_the_same_answer_and_nothing_is_sent(client, parent):
    known = _ask_by_email(client, "alice@example.org")
    unknown = _ask_by_email(client, "nobody@example.org")
    assert (unknown.status_code, unknown["Location"]) == (known.status_code, known["Location"])
    assert Reminder.objects.filter(kind=Kind.PASSWORD_RESET).count() == 1
    page = client.get(reverse("password_reset_done")).content.decode()
    assert "If this email is on a Marrow Ready account" in page


def test_a_bad_email_is_told_plainly(client, db):
    for typed in ["not an email", "", "a\x00b@example.org", "x" * 300 + "@example.org"]:
        response = _ask_by_email(client, typed)
        assert response.status_code == 200 and response.context["form"].errors, typed


def test_a_nurse_resets_by_email_and_still_needs_the_second_step(client, nurse, settings):
    settings.TWO_FACTOR_FOR_STAFF = True
    _ask_by_email(client, "nurse@example.org")
    reminder = Reminder.objects.get(kind=Kind.PASSWORD_RESET)
    assert reminder.guardian_id is None and reminder.address == "nurse@example.org"
    assert _use_link(client, _reset_link()).status_code == 302
    logged_in = Client()
    assert log_in(logged_in, "nurse@example.org", NEW_PASSWORD)
    assert reverse("two_factor_verify") in logged_in.get(reverse("nurse:dashboard"))["Location"]


def test_the_email_is_in_the_accounts_language(client, parent):
    parent.user.language = "es"
    parent.user.save()
    _ask_by_email(client, "alice@example.org")
    _reset_link()
    email = mail.outbox[-1]
    assert email.subject == "Elija una nueva contraseña de Marrow Ready"


# --- By text ---------------------------------------------------------------------


def test_a_parent_gets_a_code_by_text_and_chooses_a_new_password(client, parent):
    response = _ask_by_text(client)
    assert response.status_code == 302 and response["Location"] == reverse("password_reset_code")
    queued = Reminder.objects.get(kind=Kind.PASSWORD_RESET_CODE)
    assert (queued.channel, queued.address, queued.guardian_id) == (Channel.SMS, MOBILE, parent.pk)
    assert not OutboxMessage.objects.exists()  # nothing is sent inside the request
    code = _texted_code()
    text = OutboxMessage.objects.get(channel=Channel.SMS)
    assert text.to == MOBILE and "15 minutes" in text.body
    stored = ResetCode.objects.get(user=parent.user)
    assert code not in stored.code_hash
    page = client.get(reverse("password_reset_code")).content.decode()
    assert "(312) 555-0177" in page
    assert _enter(client, code)["Location"] == reverse("password_reset_text_new")
    response = _choose(client, reverse("password_reset_text_new"))
    assert response.status_code == 302 and response["Location"] == reverse("password_reset_complete")
    assert log_in(Client(), "alice@example.org", NEW_PASSWORD)


def test_a_texted_code_works_only_once(client, parent):
    _ask_by_text(client)
    code = _texted_code()
    _enter(client, code)
    assert _choose(client, reverse("password_reset_text_new")).status_code == 302
    again = Client()
    again.post(reverse("password_reset_text"), {"mobile_number": MOBILE}, REMOTE_ADDR="192.0.2.9")
    # The new request sent a new code; the old one is spent.
    assert _enter(again, code).status_code == 200
    assert _choose(again, reverse("password_reset_text_new"), "another-long-pass-phrase-3").status_code == 410
    assert log_in(Client(), "alice@example.org", NEW_PASSWORD)


def test_a_texted_code_stops_working_after_15_minutes(client, parent):
    with time_machine.travel(START, tick=False):
        _ask_by_text(client)
        code = _texted_code()
    with time_machine.travel(START + dt.timedelta(minutes=15, seconds=1), tick=False):
        response = _enter(client, code)
        assert response.status_code == 200 and "This code does not work" in response.content.decode()


def test_a_code_checked_in_time_but_used_too_late_is_refused(client, parent):
    with time_machine.travel(START, tick=False):
        _ask_by_text(client)
        _enter(client, _texted_code())
    with time_machine.travel(START + dt.timedelta(minutes=16), tick=False):
        late = _choose(client, reverse("password_reset_text_new"))
        assert late.status_code == 410 and "This code no longer works" in late.content.decode()
    assert log_in(Client(), "alice@example.org", PASSWORD)


def test_five_wrong_codes_lock_the_code(client, parent):
    _ask_by_text(client)
    code = _texted_code()
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        response = _enter(client, wrong)
        assert response.status_code == 200 and "This code does not work" in response.content.decode()
    locked = _enter(client, code)
    assert locked.status_code == 200 and "This code does not work" in locked.content.decode()
    assert client.get(reverse("password_reset_text_new")).status_code == 410


def test_an_unknown_number_gets_the_same_answer_and_nothing_is_sent(client, parent):
    known = _ask_by_text(client)
    unknown = _ask_by_text(Client(), "(312) 555-0188")
    assert (unknown.status_code, unknown["Location"]) == (known.status_code, known["Location"])
    assert Reminder.objects.filter(kind=Kind.PASSWORD_RESET_CODE).count() == 1
    other = Client()
    _ask_by_text(other, "(312) 555-0188")
    response = _enter(other, "123456")
    assert response.status_code == 200 and "This code does not work" in response.content.decode()


def test_staff_cannot_reset_by_text(client, nurse):
    _ask_by_text(client)
    assert not Reminder.objects.filter(kind=Kind.PASSWORD_RESET_CODE).exists()


def test_the_code_text_says_which_account_when_a_number_is_shared(client, parent, other_guardian):
    other_guardian.mobile_number = MOBILE
    other_guardian.save()
    _ask_by_text(client)
    send_queued_email()
    bodies = sorted(m.body for m in OutboxMessage.objects.filter(channel=Channel.SMS))
    assert len(bodies) == 2
    assert "alice@example.org" in bodies[0] + bodies[1] and "bob@example.org" in bodies[0] + bodies[1]


def test_bad_numbers_and_codes_are_told_plainly(client, parent):
    for typed in ["", "hello", "555", "+1 312 555 01777777", "\x00"]:
        response = _ask_by_text(client, typed)
        assert response.status_code == 200 and response.context["form"].errors, typed
    assert client.get(reverse("password_reset_code"))["Location"] == reverse("password_reset_text")
    assert client.get(reverse("password_reset_text_new")).status_code == 410
    _ask_by_text(client, address="192.0.2.7")  # the bad ones above used up this minute's requests
    send_queued_email()
    for typed in ["", "12345", "abcdef", "١٢٣٤٥٦", "1" * 30, "12\x003456"]:
        response = _enter(client, typed)
        assert response.status_code == 200 and response.context["form"].errors, typed
    assert ResetCode.objects.get().failed_tries == 0  # only well-formed codes use up a try


# --- After a reset -----------------------------------------------------------------


def test_a_reset_logs_out_every_other_session(client, parent):
    elsewhere = Client()
    assert log_in(elsewhere, "alice@example.org", PASSWORD)
    assert elsewhere.get(reverse("family:dashboard")).status_code == 200
    _ask_by_email(client, "alice@example.org")
    _use_link(client, _reset_link())
    assert elsewhere.get(reverse("family:dashboard")).status_code == 302


def test_the_account_is_told_by_email_that_the_password_changed(client, parent):
    _ask_by_text(client)
    _enter(client, _texted_code())
    _choose(client, reverse("password_reset_text_new"))
    notice = Reminder.objects.get(kind=Kind.PASSWORD_CHANGED)
    assert (notice.channel, notice.address) == (Channel.EMAIL, "alice@example.org")
    sent = [m for m in send_queued_email() if "password" in m.subject.lower()]
    assert sent[0].to == ["alice@example.org"] and "call your child's clinic" in sent[0].body


def test_a_reset_lifts_a_login_lockout(client, parent):
    for _ in range(5):
        Client().post(reverse("login"), {"username": "alice@example.org", "password": "wrong-password-1"})
    assert AccessAttempt.objects.exists()
    _ask_by_email(client, "alice@example.org")
    _use_link(client, _reset_link())
    assert log_in(Client(), "alice@example.org", NEW_PASSWORD)


def test_requests_and_resets_are_audited_by_account_id_only(client, parent):
    _ask_by_email(client, "alice@example.org")
    _ask_by_email(client, "nobody@example.org")
    _use_link(client, _reset_link())
    requested = AuditEvent.objects.filter(action=AuditAction.RESET_REQUESTED).order_by("pk")
    assert [event.user_id for event in requested] == [parent.user_id, None]
    done = AuditEvent.objects.get(action=AuditAction.RESET_DONE)
    assert (done.user_id, done.route, done.ip_address) == (parent.user_id, "password_reset", "127.0.0.1")


# --- Limits --------------------------------------------------------------------------


@pytest.mark.usefixtures("held_clock")
@pytest.mark.parametrize("ask", [_ask_by_email, _ask_by_text], ids=["email", "text"])
def test_an_address_is_slowed_down_after_a_few_requests_a_minute(client, parent, ask):
    typed = "alice@example.org" if ask is _ask_by_email else "(312) 555-0177"
    for _ in range(REQUESTS_PER_MINUTE):
        assert ask(client, typed).status_code == 302
    blocked = ask(client, typed)
    assert blocked.status_code == 429 and blocked["Retry-After"] == "60"
    assert ask(client, typed, address="192.0.2.2").status_code == 302
    assert client.get(reverse("password_reset"), REMOTE_ADDR="192.0.2.1").status_code == 200


@pytest.mark.usefixtures("held_clock")
def test_an_account_gets_a_few_messages_an_hour_whoever_asks(client, parent):
    for n in range(MESSAGES_PER_ACCOUNT_PER_HOUR + 3):
        ask = _ask_by_email if n % 2 else _ask_by_text
        typed = "alice@example.org" if n % 2 else MOBILE
        assert ask(Client(), typed, address=f"192.0.2.{n + 10}").status_code == 302
    kinds = (Kind.PASSWORD_RESET, Kind.PASSWORD_RESET_CODE)
    assert Reminder.objects.filter(kind__in=kinds).count() == MESSAGES_PER_ACCOUNT_PER_HOUR


@pytest.mark.usefixtures("held_clock")
def test_code_guesses_from_one_address_are_slowed_down(client, parent):
    _ask_by_text(client)
    for n in range(10):
        assert _enter(client, f"{n:06d}").status_code == 200
    assert _enter(client, "000011").status_code == 429


def test_a_family_who_replied_stop_gets_no_code_text(client, parent):
    parent.sms_opted_out_at = START
    parent.save()
    _ask_by_text(client)
    send_queued_email()
    assert not OutboxMessage.objects.filter(channel=Channel.SMS).exists()
    assert Reminder.objects.get(kind=Kind.PASSWORD_RESET_CODE).status == Status.FAILED
