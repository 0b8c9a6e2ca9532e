"""Numbers a family can call, on every page: their children's clinics, or the hospital's main line."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from .models import Location


def phones_to_call(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    is_guardian = bool(user and user.is_authenticated and user.is_guardian)
    return {
        # One query, and only on a page that shows the numbers.
        "family_clinics": SimpleLazyObject(lambda: list(Location.objects.for_family(user)) if is_guardian else []),
        "hospital_phone": settings.HOSPITAL_PHONE,
    }
