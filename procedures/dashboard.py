"""The nurse's one page: who needs me? A fixed number of queries however much data exists."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Exists, OuterRef, Q, QuerySet

from reminders.models import PROBLEM_STATUSES, Reminder

from . import readiness
from .models import Guardian, Location, Procedure, SymptomReport

PAGE_SIZE = 20
PROBLEM_DAYS = 7


@dataclass
class Dashboard:
    location: Location
    day: dt.date
    flags: Page
    recently_acknowledged: list[SymptomReport]
    procedures: list[Procedure]
    problems: Page
    unreachable: Page


def _page(queryset: QuerySet[Any], number: Any) -> Page:
    return Paginator(queryset, PAGE_SIZE).get_page(number)


def build(*, location: Location, day: dt.date, now: dt.datetime, pages: dict[str, Any]) -> Dashboard:
    tz = location.tz
    start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
    end = start + dt.timedelta(days=2)
    procedures = list(
        readiness.with_readiness(
            Procedure.objects.filter(location=location, scheduled_start__gte=start, scheduled_start__lt=end)
            .exclude(status="cancelled")
            .select_related("patient", "location")
            .order_by("scheduled_start")
        )
    )
    flagged = SymptomReport.objects.filter(procedure__location=location, needs_attention=True).select_related(
        "procedure__patient", "user", "acknowledged_by"
    )
    flags = flagged.filter(acknowledged_at__isnull=True).order_by("created_at")
    recently_acknowledged = list(
        flagged.filter(acknowledged_at__gte=now - dt.timedelta(days=1)).order_by("-acknowledged_at")[:10]
    )
    problems = (
        Reminder.objects.filter(
            procedure__location=location,
            status__in=PROBLEM_STATUSES,
            updated_at__gte=now - dt.timedelta(days=PROBLEM_DAYS),
        )
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
    return Dashboard(
        location=location,
        day=day,
        flags=_page(flags, pages.get("flags")),
        recently_acknowledged=recently_acknowledged,
        procedures=procedures,
        problems=_page(problems, pages.get("problems")),
        unreachable=_page(unreachable, pages.get("unreachable")),
    )
