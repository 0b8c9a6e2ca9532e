"""Two-step login: required for staff before any staff page or the admin; optional for families."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from reminders.management.commands.load_demo_data import DEMO_BACKUP_CODES
from tests.conftest import log_in
from tests.factories import PASSWORD


@pytest.fixture(autouse=True)
def _two_factor_on(settings):
    settings.TWO_FACTOR_FOR_STAFF = True


def _totp_code(device: TOTPDevice) -> str:
    return f"{TOTP(device.bin_key, device.step, device.t0, device.digits).token():06d}"


def test_staff_must_set_up_two_step_before_any_staff_page(client, nurse):
    assert log_in(client, nurse.email, PASSWORD)
    for url in (reverse("nurse:dashboard"), reverse("nurse:procedure_list"), reverse("admin:index")):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("two_factor_verify")), url
    assert client.get(reverse("two_factor_verify"), follow=True).redirect_chain[-1][0] == reverse("two_factor_setup")


def test_setting_up_with_a_right_code_gives_backup_codes_and_access(client, nurse):
    log_in(client, nurse.email, PASSWORD)
    client.get(reverse("two_factor_setup"))
    device = TOTPDevice.objects.get(user=nurse)
    page = client.post(reverse("two_factor_setup"), {"code": _totp_code(device)})
    codes = re.findall(r"<li>([a-z0-9]{8,16})</li>", page.content.decode())
    assert len(codes) == 10
    assert client.get(reverse("nurse:dashboard")).status_code == 200


def test_a_wrong_code_is_refused_with_a_message(client, nurse):
    log_in(client, nurse.email, PASSWORD)
    client.get(reverse("two_factor_setup"))
    device = TOTPDevice.objects.get(user=nurse)
    wrong = "000000" if _totp_code(device) != "000000" else "111111"
    assert "did not work" in client.post(reverse("two_factor_setup"), {"code": wrong}).content.decode()
    assert client.get(reverse("nurse:dashboard")).status_code == 302


def test_a_backup_code_works_once(client, nurse):
    log_in(client, nurse.email, PASSWORD)
    client.get(reverse("two_factor_setup"))
    device = TOTPDevice.objects.get(user=nurse)
    page = client.post(reverse("two_factor_setup"), {"code": _totp_code(device)}).content.decode()
    code = re.findall(r"<li>([a-z0-9]{8,16})</li>", page)[0]
    client.post(reverse("logout"))
    log_in(client, nurse.email, PASSWORD)
    assert client.post(reverse("two_factor_verify"), {"code": code}).status_code == 302
    assert client.get(reverse("nurse:dashboard")).status_code == 200
    client.post(reverse("logout"))
    log_in(client, nurse.email, PASSWORD)
    again = client.post(reverse("two_factor_verify"), {"code": code})
    assert "did not work" in again.content.decode()


def test_families_are_not_asked_unless_they_turn_it_on(client, guardian):
    log_in(client, guardian.user.email, PASSWORD)
    assert client.get(reverse("family:dashboard")).status_code == 200
    client.get(reverse("two_factor_setup"))
    device = TOTPDevice.objects.get(user=guardian.user)
    client.post(reverse("two_factor_setup"), {"code": _totp_code(device)})
    client.post(reverse("logout"))
    log_in(client, guardian.user.email, PASSWORD)
    assert client.get(reverse("family:dashboard"))["Location"].startswith(reverse("two_factor_verify"))


def test_the_demo_nurse_logs_in_with_a_published_backup_code(client, db, settings):
    settings.DEBUG = True
    call_command("load_demo_data")
    settings.DEBUG = False
    assert log_in(client, "nurse@example.org", "marrow-demo-2026")
    response = client.post(reverse("two_factor_verify"), {"code": DEMO_BACKUP_CODES["nurse@example.org"][0]})
    assert response.status_code == 302
    assert client.get(reverse("nurse:dashboard")).status_code == 200


def test_next_cannot_send_you_off_site(client, nurse):
    log_in(client, nurse.email, PASSWORD)
    client.get(reverse("two_factor_setup"))
    device = TOTPDevice.objects.get(user=nurse)
    client.post(reverse("two_factor_setup"), {"code": _totp_code(device)})
    client.post(reverse("logout"))
    log_in(client, nurse.email, PASSWORD)
    response = client.post(
        reverse("two_factor_verify"), {"code": _totp_code(device), "next": "https://evil.example.com/"}
    )
    assert response.status_code in (200, 302)
    if response.status_code == 302:
        assert "evil.example.com" not in response["Location"]
