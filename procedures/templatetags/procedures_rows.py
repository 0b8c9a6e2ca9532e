"""Cells a list repeats on every row, made in Python: the same HTML the row templates gave, at a fraction of the cost.

procedures/_status.html and procedures/nurse/_readiness.html render through these too, so each cell has one source.
"""

from __future__ import annotations

import functools
from datetime import datetime

from django import template
from django.utils import dateformat, formats
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator
from django.utils.translation import get_language, gettext, gettext_noop

from procedures import readiness
from procedures.models import Procedure, ProcedureStatus, SymptomReport

register = template.Library()

_BADGE = {
    ProcedureStatus.CANCELLED: "text-bg-danger",
    ProcedureStatus.RESCHEDULED: "text-bg-warning",
    ProcedureStatus.COMPLETED: "text-bg-secondary",
}


# A cell depends on a few values and the language alone, and a page repeats the same few cells:
# each is made once per process. Nothing here holds a time or anything of one family's.
_cell = functools.lru_cache(maxsize=256)


@register.filter
def status_badge(procedure: Procedure) -> SafeString:
    """The procedure's status as a coloured badge."""
    return _status_badge(procedure.status, get_language())


@_cell
def _status_badge(status: str, language: str) -> SafeString:
    return format_html(
        '<span class="badge {}">{}</span>',
        _BADGE.get(status, "text-bg-success"),
        ProcedureStatus(status).label if status in ProcedureStatus.values else status,
    )


# A row's start on the clinic's clock, in one formatting pass instead of a |date or |time filter per part.
# The value is the clinic-time datetime the row gives (Procedure.local_start); not kept anywhere.
@register.filter(expects_localtime=True)
def weekday_and_time(value: datetime) -> str:
    """The same text as {{ value|date:"D" }} {{ value|time }}."""
    return dateformat.format(value, "D " + formats.get_format("TIME_FORMAT"))


@register.filter(expects_localtime=True)
def date_and_time(value: datetime) -> str:
    """The same text as {{ value|date:"SHORT_DATE_FORMAT" }} {{ value|time }}."""
    return dateformat.format(value, f"{formats.get_format('SHORT_DATE_FORMAT')} {formats.get_format('TIME_FORMAT')}")


@register.filter(expects_localtime=True)
def date_time_and_zone(value: datetime) -> str:
    """The same text as {{ value|date:"SHORT_DATE_FORMAT" }}, {{ value|time }} {{ value|date:"T" }}."""
    return dateformat.format(value, f"{formats.get_format('SHORT_DATE_FORMAT')}, {formats.get_format('TIME_FORMAT')} T")


# Marked here for the message catalogue; translated when shown.
FASTING = (gettext_noop("Fasting confirmed"), gettext_noop("Fasting not confirmed"))
QUESTIONS = (gettext_noop("Questions"), gettext_noop("No questions"))
PHONE = (gettext_noop("Phone confirmed"), gettext_noop("Phone not confirmed"))


def _done(done: bool, yes: str, no: str, *, no_class: str = "text-body-secondary", no_mark: str = "–") -> SafeString:
    if done:
        return format_html('<span class="text-success">✓ {}</span>', gettext(yes))
    return format_html('<span class="{}">{} {}</span>', no_class, no_mark, gettext(no))


@register.filter
def readiness_list(procedure: Procedure) -> SafeString:
    """The family's readiness, from a procedure annotated by readiness.with_readiness."""
    return _readiness_list(readiness.checklist_of(procedure), get_language())


@_cell
def _readiness_list(c: readiness.Checklist, language: str) -> SafeString:
    fasting = ""
    if c.fasting_needed:
        fasting = format_html(
            "<li>{}</li>",
            _done(c.fasting_acknowledged, *FASTING, no_class="text-danger", no_mark="✗"),
        )
    return format_html(
        '<ul class="list-unstyled mb-0">\n  <li class="{}">{}</li>\n  {}\n  <li>{}</li>\n  <li>{}</li>\n</ul>',
        "text-success" if c.pages_done else "",
        gettext("Pages %(read)s/%(total)s") % {"read": c.pages_read, "total": c.pages_total},
        fasting,
        _done(bool(c.questions), *QUESTIONS),
        _done(c.contact_confirmed, *PHONE),
    )


# What a family reported, in the order the summary names it.
SIGNS = (
    ("chills", gettext_noop("Chills.")),
    ("bleeding", gettext_noop("Bleeding that does not stop.")),
    ("redness", gettext_noop("Redness.")),
    ("swelling", gettext_noop("Swelling.")),
    ("oozing", gettext_noop("Oozing.")),
    ("bad_smell", gettext_noop("Bad smell.")),
)


@register.filter
def report_summary(report: SymptomReport) -> SafeString:
    """One check-in in a line: temperature, the signs ticked, pain, and the start of the family's note."""
    parts = []
    if report.temperature:
        parts.append(
            format_html(
                "{} {} °{}", gettext("Temperature"), formats.localize(report.temperature), report.temperature_unit
            )
        )
        if report.temperature_unit == "F":
            parts.append(format_html(" ({} °C)", formats.localize(report.temperature_c)))
        parts.append(". ")
    parts += [format_html("{} ", gettext(words)) for field, words in SIGNS if getattr(report, field)]
    pain = report.get_pain_display() if report.pain else gettext("not answered")
    parts.append(format_html("{} {}.", gettext("Pain:"), pain))
    if report.notes:
        parts.append(format_html(" “{}”", Truncator(report.notes).chars(200)))
    return mark_safe("".join(conditional_escape(part) for part in parts))  # noqa: S308 - each part escaped
