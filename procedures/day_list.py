"""The nurses' sheet for one day: who arrives when, in arrival order, with what they need at the desk."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db.models import Prefetch, Q, QuerySet

from portal.models import User

from . import readiness
from .models import Guardian, Location, Procedure, ProcedureStatus

# Today and tomorrow: the days a nurse prepares for or works through.
DAYS = {"today": 0, "tomorrow": 1}


def clinic_today(locations: Iterable[Location], now: dt.datetime) -> dt.date:
    """Today's date where the nurse's first clinic is (one clinic's when filtered to it)."""
    first = next(iter(locations), None)
    return now.astimezone(first.tz).date() if first else now.date()


def day_list(*, user: User, locations: list[Location], day: dt.date) -> QuerySet[Procedure]:
    """Procedures arriving on `day` (each on its own clinic's calendar) at these clinics, in arrival order.

    Cancelled ones are left off: nobody is coming. One statement for the rows and the
    family's readiness, one for the guardians and their accounts, however long the day.
    """
    on_day = Q(pk__in=[])
    for location in locations:
        start, end = location.day_start(day), location.day_start(day + dt.timedelta(days=1))
        on_day |= Q(location=location, arrival_at__gte=start, arrival_at__lt=end)
    rows = (
        Procedure.objects.visible_to(user)
        .filter(on_day)
        .exclude(status=ProcedureStatus.CANCELLED)
        .select_related("patient", "location", "outcome__reason")
        .prefetch_related(
            Prefetch(
                "patient__guardians",
                queryset=Guardian.objects.select_related("user").order_by("user__full_name", "pk"),
            )
        )
        .order_by("arrival_at", "scheduled_start", "pk")
    )
    return readiness.with_readiness(rows)


def fasting_cell(procedure: Any) -> str:
    """The fasting column: "yes" (a guardian confirmed this version's times), "no", or "none" to confirm
    (local numbing only, or the procedure is over), as the readiness checklist rules."""
    checklist = readiness.checklist_of(procedure)
    if not checklist.fasting_needed:
        return "none"
    return "yes" if checklist.fasting_acknowledged else "no"
