"""What nurses see of delivery: on the dashboard, reminders that did not arrive and families we cannot reach;
on a procedure's page, its reminders and whether each may be sent again."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Exists, OuterRef, Q

from portal.paging import page_of
from procedures.models import Guardian, Location, Procedure

from . import services
from .models import Reminder

PAGE_SIZE = 20
PROBLEM_DAYS = 7
# What a line of the dashboard says about a reminder that did not arrive.
PROBLEM_FIELDS = (
    *("procedure", "procedure__patient", "procedure__patient__first_name", "procedure__patient__last_name"),
    *("guardian", "guardian__user", "guardian__user__full_name"),
    *("kind", "channel", "status", "last_error", "updated_at"),
)
# What a line about a family we cannot reach shows: the name, and what `Guardian.reachable` reads.
UNREACHABLE_FIELDS = (
    *("user", "user__full_name", "user__email", "user__is_active"),
    *("sms_enabled", "mobile_number", "sms_consent_at", "sms_opted_out_at", "email_enabled"),
)


def problems(location: Location, now: dt.datetime, pages: Any) -> dict[str, Page]:
    """Two pages whatever the size of the reminders table: the failed reminders in two queries (the count
    reads the partial index alone, where counting beside the rows would join every failed reminder's
    child and guardian), the families in one."""
    failed = (
        Reminder.objects.problems()
        .filter(procedure__location=location, updated_at__gte=now - dt.timedelta(days=PROBLEM_DAYS))
        .select_related("procedure__patient", "guardian__user")
        .only(*PROBLEM_FIELDS)
        .order_by("-updated_at")
    )
    upcoming = Procedure.objects.filter(location=location, scheduled_start__gte=now).active()
    unreachable = (
        Guardian.objects.filter(Exists(upcoming.filter(patient__guardians=OuterRef("pk"))))
        .filter(
            Q(sms_opted_out_at__isnull=False) | Q(email_enabled=False, sms_enabled=False) | Q(user__is_active=False)
        )
        .select_related("user")
        .only(*UNREACHABLE_FIELDS)
        .order_by("user__full_name")
    )
    return {
        "problems": Paginator(failed, PAGE_SIZE).get_page(pages.get("problems")),
        "unreachable": page_of(unreachable, pages.get("unreachable"), PAGE_SIZE),
    }


def of_procedure(procedure: Procedure, now: dt.datetime) -> list[Reminder]:
    """Every reminder of one procedure, each with `resend_refusal` (None: the nurse may send it again)."""
    reminders = list(procedure.reminders.select_related("guardian__user").order_by("due_at", "pk"))
    for reminder in reminders:
        reminder.procedure = procedure
        reminder.resend_refusal = services.resend_refusal(reminder, now=now)
    return reminders
