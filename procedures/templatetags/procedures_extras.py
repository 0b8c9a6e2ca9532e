from __future__ import annotations

from django import template

from procedures import phones

register = template.Library()


@register.filter
def phone(value: str) -> str:
    """Show a stored E.164 number the way people write it."""
    return phones.display(value)
