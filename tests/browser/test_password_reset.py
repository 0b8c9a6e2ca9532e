"""Forgot your password, in Chromium at phone width: a new password by an emailed link, and by a texted code."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from reminders.models import Channel, OutboxMessage
from tests.conftest import send_queued_email

from .conftest import DESKTOP, PHONE, screenshot

pytestmark = [pytest.mark.browser]
NEW_PASSWORD = "quiet-harbor-morning-58"


def _log_in(page, base: str, email: str, password: str) -> None:
    page.goto(base + "/accounts/login/")
    page.locator("#id_username").fill(email)
    page.locator("#id_password").fill(password)
    page.locator("#submit-id-submit").click()
    # Logged in: the family pages (a family with a mobile is first asked about texts).
    page.wait_for_url(base + "/family/**")


def _choose_new_password(page, name: str) -> None:
    page.get_by_role("heading", name="Choose a new password").wait_for()
    page.locator("#id_new_password1").fill(NEW_PASSWORD)
    page.locator("#id_new_password2").fill(NEW_PASSWORD)
    screenshot(page, f"{name}-new-password-phone")
    page.get_by_role("button", name="Save new password").click()
    page.get_by_role("heading", name="Your new password is saved").wait_for()
    screenshot(page, f"{name}-saved-phone")


def test_a_parent_on_a_phone_gets_a_link_by_email_and_logs_in_with_a_new_password(live_server, new_page, guardian):
    base = live_server.url
    page = new_page(PHONE)
    page.goto(base + "/accounts/login/")
    screenshot(page, "login-with-forgot-link-phone")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_role("heading", name="Forgot your password?").wait_for()
    screenshot(page, "reset-email-form-phone")
    page.get_by_label("Email").fill(guardian.user.email)
    page.get_by_role("button", name="Send me a link").click()
    page.get_by_role("heading", name="Check your email").wait_for()
    assert "If this email is on a Marrow Ready account" in page.locator("main").inner_text()
    screenshot(page, "reset-email-sent-phone")

    send_queued_email()
    link = re.search(r"http://\S+/accounts/password/reset/\S+/\S+/", mail.outbox[-1].body).group(0)
    page.goto(link.replace("http://127.0.0.1:8000", base))
    _choose_new_password(page, "reset-email")
    page.get_by_role("link", name="Go to log in").click()
    _log_in(page, base, guardian.user.email, NEW_PASSWORD)

    # The link works once.
    again = new_page(PHONE)
    again.goto(link.replace("http://127.0.0.1:8000", base))
    again.get_by_role("heading", name="This link no longer works").wait_for()
    screenshot(again, "reset-email-link-used-phone")


def test_a_parent_on_a_phone_gets_a_code_by_text_and_logs_in_with_a_new_password(live_server, new_page, guardian):
    guardian.mobile_number = "+13125550177"
    guardian.save()
    base = live_server.url
    page = new_page(PHONE)
    page.goto(base + "/accounts/password/reset/")
    page.get_by_role("link", name="Get a code by text").click()
    page.get_by_role("heading", name="Get a code by text").wait_for()
    page.get_by_label("Mobile number").fill("555")
    page.get_by_role("button", name="Text me a code").click()
    page.get_by_text("This is not a valid phone number").wait_for()
    screenshot(page, "reset-text-bad-number-phone")
    page.get_by_label("Mobile number").fill("(312) 555-0177")
    page.get_by_role("button", name="Text me a code").click()
    page.get_by_role("heading", name="Type the code").wait_for()

    send_queued_email()
    code = re.search(r"\b(\d{6})\b", OutboxMessage.objects.get(channel=Channel.SMS).body).group(1)
    page.get_by_label("Code from the text").fill("000000" if code != "000000" else "111111")
    page.get_by_role("button", name="Check the code").click()
    page.get_by_text("This code does not work.").wait_for()
    screenshot(page, "reset-text-wrong-code-phone")
    page.get_by_label("Code from the text").fill(code)
    page.get_by_role("button", name="Check the code").click()
    _choose_new_password(page, "reset-text")
    page.get_by_role("link", name="Go to log in").click()
    _log_in(page, base, guardian.user.email, NEW_PASSWORD)


def test_the_reset_pages_read_well_on_a_desktop_and_in_spanish(live_server, new_page, db):
    base = live_server.url
    page = new_page(DESKTOP)
    page.goto(base + "/accounts/login/")
    screenshot(page, "login-with-forgot-link-desktop")
    page.goto(base + "/accounts/password/reset/")
    screenshot(page, "reset-email-form-desktop")
    page.locator("footer button[value=es]").click()
    page.wait_for_load_state()
    page.get_by_role("heading", name="¿Olvidó su contraseña?").wait_for()
    screenshot(page, "reset-email-form-desktop-es")
    phone = new_page(PHONE)
    phone.goto(base + "/accounts/password/text/")
    phone.locator("footer button[value=es]").click()
    phone.wait_for_load_state()
    phone.get_by_role("heading", name="Recibir un código por mensaje de texto").wait_for()
    screenshot(phone, "reset-text-form-phone-es")
