from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from urllib.parse import urlencode

from django import template
from django.utils import timezone
from django.utils.safestring import SafeString

from portal import phones
from procedures import fasting, fasting_display, markup, readiness
from procedures.models import EducationPage, Location, Procedure

register = template.Library()

# Education pages that tell a family to call: the number goes right under the text.
PAGES_THAT_SAY_CALL = frozenset({"after-the-procedure", "risks-and-when-to-call"})
# Education pages read the days before: what to do if the child is unwell goes under the text.
PAGES_THAT_ASK_IF_UNWELL = frozenset({"getting-ready"})


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


@register.filter
def asks_if_unwell(page: EducationPage) -> bool:
    return page.slug in PAGES_THAT_ASK_IF_UNWELL


@register.filter
def fahrenheit(celsius: Decimal) -> Decimal:
    return (Decimal(celsius) * 9 / 5 + 32).quantize(Decimal("0.1"))


@register.filter
def closed_now(location: Location) -> bool:
    """The day unit is closed at this moment: the after-hours number is the one to call."""
    return not location.is_open(timezone.now())


@register.filter
def map_url(address: str) -> str:
    """A maps search for the address: opens the maps app on a phone, a map in any browser.

    Google's Maps URLs (api=1) work on Android, iOS and the web alike; a geo: link opens
    nothing on an iPhone or a desktop browser.
    """
    return "https://www.google.com/maps/search/?" + urlencode({"api": "1", "query": address})


@register.filter
def hours_minutes(minutes: int) -> str:
    return fasting.hours_and_minutes(minutes)
