"""What nurses see of delivery: on the dashboard, reminders that did not arrive and families we cannot reach;
on a procedure's page, its reminders and whether each may be sent again."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Exists, OuterRef, Q

from procedures.models import Guardian, Location, Procedure

from . import services
from .models import Reminder

PAGE_SIZE = 20
PROBLEM_DAYS = 7


def problems(location: Location, now: dt.datetime, pages: Any) -> dict[str, Page]:
    """Two pages, two queries each, whatever the size of the reminders table."""
    failed = (
        Reminder.objects.problems()
        .filter(procedure__location=location, updated_at__gte=now - dt.timedelta(days=PROBLEM_DAYS))
        .select_related("procedure__patient", "guardian__user")
        .order_by("-updated_at")
    )
    upcoming = Procedure.objects.filter(location=location, scheduled_start__gte=now).active()
    unreachable = (
        Guardian.objects.filter(Exists(upcoming.filter(patient__guardians=OuterRef("pk"))))
        .filter(
            Q(sms_opted_out_at__isnull=False) | Q(email_enabled=False, sms_enabled=False) | Q(user__is_active=False)
        )
        .select_related("user")
        .order_by("user__full_name")
    )
    return {
        "problems": Paginator(failed, PAGE_SIZE).get_page(pages.get("problems")),
        "unreachable": Paginator(unreachable, PAGE_SIZE).get_page(pages.get("unreachable")),
    }


def of_procedure(procedure: Procedure, now: dt.datetime) -> list[Reminder]:
    """Every reminder of one procedure, each with `resend_refusal` (None: the nurse may send it again)."""
    reminders = list(procedure.reminders.select_related("guardian__user").order_by("due_at", "pk"))
    for reminder in reminders:
        reminder.procedure = procedure
        reminder.resend_refusal = services.resend_refusal(reminder, now=now)
    return reminders
