"""The nurses' day list: today's or tomorrow's arrivals, printable on one sheet."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from portal.access import care_team_required
from portal.audit import audited

from .. import day_list as sheet
from ..models import Location


@audited()
@care_team_required
@require_GET
def day_list(request: HttpRequest) -> HttpResponse:
    clinics = list(Location.objects.visible_to(request.user).order_by("name", "pk"))
    chosen = next((c for c in clinics if str(c.pk) == request.GET.get("location", "")), None)
    which = request.GET.get("day") if request.GET.get("day") in sheet.DAYS else "today"
    shown = [chosen] if chosen else clinics
    day = sheet.clinic_today(shown, timezone.now()) + dt.timedelta(days=sheet.DAYS[which])
    procedures = sheet.day_list(user=request.user, locations=shown, day=day)
    rows = [(procedure, sheet.fasting_cell(procedure)) for procedure in procedures]
    return render(
        request,
        "procedures/nurse/day_list.html",
        {"rows": rows, "day": day, "which": which, "clinics": clinics, "chosen": chosen, "days": list(sheet.DAYS)},
    )
