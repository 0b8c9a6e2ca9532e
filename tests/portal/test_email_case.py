"""An email address is one account whatever its letter case: at login, on invitation and in the database."""

from __future__ import annotations

import pytest
from django.contrib.admin.sites import site
from django.db import IntegrityError, transaction
from django.test import RequestFactory
from django.urls import reverse

from portal.models import Invitation, Role, User
from tests.conftest import log_in
from tests.factories import PASSWORD, UserFactory


@pytest.mark.parametrize("typed", ["Alice@Example.org", "ALICE@EXAMPLE.ORG", " alice@example.org "])
def test_a_parent_logs_in_with_their_email_in_any_letter_case(client, guardian, typed):
    assert log_in(client, typed, PASSWORD)


def test_a_parent_invited_with_capitals_logs_in_however_they_type_it(client, nurse, patient):
    client.force_login(nurse)
    data = {"full_name": "Gina Guardian", "email": "Gina@Example.ORG", "mobile_number": "312 555 0199",
            "relationship": "Aunt", "language": "en"}  # fmt: skip
    assert client.post(reverse("nurse:guardian_add", args=[patient.pk]), data).status_code == 302
    client.logout()
    _, token = Invitation.issue(user=User.objects.get(email__iexact="gina@example.org"), created_by=nurse)
    password = "blue-lantern-river-42"
    accepted = client.post(reverse("accept_invitation", args=[token]), {"new_password1": password,
                                                                        "new_password2": password})  # fmt: skip
    assert accepted.status_code == 302
    client.logout()
    assert log_in(client, "Gina@Example.ORG", password)
    client.logout()
    assert log_in(client, "gina@example.org", password)


def test_two_accounts_cannot_share_an_email_that_differs_only_in_case(guardian):
    with pytest.raises(IntegrityError), transaction.atomic():
        UserFactory(email="ALICE@example.org")
    assert User.objects.filter(email__iexact="alice@example.org").count() == 1


def test_the_admin_refuses_an_email_that_differs_only_in_case(admin_user, guardian):
    request = RequestFactory().get("/")
    request.user = admin_user
    form_class = site._registry[User].get_form(request, None)
    form = form_class(
        {"email": "Alice@Example.org", "full_name": "A", "role": Role.GUARDIAN, "usable_password": "false"}
    )
    assert not form.is_valid()
    assert "An account with this email already exists." in str(form.errors)


def test_the_admin_stores_a_new_email_in_lower_case(admin_user):
    request = RequestFactory().get("/")
    request.user = admin_user
    form_class = site._registry[User].get_form(request, None)
    form = form_class(
        {"email": "New.Nurse@Example.org", "full_name": "N", "role": Role.NURSE, "usable_password": "false"}
    )
    assert form.is_valid(), form.errors
    assert form.save().email == "new.nurse@example.org"


def test_wrong_passwords_in_different_letter_cases_count_toward_one_lockout(client, guardian):
    for typed in [
        "alice@example.org",
        "Alice@example.org",
        "ALICE@example.org",
        "alice@EXAMPLE.org",
        "aLiCe@example.ORG",
    ]:
        client.post(reverse("login"), {"username": typed, "password": "wrong-password-1"})
    assert client.post(reverse("login"), {"username": "Alice@Example.org", "password": PASSWORD}).status_code == 429
