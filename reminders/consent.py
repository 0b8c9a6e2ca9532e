"""Consent to text messages: the one place that decides who is asked and what turns texts on."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone, translation

from portal.models import User
from procedures.models import ConsentVia, Guardian

from .forms import SMS_CONSENT_TEXT
from .planning import sync_for_guardian


def words(language: str) -> str:
    """The exact consent words in one language: what is read out or shown, and what is stored."""
    with translation.override(language):
        return str(SMS_CONSENT_TEXT)


def should_ask(guardian: Guardian) -> bool:
    """Ask at login only a family with a mobile, no consent yet, no STOP, and no earlier answer."""
    return bool(
        guardian.mobile_number
        and guardian.sms_consent_at is None
        and guardian.sms_opted_out_at is None
        and guardian.sms_asked_at is None
    )


def nurse_can_record(guardian: Guardian) -> bool:
    # After a STOP only the family can turn texts back on (by texting START): carriers require it.
    return bool(guardian.mobile_number and guardian.sms_opted_out_at is None)


@transaction.atomic
def record(*, guardian: Guardian, by: User, via: str, text: str, now: dt.datetime | None = None) -> None:
    """Consent given: store who, when, how and the words, and turn texts on at once."""
    now = now or timezone.now()
    guardian.sms_consent_at = now
    guardian.sms_consent_text = text
    guardian.sms_consent_by = by
    guardian.sms_consent_via = ConsentVia(via)
    guardian.sms_enabled = True
    if by.pk == guardian.user_id:
        guardian.sms_asked_at = now
    guardian.save(
        update_fields=[
            "sms_consent_at",
            "sms_consent_text",
            "sms_consent_by",
            "sms_consent_via",
            "sms_enabled",
            "sms_asked_at",
        ]
    )
    sync_for_guardian(guardian)


def not_now(*, guardian: Guardian, now: dt.datetime | None = None) -> None:
    """Remember the answer so the question is not asked at every login."""
    guardian.sms_asked_at = now or timezone.now()
    guardian.save(update_fields=["sms_asked_at"])
