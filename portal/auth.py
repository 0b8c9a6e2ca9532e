"""Logging in by email: one account per address, whatever its letter case."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

# django-axes keeps the typed name in a 255-character column.
AXES_USERNAME_LENGTH = 255


def normalize_login(value: object) -> str:
    """A typed email as accounts are looked up and counted: trimmed, lower case, no control characters."""
    text = value if isinstance(value, str) else ""
    return "".join(char for char in text if char.isprintable()).strip().lower()


def axes_username(request: HttpRequest | None, credentials: dict | None) -> str | None:
    """The name django-axes counts failed logins under (AXES_USERNAME_CALLABLE).

    Lower case, so changing the letter case does not buy five more tries;
    cut to the column's length, so an over-long name is an ordinary failed login.
    """
    source = credentials or getattr(request, "POST", None) or {}
    name = normalize_login(source.get(settings.AXES_USERNAME_FORM_FIELD))
    return name[:AXES_USERNAME_LENGTH] or None
