"""Login: lockout per account and address, spoofing-proof; argon2; a new session on login."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.urls import reverse

import portal.settings as production
from tests.factories import PASSWORD


def _try(client, email, password, **headers):
    return client.post(reverse("login"), {"username": email, "password": password}, **headers)


def test_five_wrong_passwords_lock_the_account_from_that_address(client, guardian):
    email = guardian.user.email
    for _ in range(4):
        assert _try(client, email, "wrong-password-1").status_code == 200
    locked = _try(client, email, "wrong-password-1")
    assert locked.status_code == 429
    assert "Too many tries" in locked.content.decode()
    assert _try(client, email, PASSWORD).status_code == 429  # even the right password waits


def test_the_same_account_from_another_address_is_not_locked(client, guardian):
    email = guardian.user.email
    for _ in range(5):
        _try(client, email, "wrong-password-1", REMOTE_ADDR="10.0.0.1")
    assert _try(client, email, PASSWORD, REMOTE_ADDR="10.0.0.2").status_code == 302


def test_a_forged_forwarded_for_header_does_not_dodge_the_lockout(client, guardian):
    email = guardian.user.email
    for n in range(5):
        _try(client, email, "wrong-password-1", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
    assert _try(client, email, PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 429


def test_a_right_password_before_the_limit_resets_the_count(client, guardian):
    email = guardian.user.email
    for _ in range(4):
        _try(client, email, "wrong-password-1")
    assert _try(client, email, PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):
        _try(client, email, "wrong-password-1")
    assert _try(client, email, PASSWORD).status_code == 302


def test_logging_in_starts_a_new_session(client, guardian):
    client.get(reverse("login"))
    client.session.save()
    before = client.session.session_key
    _try(client, guardian.user.email, PASSWORD)
    assert client.session.session_key != before


def test_passwords_are_hashed_with_argon2_in_production():
    assert production.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"


@pytest.mark.parametrize("password", ["password123", "12345678901", "alice@example.org"])
def test_weak_passwords_are_refused(guardian, password):
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        validate_password(password, user=guardian.user)


@pytest.mark.parametrize("length", [255, 256, 10_000])
def test_an_over_long_login_name_is_an_ordinary_failed_login(client, db, length):
    name = "a" * (length - len("@example.org")) + "@example.org"
    response = _try(client, name, "wrong-password-1")
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert len(AccessAttempt.objects.get().username) <= 255


def test_over_long_login_names_still_lock_after_five_failures(client, db):
    name = "b" * 300 + "@example.org"
    for _ in range(5):
        _try(client, name, "wrong-password-1")
    assert _try(client, name, "wrong-password-1").status_code == 429
