"""A clinic's own numbers: did the preparation work? Aggregates only, a fixed number of queries.

Each chart is a table first (periods or groups as rows, numbers as columns); the page draws
it as SVG from the same table, and exports the same table as CSV. Periods are the clinic's
own calendar weeks (Monday first) or months. A median is the middle value, or the mean of the
two middle values when there is an even number of them (Python's statistics.median).
"""

from __future__ import annotations

import datetime as dt
import logging
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, F, Q
from django.db.models.functions import Trunc
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from . import events, readiness
from .fasting import Anchor
from .models import (
    DayOutcome,
    FastingPolicy,
    Location,
    OutcomeKind,
    Procedure,
    ProcedureStatus,
    SymptomReport,
)

logger = logging.getLogger(__name__)

PERIODS = {"week": 8, "month": 6}
# Exports show a count below this as words, so that a small group of children cannot be singled out.
SMALL_COUNT = 5
# Fasting time bands, in hours: the distribution's rows.
BANDS = (0, 1, 2, 3, 4, 6, 8, 12)


@dataclass(frozen=True)
class Period:
    start: dt.datetime
    end: dt.datetime
    label: str


@dataclass(frozen=True)
class Column:
    label: str
    # A count of children or messages (exports hide small ones); else a rate or a time.
    count: bool = True
    # Drawn in the chart (the others are only in its table).
    drawn: bool = True


@dataclass
class Chart:
    key: str
    title: str
    row_label: str
    columns: list[Column]
    rows: list[tuple[str, list[Any]]]
    note: str = ""
    unit: str = ""
    stacked: bool = True
    bars: list[dict[str, Any]] = field(default_factory=list)

    def value(self, row: str, column: str) -> Any:
        index = [str(c.label) for c in self.columns].index(column)
        return dict(self.rows)[row][index]


def periods(location: Location, *, by: str, today: dt.date) -> list[Period]:
    """The last few weeks or months at the clinic, oldest first, the current one last."""
    starts: list[dt.date] = []
    if by == "week":
        first = today - dt.timedelta(days=today.weekday())
        starts = [first - dt.timedelta(weeks=n) for n in reversed(range(PERIODS["week"]))]
        ends = [day + dt.timedelta(weeks=1) for day in starts]
    else:
        month = today.replace(day=1)
        for _n in range(PERIODS["month"]):
            starts.insert(0, month)
            month = (month - dt.timedelta(days=1)).replace(day=1)
        ends = [*starts[1:], (starts[-1] + dt.timedelta(days=32)).replace(day=1)]
    label = "M j" if by == "week" else "F Y"
    return [
        Period(location.day_start(start), location.day_start(end), date_format(start, label))
        for start, end in zip(starts, ends, strict=True)
    ]


def _by_period(rows: Iterable[dict[str, Any]], spans: Sequence[Period], location: Location) -> dict[int, list[Any]]:
    """Which period each grouped row falls in, by the clinic's local start of the period."""
    index = {period.start.astimezone(location.tz).date(): n for n, period in enumerate(spans)}
    found: dict[int, list[Any]] = {}
    for row in rows:
        at = row["period"].astimezone(location.tz).date()
        if at in index:
            found.setdefault(index[at], []).append(row)
    return found


def _in(location: Location, spans: Sequence[Period]) -> Any:
    return Procedure.objects.filter(
        location=location, scheduled_start__gte=spans[0].start, scheduled_start__lt=spans[-1].end
    )


def _trunc(by: str, location: Location, name: str = "scheduled_start") -> Trunc:
    return Trunc(name, by, tzinfo=location.tz)


