"""Cancelled after a fasting instruction reached the family: first, the child may eat and drink again."""

from __future__ import annotations

import datetime as dt

import time_machine
from django.urls import reverse

from procedures import services
from reminders.models import Kind, OutboxMessage, Reminder, Status

from .conftest import BOOKED_AT, EVENING, run_due

LATER = EVENING + dt.timedelta(hours=1)  # Wednesday 7 PM: the evening text has gone


def _cancel(procedure, nurse, at):
    with time_machine.travel(at, tick=False):
        services.cancel_procedure(procedure=procedure, reason="The child has a fever", cancelled_by=nurse)
    run_due(at)


def _notice(channel):
    return OutboxMessage.objects.get(reminder__kind=Kind.CANCELLED, channel=channel)


def test_cancelled_after_the_evening_text_says_first_the_child_may_eat_and_not_to_come(booked, nurse):
    run_due(BOOKED_AT)
    run_due(EVENING)
    _cancel(booked, nurse, LATER)
    sms, email = _notice("sms"), _notice("email")
    first = (
        "Lakeside Day Unit: Mia may eat and drink as usual again. Do not come to the hospital: "
        "Mia's appointment is cancelled."
    )
    assert sms.body.startswith(first)
    assert email.subject == "Cancelled: Mia may eat and drink as usual again"
    assert email.body.startswith(first)


def test_in_spanish_too(booked, nurse, texting_guardian):
    texting_guardian.user.language = "es"
    texting_guardian.user.save()
    run_due(BOOKED_AT)
    run_due(EVENING)
    _cancel(booked, nurse, LATER)
    assert _notice("sms").body.startswith("Lakeside Day Unit: Mia ya puede comer y beber como siempre. No venga")
    assert _notice("email").subject == "Cancelada: Mia ya puede comer y beber como siempre"


def test_a_text_that_never_went_out_tells_nothing_about_eating_again(booked, nurse):
    run_due(BOOKED_AT)
    Reminder.objects.filter(kind=Kind.FASTING_EVENING).update(status=Status.FAILED)
    _cancel(booked, nurse, LATER)
    assert _notice("email").body.startswith("Lakeside Day Unit: Mia's appointment has been cancelled.")
    assert _notice("sms").body.startswith("Lakeside Day Unit: Mia's visit on Thursday, June 11 is cancelled.")
    assert "eat and drink" not in _notice("sms").body + _notice("email").body


def test_cancelled_days_before_keeps_the_plain_notice(booked, nurse):
    run_due(BOOKED_AT)
    _cancel(booked, nurse, BOOKED_AT)
    assert "eat and drink" not in _notice("sms").body
    assert _notice("email").subject == "Mia's appointment is cancelled"


def test_the_family_page_of_a_cancelled_procedure_says_so_first(client, guardian, booked, nurse):
    run_due(BOOKED_AT)
    run_due(EVENING)
    _cancel(booked, nurse, LATER)
    client.force_login(guardian.user)
    with time_machine.travel(LATER, tick=False):
        page = client.get(reverse("family:procedure", args=[booked.pk])).content.decode()
    eat = page.index("Mia may eat and drink as usual again. Do not come to the hospital for this appointment.")
    assert eat < page.index("This appointment was cancelled.")
