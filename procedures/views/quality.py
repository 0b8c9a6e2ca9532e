"""The clinic quality page: the clinic's own numbers, as charts with their tables, and each table as CSV."""

from __future__ import annotations

import csv

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from portal.access import care_team_required
from portal.audit import audited

from .. import quality
from ..models import Location


@audited()
@care_team_required
@require_GET
def quality_page(request: HttpRequest) -> HttpResponse:
    """Nurses see their own clinics' numbers, admins every clinic's; any other clinic is a 404."""
    clinics = list(Location.objects.visible_to(request.user).order_by("name", "pk"))
    asked = request.GET.get("location", "")
    chosen = next((clinic for clinic in clinics if str(clinic.pk) == asked), None)
    if asked and chosen is None:
        raise Http404
    if not clinics:
        return render(request, "procedures/nurse/quality.html", {"clinics": [], "charts": []})
    chosen = chosen or clinics[0]
    by = request.GET.get("by") if request.GET.get("by") in quality.PERIODS else "week"
    now = timezone.now()
    figures = quality.kept(location=chosen, by=by, today=timezone.localtime(now, chosen.tz).date(), now=now)
    charts = figures.charts
    export = request.GET.get("csv")
    if export is not None:
        chart = next((chart for chart in charts if chart.key == export), None)
        if chart is None:
            raise Http404
        return _csv(chart, chosen, by)
    return render(
        request,
        "procedures/nurse/quality.html",
        {
            "clinics": clinics,
            "chosen": chosen,
            "by": by,
            "periods": figures.periods,
            "charts": charts,
            "figures": figures,
        },
    )


def _csv(chart: quality.Chart, location: Location, by: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{chart.key}-{location.pk}-{by}.csv"'
    writer = csv.writer(response)
    for row in quality.export_rows(chart, fewer_than=_("fewer than 5")):
        writer.writerow(row)
    return response
