"""Writes a nurse or a family asks of delivery: send a reminder again, save a family's channel choices."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.models import User
from procedures.models import ConsentVia, Guardian

from . import consent
from .models import Kind, Reminder, Status
from .planning import channels_for, queue_email, sync_for_guardian


def resend_refusal(reminder: Reminder, *, now: dt.datetime) -> str | None:
    """Why this reminder cannot be sent again now, for the nurse; None when it can.

    The procedure page shows the button only when this is None, and the resend
    action asks again (the page may be old).
    """
    if reminder.status in (Status.SCHEDULED, Status.QUEUED, Status.SENDING):
        return _("This reminder is already on its way.")
    if reminder.status == Status.UNKNOWN and reminder.checked_at is None:
        return _("We are still asking the provider whether this one arrived. Please look again in a few minutes.")
    if reminder.status == Status.CANCELLED:
        return _("This reminder was cancelled, so it is not sent again.")
    if reminder.procedure_version != reminder.procedure.version:
        return _("This reminder was for times that have changed, so it was not sent again.")
    if reminder.valid_until <= now:
        return _("This reminder is no longer useful (its time has passed), so it was not sent.")
    if reminder.channel not in channels_for(reminder.guardian):
        return _("This guardian cannot be reached on this channel (opted out or no address).")
    return None


class CannotResend(Exception):
    pass


def resend(reminder: Reminder, *, now: dt.datetime | None = None) -> Reminder:
    """A copy of the reminder, due now; raises CannotResend with the reason."""
    now = now or timezone.now()
    refusal = resend_refusal(reminder, now=now)
    if refusal is not None:
        raise CannotResend(refusal)
    return Reminder.objects.create(
        procedure=reminder.procedure,
        guardian=reminder.guardian,
        channel=reminder.channel,
        kind=reminder.kind,
        due_at=now,
        valid_until=reminder.valid_until,
        procedure_version=reminder.procedure.version,
        resend_of=reminder,
    )


@transaction.atomic
def save_preferences(*, guardian: Guardian, data: dict, consent_text: str) -> None:
    """The family's own choices: channels, mobile, email and language. A new number needs consent again."""
    number_changed = data["mobile_number"] != guardian.mobile_number
    old_email = guardian.user.email
    if number_changed or data["email"] != old_email:
        # Tell the address on file, so a taken-over account does not go unnoticed.
        queue_email(Kind.CONTACT_CHANGED, guardian=guardian, address=old_email)
    guardian.email_enabled = data["email_enabled"]
    guardian.sms_enabled = data["sms_enabled"]
    guardian.mobile_number = data["mobile_number"]
    if number_changed:
        guardian.sms_consent_at = None
        guardian.sms_consent_text = ""
        guardian.sms_consent_via = ""
        guardian.sms_asked_at = None  # a new number is asked about again
    guardian.save()
    User.objects.filter(pk=guardian.user_id).update(language=data["language"], email=data["email"])
    guardian.user.language = data["language"]
    guardian.user.email = data["email"]
    if data["sms_enabled"] and data.get("sms_consent") and guardian.sms_consent_at is None:
        consent.record(guardian=guardian, by=guardian.user, via=ConsentVia.PORTAL, text=consent_text)
    else:
        sync_for_guardian(guardian)
