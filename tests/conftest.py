"""Shared fixtures: a nurse, a guardian and an unrelated family for every permission test.

Services: under CI=true the suite must run on PostgreSQL and Redis, and a test
that needs one fails loudly when it is missing instead of skipping.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import hypothesis
import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from portal.models import Role
from procedures.models import Guardian

from . import parallel
from .factories import GuardianFactory, LocationFactory, PatientFactory, ProcedureFactory, UserFactory

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# Hypothesis profiles. "ci", loaded here, is what `make test` and CI run: each slow state machine with
# a share of its sequences. "full" runs all of them (scripts/full_state_machines.sh, or `pytest
# --hypothesis-profile=full`). Both are Hypothesis's defaults otherwise.
hypothesis.settings.register_profile("ci")
hypothesis.settings.register_profile("full")
hypothesis.settings.load_profile("ci")


def state_machine_examples(*, full: int, ci: int) -> int:
    """How many sequences a state machine runs: `full` under the "full" profile, else `ci`."""
    return full if hypothesis.settings.get_current_profile_name() == "full" else ci


def need(reason: str) -> None:
    """Skip locally, fail in CI: a missing service must never pass silently there."""
    if IN_CI:
        pytest.fail(f"CI needs this service: {reason}", pytrace=False)
    pytest.skip(reason)


def pytest_sessionstart(session: pytest.Session) -> None:
    if IN_CI and django_settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise pytest.UsageError("CI must run the suite on PostgreSQL: set DATABASE_URL.")
    if IN_CI and not django_settings.REDIS_URL:
        raise pytest.UsageError("CI must run the suite with Redis: set REDIS_URL.")


def pytest_sessionfinish(session: pytest.Session) -> None:
    if parallel.is_controller(session.config):
        parallel.drop_shared_database(django_settings.DATABASES["default"])


# --- One database set-up for the run ---------------------------------------------------------


@pytest.fixture(scope="session")
def django_db_modify_db_settings_xdist_suffix(request: pytest.FixtureRequest) -> None:
    """On PostgreSQL the workers' databases are copies named by django_db_setup; elsewhere pytest-django's names."""
    if django_settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        request.getfixturevalue("_xdist_suffix_of_pytest_django")


@pytest.fixture(scope="session")
def _xdist_suffix_of_pytest_django(request: pytest.FixtureRequest) -> None:
    from pytest_django.fixtures import _set_suffix_to_test_databases

    worker = getattr(request.config, "workerinput", {}).get("workerid")
    if worker:
        _set_suffix_to_test_databases(suffix=worker)


@pytest.fixture(scope="session")
def django_db_setup(
    request: pytest.FixtureRequest,
    django_test_environment: None,
    django_db_blocker: Any,
    django_db_modify_db_settings: None,
) -> Iterator[None]:
    """The test database, migrated once for the whole run.

    Alone, pytest-django's way: create and migrate it, drop it at the end. Under pytest-xdist on
    PostgreSQL, the first worker migrates it once and every worker takes a copy of its own
    (CREATE DATABASE ... TEMPLATE, a second), instead of each running every migration.
    """
    from django.test.utils import setup_databases, teardown_databases

    worker = getattr(request.config, "workerinput", {}).get("workerid")
    postgresql = connection.vendor == "postgresql"
    with django_db_blocker.unblock():
        if worker and postgresql:
            parallel.copy_of_shared_database(connection, worker=worker, run=request.config.workerinput["testrunuid"])
            databases = None
        else:
            databases = setup_databases(verbosity=0, interactive=False, aliases={"default"}, serialized_aliases=set())
        if postgresql:
            parallel.commit_without_waiting_for_disk(connection)
        fast_flush = postgresql and parallel.can_empty_tables_with_delete(connection)
    with pytest.MonkeyPatch.context() as patch:
        if fast_flush:
            parallel.empty_tables_with_delete(patch)
        yield
    with django_db_blocker.unblock():
        if databases is None:
            connection.creation.destroy_test_db(verbosity=0)
        else:
            teardown_databases(databases, verbosity=0)


@pytest.fixture
def education_content(transactional_db: None) -> None:
    """Transactional tests flush the database, and with it the pages and rules the migrations ship."""
    from procedures import content_loader, models, warning_signs

    content_loader.load_content(content_loader.BONE_MARROW_FILE, models=models)
    warning_signs.add_default_rules(models.RedFlagRule)


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    from django.core.cache import cache

    from portal import redis_guard

    # A test that found Redis silent leaves the process doing without it for REDIS_RETRY_SECONDS:
    # the next test on this worker starts with Redis answering again, whatever ran before it.
    redis_guard.recovered()
    cache.clear()


@pytest.fixture(autouse=True)
def _site_language() -> Iterator[None]:
    """Each test starts in the site's language: a request through the test client leaves its own active."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture
