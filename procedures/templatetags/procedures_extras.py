from __future__ import annotations

from datetime import datetime

from django import template
from django.utils.safestring import SafeString

from procedures import markup, phones
from procedures.models import Location

register = template.Library()


@register.filter
def phone(value: str) -> str:
    """Show a stored E.164 number the way people write it."""
    return phones.display(value)


@register.filter
def family_markup(value: str) -> SafeString:
    """Education text: paragraphs, bullets and headings; everything escaped."""
    return markup.render(value or "")


@register.filter
def clinic_time(value: datetime | None, location: Location) -> datetime | None:
    """A stored UTC time on the clinic's wall clock."""
    return location.localize(value) if value else None


@register.filter
def absolute(value: int) -> int:
    return abs(value)
