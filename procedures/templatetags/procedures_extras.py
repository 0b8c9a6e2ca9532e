from __future__ import annotations

from datetime import datetime

from django import template
from django.utils.safestring import SafeString

from portal import phones
from procedures import fasting_display, markup, readiness
from procedures.models import EducationPage, Location, Procedure

register = template.Library()

# Education pages that tell a family to call: the number goes right under the text.
PAGES_THAT_SAY_CALL = frozenset({"after-the-procedure", "risks-and-when-to-call"})


@register.filter
def phone(value: str) -> str:
    """Show a stored E.164 number the way people write it."""
    return phones.display(value)


@register.filter
def tel(value: str) -> str:
    """A stored number in E.164, for href="tel:…"."""
    return phones.e164(value or "")


@register.filter
def family_markup(value: str) -> SafeString:
    """Education text: paragraphs, bullets and headings; everything escaped."""
    return markup.render(value or "")


@register.filter
def clinic_time(value: datetime | None, location: Location) -> datetime | None:
    """A stored UTC time on the clinic's wall clock."""
    return location.localize(value) if value else None


@register.filter
def checklist(procedure: Procedure) -> readiness.Checklist:
    """The readiness checklist of a procedure from a list annotated by readiness.with_readiness."""
    return readiness.checklist_of(procedure)


@register.filter
def absolute(value: int) -> int:
    return abs(value)


@register.filter
def clock(value: datetime | None) -> str:
    """A time a family reads: "7:30 AM", with its zone on the night that time happens twice."""
    return fasting_display.clock(value) if value else ""


@register.filter
def occurs_twice(value: datetime | None) -> bool:
    return bool(value) and fasting_display.occurs_twice(value)


@register.simple_tag
def clear_fluids_explained() -> str:
    return str(fasting_display.CLEAR_FLUIDS_EXPLAINED)


@register.filter
def asks_to_call(page: EducationPage) -> bool:
    return page.slug in PAGES_THAT_SAY_CALL