def held_clock():
    """Rate-limit budgets are per real minute or hour: the clock holds still so a test never spans two windows."""
    import time_machine

    with time_machine.travel(timezone.now(), tick=False):
        yield


@pytest.fixture
def redis_url() -> str:
    url = django_settings.REDIS_URL
    if not url:
        need("REDIS_URL is not set")
    parsed = urlparse(url)
    try:
        socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=2).close()
    except OSError:
        need(f"Redis is not reachable at {parsed.hostname}:{parsed.port}")
    return url


@pytest.fixture
def postgres() -> None:
    if connection.vendor != "postgresql":
        need("this test needs PostgreSQL (set DATABASE_URL)")


@pytest.fixture
def location(db):
    return LocationFactory(name="Lakeside Day Unit")


@pytest.fixture
def nurse(location):
    user = UserFactory(role=Role.NURSE, email="nurse@example.org", full_name="Nora Nurse")
    location.nurses.add(user)
    return user


@pytest.fixture
def admin_user(db):
    return UserFactory(role=Role.ADMIN, is_staff=True, is_superuser=True, email="admin@example.org")


@pytest.fixture
def guardian(db):
    return GuardianFactory(user__email="alice@example.org", user__full_name="Alice Parent")


@pytest.fixture
def patient(location, guardian):
    return PatientFactory(first_name="Mia", last_name="Testchild", location=location, guardians=[guardian])


@pytest.fixture
def procedure(patient):
    return ProcedureFactory(patient=patient)


@pytest.fixture
def other_location(db):
    return LocationFactory(name="Northside Clinic", timezone="America/New_York")


@pytest.fixture
def other_nurse(other_location):
    user = UserFactory(role=Role.NURSE, email="other-nurse@example.org")
    other_location.nurses.add(user)
    return user


@pytest.fixture
def other_guardian(db):
    return GuardianFactory(user__email="bob@example.org", user__full_name="Bob Other")


@pytest.fixture
def other_patient(location, other_guardian):
    return PatientFactory(first_name="Oscar", last_name="Otherchild", location=location, guardians=[other_guardian])


@pytest.fixture
def other_procedure(other_patient):
    return ProcedureFactory(patient=other_patient)


@pytest.fixture
def texting_guardian(guardian: Guardian) -> Guardian:
    guardian.sms_enabled = True
    guardian.sms_consent_at = timezone.now()
    guardian.sms_consent_text = "I agree."
    guardian.sms_consent_by = guardian.user
    guardian.save()
    return guardian


def log_in(client, email: str, password: str) -> bool:
    """Log in through the login page, as a person does (and as the lockout sees it)."""
    response = client.post(reverse("login"), {"username": email, "password": password})
    return response.status_code == 302


def send_queued_email() -> list:
    """What beat and a worker do within seconds: every due message goes, emails through Django's mail backend.

    Returns the emails sent (django.core.mail.outbox grows as well).
    """
    from django.core import mail
    from django.test import override_settings

    from reminders import dispatch

    before = len(mail.outbox)
    with override_settings(REMINDER_EMAIL_BACKEND="email"):
        for pk in dispatch.claim_due(enqueue=lambda pk: None):
            dispatch.send(pk)
    return mail.outbox[before:]


def latest_invitation():
    """Send what is queued, then the newest invitation email."""
    from django.core import mail

    send_queued_email()
    return [m for m in mail.outbox if "/invite/" in m.body][-1]


def invitation_link_token() -> str:
    """The token in the newest invitation email sent."""
    import re

    return re.search(r"http://\S+/invite/(\S+)/", latest_invitation().body).group(1)
