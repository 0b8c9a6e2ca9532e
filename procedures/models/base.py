"""Shared by the models of every topic: time zones, who sees what, and two-language text."""

from __future__ import annotations

import zoneinfo
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from portal.models import Role

if TYPE_CHECKING:
    from portal.models import User


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            _("“%(value)s” is not a known time zone. Use a name such as America/Chicago."),
            code="unknown_time_zone",
            params={"value": value},
        )


def scoped(queryset: QuerySet[Any], user: User, *, nurse: Q, guardian: Q | None) -> QuerySet[Any]:
    """The one rule for who sees patient data: admins all, nurses their clinics', guardians their own."""
    if not user.is_authenticated or not user.is_active:
        return queryset.none()
    if user.role == Role.ADMIN:
        return queryset.all()
    if user.role == Role.NURSE:
        return queryset.filter(nurse)
    return queryset.filter(guardian) if guardian is not None else queryset.none()


class Bilingual:
    """Pick the English or Spanish version of a field for the active language.

    Our own, not django-modeltranslation or django-parler: two fixed languages as
    plain `_en`/`_es` columns that the admin shows side by side and reviewers check
    together; modeltranslation would add the same columns by patching models at
    start-up, parler a join per read, and neither removes a rule we hold.
    """

    def in_language(self, field: str) -> str:
        language = (get_language() or "en")[:2]
        value = getattr(self, f"{field}_{language}", "") if language in ("en", "es") else ""
        return value or getattr(self, f"{field}_en")