def rate(part: int, whole: int) -> Decimal | None:
    """Per 100, to one decimal; none when there is nothing to divide by."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"))


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


# --- The charts ---------------------------------------------------------------------------


def outcomes_charts(location: Location, spans: Sequence[Period], by: str) -> list[Chart]:
    grouped = (
        DayOutcome.objects.filter(procedure__in=_in(location, spans))
        .values(period=_trunc(by, location, "procedure__scheduled_start"))
        .annotate(
            on_time=Count("pk", filter=Q(kind=OutcomeKind.ON_TIME)),
            late=Count("pk", filter=Q(kind=OutcomeKind.LATE)),
            on_day=Count("pk", filter=Q(kind=OutcomeKind.CANCELLED_ON_DAY)),
            before=Count("pk", filter=Q(kind=OutcomeKind.CANCELLED_BEFORE)),
            fasting=Count(
                "pk",
                filter=Q(kind__in=[OutcomeKind.LATE, OutcomeKind.CANCELLED_ON_DAY], reason__fasting_related=True),
            ),
        )
        .order_by()
    )
    found = _by_period(grouped, spans, location)
    counts, rates = [], []
    for n, period in enumerate(spans):
        row = {key: sum(r[key] for r in found.get(n, [])) for key in ("on_time", "late", "on_day", "before", "fasting")}
        counts.append((period.label, [row["on_time"], row["late"], row["on_day"], row["before"]]))
        on_the_day = row["on_time"] + row["late"] + row["on_day"]
        rates.append((period.label, [rate(row["fasting"], on_the_day), row["fasting"], on_the_day]))
    return [
        Chart(
            key="outcomes",
            title=str(_("How each procedure went")),
            row_label=str(_("Period")),
            columns=[
                Column(str(_("Started on time"))),
                Column(str(_("Started late"))),
                Column(str(_("Cancelled or postponed on the day"))),
                Column(str(_("Cancelled before the day"))),
            ],
            rows=counts,
        ),
        Chart(
            key="fasting-rate",
            title=str(_("Delays and cancellations about eating or drinking, per 100 procedures on the day")),
            row_label=str(_("Period")),
            columns=[
                Column(str(_("Per 100")), count=False),
                Column(str(_("About eating or drinking")), drawn=False),
                Column(str(_("Procedures on the day")), drawn=False),
            ],
            rows=rates,
            unit=str(_("per 100")),
            note=str(_("Started late or cancelled on the day, with “Ate or drank too late” as the reason.")),
        ),
    ]


def _bands(minutes: Sequence[int]) -> list[tuple[str, list[Any]]]:
    rows = []
    for n, low in enumerate(BANDS):
        high = BANDS[n + 1] if n + 1 < len(BANDS) else None
        inside = [m for m in minutes if m >= low * 60 and (high is None or m < high * 60)]
        label = (
            _("%(low)s to %(high)s h") % {"low": low, "high": high} if high else _("%(low)s h or more") % {"low": low}
        )
        rows.append((str(label), [len(inside)]))
    return rows


def fasting_charts(location: Location, spans: Sequence[Period]) -> list[Chart]:
    """How long children really went without clear fluids and food before the real start, against the plan."""
    rules = FastingPolicy.current().rules()
    started = (
        _in(location, spans)
        .filter(started_at__isnull=False)
        .exclude(sedation="local")
        .values_list("started_at", "arrival_at", "scheduled_start", "last_drink_at", "last_food_at")
    )
    drinks, foods, drink_targets, food_targets = [], [], [], []
    for started_at, arrival, start, drink, food in started:
        anchor = arrival if rules.anchor == Anchor.ARRIVAL else start
        lead = (started_at - anchor).total_seconds() / 60
        if drink is not None:
            drinks.append(int((started_at - drink).total_seconds() // 60))
            drink_targets.append(lead + float(rules.clear_fluids_hours) * 60)
        if food is not None:
            foods.append(int((started_at - food).total_seconds() // 60))
            food_targets.append(lead + float(rules.solids_hours) * 60)
    charts = []
    for key, title, minutes, targets, hours in (
        (
            "fasting-clear",
            _("Time without clear fluids before the start"),
            drinks,
            drink_targets,
            rules.clear_fluids_hours,
        ),
        ("fasting-solids", _("Time without food before the start"), foods, food_targets, rules.solids_hours),
    ):
        middle, target = median(minutes), median(targets)
        note = _(
            "%(n)s children. Median %(median)s; the plan asked at least %(target)s (median), "
            "with the cut-off %(hours)s h before %(anchor)s."
        ) % {
            "n": len(minutes),
            "median": _minutes(middle),
            "target": _minutes(target),
            "hours": f"{hours.normalize():f}",
            "anchor": _("arrival") if rules.anchor == Anchor.ARRIVAL else _("the start"),
        }
        chart = Chart(
            key=key,
            title=str(title),
            row_label=str(_("Hours")),
            columns=[Column(str(_("Children")))],
            rows=_bands(minutes),
            note=str(note),
        )
        chart.median, chart.target = middle, target  # type: ignore[attr-defined]
        charts.append(chart)
    return charts


def _minutes(value: float | None) -> str:
    if value is None:
        return "—"
    hours, rest = divmod(round(value), 60)
    return f"{hours} h {rest} min"


def readiness_chart(location: Location, spans: Sequence[Period], by: str) -> Chart:
    grouped = (
        readiness.with_readiness(_in(location, spans).exclude(outcome__kind=OutcomeKind.CANCELLED_BEFORE))
        .values(period=_trunc(by, location))
        .annotate(
            total=Count("pk"),
            acknowledged=Count("pk", filter=Q(fasting_acknowledged=True)),
            read=Count("pk", filter=Q(pages_read__gte=F("pages_total"), pages_total__gt=0)),
        )
        .order_by()
    )
    found = _by_period(grouped, spans, location)
    rows = []
    for n, period in enumerate(spans):
        total = sum(r["total"] for r in found.get(n, []))
        acknowledged = sum(r["acknowledged"] for r in found.get(n, []))
        read = sum(r["read"] for r in found.get(n, []))
        rows.append((period.label, [acknowledged, read, total]))
    return Chart(
        key="readiness",
        title=str(_("Families ready before the day")),
        row_label=str(_("Period")),
        columns=[
            Column(str(_("Fasting times confirmed"))),
            Column(str(_("Every page read"))),
            Column(str(_("Procedures")), drawn=False),
        ],
        rows=rows,
        stacked=False,
        note=str(_("Confirmed: a guardian confirmed the fasting times of the procedure's last version.")),
    )


def aftercare_chart(location: Location, spans: Sequence[Period], by: str) -> Chart:
    done = (
        _in(location, spans)
        .filter(status=ProcedureStatus.COMPLETED)
        .values(period=_trunc(by, location))
        .annotate(
            total=Count("pk", distinct=True),
            answered=Count("pk", filter=Q(symptom_reports__isnull=False), distinct=True),
            warning=Count("symptom_reports", filter=Q(symptom_reports__needs_attention=True)),
        )
        .order_by()
    )
    found = _by_period(done, spans, location)
    waits = (
        SymptomReport.objects.filter(procedure__in=_in(location, spans), needs_attention=True)
        .exclude(acknowledged_at=None)
        .values_list("procedure__scheduled_start", "created_at", "acknowledged_at")
    )
    minutes: dict[int, list[float]] = {}
    for start, created, acknowledged in waits:
        n = next((n for n, p in enumerate(spans) if p.start <= start < p.end), None)
        if n is not None:
            minutes.setdefault(n, []).append((acknowledged - created).total_seconds() / 60)
    rows = []
    for n, period in enumerate(spans):
        total = sum(r["total"] for r in found.get(n, []))
        answered = sum(r["answered"] for r in found.get(n, []))
        warning = sum(r["warning"] for r in found.get(n, []))
        middle = median(minutes.get(n, []))
        rows.append((period.label, [answered, warning, total, None if middle is None else round(middle)]))
    return Chart(
        key="aftercare",
        title=str(_("After the procedure")),
        row_label=str(_("Period")),
        columns=[
            Column(str(_("Families who answered a check-in"))),
            Column(str(_("Warning signs reported"))),
            Column(str(_("Procedures done")), drawn=False),
            Column(str(_("Median minutes to “I am dealing with it”")), count=False, drawn=False),
        ],
        rows=rows,
        stacked=False,
    )


@dataclass
class Figures:
    periods: list[Period]
    charts: list[Chart]
    made_at: dt.datetime


def count_ahead(now: dt.datetime | None = None) -> int:
    """Count the figures of every clinic with nurses, each period and language, and keep them.

    Beat runs this a little more often than the figures are kept (portal.settings), so a nurse
    reads kept figures instead of waiting for months of rows to be counted. Returns how many.
    """
    if not settings.QUALITY_KEEP_SECONDS:
        return 0
    now = now or timezone.now()
    done = 0
    for location in Location.objects.filter(nurses__isnull=False).distinct():
        today = timezone.localtime(now, location.tz).date()
        for language, _name in settings.LANGUAGES:
            with translation.override(language):
                for by in PERIODS:
                    kept(location=location, by=by, today=today, now=now, fresh=True)
                    done += 1
    return done


def kept(*, location: Location, by: str, today: dt.date, now: dt.datetime, fresh: bool = False) -> Figures:
    """The page's figures, made at most every QUALITY_KEEP_SECONDS per clinic, period and language.

    Months of a busy clinic are hundreds of thousands of rows to count: a quality page need not be
    to the second, and the nurses of a clinic share one count. Without a shared cache (or with
    the setting at 0) they are made on every request.
    """
    seconds = settings.QUALITY_KEEP_SECONDS
    key = f"quality:{location.pk}:{by}:{today.isoformat()}:{translation.get_language()}"
    found = None
    if seconds and not fresh:
        try:
            found = cache.get(key)
        except Exception:
            logger.warning("Could not read kept quality figures; counting afresh", exc_info=True)
    if found is None:
        spans, charts = build(location=location, by=by, today=today)
        found = Figures(spans, charts, now)
        if seconds:
            try:
                cache.set(key, found, seconds)
            except Exception:
                logger.warning("Could not keep quality figures", exc_info=True)
    return found


def build(*, location: Location, by: str, today: dt.date) -> tuple[list[Period], list[Chart]]:
    """Every chart of the page, ours and those other apps add (delivery: reminders by channel)."""
    spans = periods(location, by=by, today=today)
    charts = [
        *outcomes_charts(location, spans, by),
        *fasting_charts(location, spans),
        readiness_chart(location, spans, by),
        aftercare_chart(location, spans, by),
    ]
    for section in events.sections("quality", location=location, start=spans[0].start, end=spans[-1].end):
        charts.extend(section.context.get("charts", []))
    for chart in charts:
        draw(chart)
    return spans, charts


# --- Drawing -----------------------------------------------------------------------------

# The chart's geometry, in the SVG's own units: a label column, then the bars.
WIDTH, LABEL, ROW, BAR = 640, 150, 28, 18
COLOURS = ("#1b6ca8", "#e08a00", "#c0392b", "#6c757d", "#2e8540")


def draw(chart: Chart) -> None:
    """Bars for each row, from the table's drawn columns: stacked (parts of one whole) or side by side."""
    drawn = [n for n, column in enumerate(chart.columns) if column.drawn]
    values = [[float(row[1][n] or 0) for n in drawn] for row in chart.rows]
    biggest = max((sum(v) if chart.stacked else max(v, default=0) for v in values), default=0) or 1
    room = WIDTH - LABEL - 60
    bars = []
    for index, ((label, _cells), row_values) in enumerate(zip(chart.rows, values, strict=True)):
        y = index * ROW * (1 if chart.stacked else len(drawn))
        x = float(LABEL)
        parts = []
        for part, (n, value) in enumerate(zip(drawn, row_values, strict=True)):
            width = room * value / biggest
            top = y if chart.stacked else y + part * ROW
            parts.append(
                {
                    # Written out here: a template would localise them ("150,0" in Spanish), which SVG refuses.
                    "x": _svg(x),
                    "y": top,
                    "width": _svg(width) if width > 0 else "",
                    "colour": COLOURS[part % len(COLOURS)],
                    "title": f"{label}, {chart.columns[n].label}: {_shown(value)}",
                    "value": _shown(value),
                    "text_x": _svg(x + width + 4),
                    "text_y": top + 13,
                }
            )
            if chart.stacked:
                x += width
        total = _shown(sum(row_values))
        bars.append({"label": label, "text_y": y + 13, "parts": parts, "end": _svg(x + 4), "total": total})
    chart.bars = bars
    chart.height = max(len(bars) * ROW * (1 if chart.stacked else len(drawn)), ROW)  # type: ignore[attr-defined]
    chart.label_x = LABEL - 8  # type: ignore[attr-defined]
    chart.width = WIDTH  # type: ignore[attr-defined]
    chart.legend = [(COLOURS[p % len(COLOURS)], chart.columns[n].label) for p, n in enumerate(drawn)]  # type: ignore[attr-defined]


def _svg(number: float) -> str:
    return f"{number:.1f}"


def _shown(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


# --- Export ------------------------------------------------------------------------------


def export_rows(chart: Chart, *, fewer_than: str) -> list[list[str]]:
    """The chart's table as CSV rows; a count from 1 to 4 is written as `fewer_than`."""
    rows = [[chart.row_label, *(str(column.label) for column in chart.columns)]]
    for label, cells in chart.rows:
        shown = []
        for column, cell in zip(chart.columns, cells, strict=True):
            if cell is None:
                shown.append("")
            elif column.count and 0 < cell < SMALL_COUNT:
                shown.append(fewer_than)
            else:
                shown.append(str(cell))
        rows.append([label, *shown])
    return rows
