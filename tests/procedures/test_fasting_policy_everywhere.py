"""One notion of the policy in force: pages and senders read it from the database, whoever wrote it.

A policy written without Django's save signals (a bulk update, an SQL script, a restore) is
seen at once by a kept family page and by the message a sender writes.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from procedures import services
from procedures.models import FastingPolicy
from reminders.models import Kind, OutboxMessage

from ..factories import ProcedureFactory
from ..reminders.conftest import EVENING, booked, run_due  # noqa: F401 - the fixture
from .test_page_cache import _without_token, kept_pages  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db


def test_the_policy_is_one_read_of_the_database():
    FastingPolicy.objects.create(name="Ours", solids_hours=Decimal("7"))
    with CaptureQueriesContext(connection) as ctx:
        policy = FastingPolicy.current()
    assert (policy.name, policy.solids_hours, len(ctx.captured_queries)) == ("Ours", Decimal("7"), 1)


def test_a_change_through_the_service_is_seen_on_the_next_read(nurse):
    policy = FastingPolicy.objects.create(name="Ours", solids_hours=Decimal("7"))
    policy.solids_hours = Decimal("8")
    services.update_fasting_policy(policy=policy, changed_by=nurse)
    assert FastingPolicy.current().solids_hours == Decimal("8")
    services.update_fasting_policy(policy=policy, changed_by=nurse, delete=True)
    assert FastingPolicy.current().pk is None  # the defaults again


def test_a_policy_written_outside_django_shows_on_the_kept_page_at_once(
    transactional_db,
    kept_pages,  # noqa: F811
    client,
    guardian,
    patient,
):
    policy = FastingPolicy.objects.create(name="Ours", solids_hours=Decimal("6"))
    procedure = ProcedureFactory(patient=patient, scheduled_start=timezone.now() + dt.timedelta(days=2))
    client.force_login(guardian.user)
    url = reverse("family:procedure", args=[procedure.pk])
    before = _without_token(client.get(url).content)
    assert _without_token(client.get(url).content) == before  # kept
    for _ in range(3):  # a portal at work has read it many times
        FastingPolicy.current()
    FastingPolicy.objects.filter(pk=policy.pk).update(solids_hours=Decimal("7"))  # no save signal
    new = _solids_clock(procedure, FastingPolicy.current())
    after = client.get(url).content.decode()
    assert new in after and new.encode() not in before


def _solids_clock(procedure, policy) -> str:
    from procedures import fasting_display
    from procedures.fasting import Item

    with translation.override("en"):
        return fasting_display.clock(procedure.fasting_plan(policy=policy).cutoff_for(Item.SOLIDS).at)


@pytest.fixture
def ours():
    return FastingPolicy.objects.create(name="Ours", solids_hours=Decimal("6"))


def test_a_sender_writes_the_policy_written_outside_django(transactional_db, kept_pages, ours, booked):  # noqa: F811
    old = _solids_clock(booked, ours)
    for _ in range(3):  # a portal at work has read it many times
        FastingPolicy.current()
    FastingPolicy.objects.filter(pk=ours.pk).update(solids_hours=Decimal("7"))  # no save signal
    new = _solids_clock(booked, FastingPolicy.current())
    assert old != new
    run_due(EVENING)
    evening = OutboxMessage.objects.get(reminder__procedure=booked, reminder__kind=Kind.FASTING_EVENING, channel="sms")
    solids = next(part for line in evening.body.splitlines() for part in line.split(", ") if "solid food" in part)
    assert new in solids and old not in solids
