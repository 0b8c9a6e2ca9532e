"""Writes that span models. Views and tasks call these; each is one transaction."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from portal.models import Invitation, Role, User
from reminders.models import Kind
from reminders.planning import sync_reminders

from .models import Guardian, Location, Patient, Procedure, ProcedureKind, ProcedureStatus, Sedation

logger = logging.getLogger(__name__)


class GuardianConflict(Exception):
    """The email belongs to someone who cannot be added as this child's guardian."""


@dataclass(frozen=True)
class GuardianResult:
    guardian: Guardian
    created: bool
    invited: bool


def send_invitation(*, user: User, invited_by: User | None) -> Invitation:
    """Issue a fresh invitation and email its link after the transaction commits."""
    invitation, token = Invitation.issue(user=user, created_by=invited_by)
    link = settings.SITE_URL + reverse("accept_invitation", args=[token])

    def _send() -> None:
        with translation.override(user.language):
            context = {"user": user, "link": link, "hours": settings.INVITATION_VALID_HOURS}
            subject = render_to_string("emails/invitation_subject.txt", context).strip()
            body = render_to_string("emails/invitation.txt", context)
        send_mail(subject, body, None, [user.email])
        logger.info("invitation sent", extra={"user_id": user.pk, "invitation_id": invitation.pk})

    transaction.on_commit(_send)
    return invitation


@transaction.atomic
def add_guardian(
    *,
    patient: Patient,
    full_name: str,
    email: str,
    mobile_number: str,
    relationship: str,
    language: str,
    added_by: User,
) -> GuardianResult:
    """Link a guardian to a child, creating and inviting the account if it is new.

    An email that already belongs to a guardian links that same person (a
    parent of two children has one login); an email of a staff member is a
    conflict.
    """
    email = email.strip().lower()
    user = User.objects.filter(email__iexact=email).first()
    if user is not None and user.role != Role.GUARDIAN:
        raise GuardianConflict("staff")
    created = user is None
    if created:
        user = User.objects.create_user(email=email, full_name=full_name, role=Role.GUARDIAN, language=language)
        guardian = Guardian.objects.create(user=user, mobile_number=mobile_number, relationship=relationship)
    else:
        guardian, _ = Guardian.objects.get_or_create(
            user=user, defaults={"mobile_number": mobile_number, "relationship": relationship}
        )
        if patient.guardians.filter(pk=guardian.pk).exists():
            raise GuardianConflict("already_linked")
    patient.guardians.add(guardian)
    for procedure in patient.procedures.active():
        sync_reminders(procedure)
    invited = False
    if not user.has_usable_password():
        send_invitation(user=user, invited_by=added_by)
        invited = True
    logger.info(
        "guardian linked",
        extra={"guardian_id": guardian.pk, "patient_id": patient.pk, "new_account": created, "by": added_by.pk},
    )
    return GuardianResult(guardian=guardian, created=created, invited=invited)


@transaction.atomic
def schedule_procedure(
    *,
    patient: Patient,
    kind: ProcedureKind | str,
    location: Location,
    scheduled_start: datetime,
    arrival_at: datetime,
    sedation: Sedation | str,
    scheduled_by: User,
    fasting_minimum_hours: Decimal | None = None,
) -> Procedure:
    procedure = Procedure.objects.create(
        patient=patient,
        kind=kind,
        location=location,
        scheduled_start=scheduled_start,
        arrival_at=arrival_at,
        sedation=sedation,
        fasting_minimum_hours=fasting_minimum_hours,
        created_by=scheduled_by,
    )
    sync_reminders(procedure, event=Kind.CONFIRMATION)
    logger.info("procedure scheduled", extra={"procedure_id": procedure.pk, "by": scheduled_by.pk})
    return procedure


# A change of any of these makes earlier reminders and fasting acknowledgements stale.
_VERSIONED_FIELDS = ("scheduled_start", "arrival_at", "sedation", "location_id", "fasting_minimum_hours")


@transaction.atomic
def update_procedure(*, procedure: Procedure, changed_by: User, **changes: object) -> Procedure:
    """Edit or reschedule. The version goes up when time, place or sedation changes."""
    locked = Procedure.objects.select_for_update().get(pk=procedure.pk)
    if not locked.is_active:
        raise ValueError("Only a scheduled procedure can be changed.")
    before = {field: getattr(locked, field) for field in _VERSIONED_FIELDS}
    for field, value in changes.items():
        setattr(locked, field, value)
    changed = {field for field in _VERSIONED_FIELDS if getattr(locked, field) != before[field]}
    versioned_change = bool(changed)
    time_change = bool(changed & {"scheduled_start", "arrival_at"})
    if versioned_change:
        locked.version += 1
    if time_change:
        locked.status = ProcedureStatus.RESCHEDULED
    locked.save()
    if versioned_change:
        # Same transaction: old reminders cancelled, new ones planned, the family told.
        sync_reminders(locked, event=Kind.CHANGED)
    logger.info(
        "procedure updated",
        extra={"procedure_id": locked.pk, "version": locked.version, "by": changed_by.pk},
    )
    return locked


@transaction.atomic
def cancel_procedure(*, procedure: Procedure, reason: str, cancelled_by: User) -> Procedure:
    locked = Procedure.objects.select_for_update().get(pk=procedure.pk)
    if not locked.is_active:
        return locked
    locked.status = ProcedureStatus.CANCELLED
    locked.cancel_reason = reason
    locked.version += 1
    locked.save(update_fields=["status", "cancel_reason", "version", "updated_at"])
    sync_reminders(locked, event=Kind.CANCELLED)
    logger.info("procedure cancelled", extra={"procedure_id": locked.pk, "by": cancelled_by.pk})
    return locked


class DayOfError(ValueError):
    """A day-of change that cannot apply; the message is for the nurse, in their language."""


@transaction.atomic
def mark_running_late(
    *,
    procedure: Procedure,
    changed_by: User,
    minutes: int | None = None,
    new_start: datetime | None = None,
) -> Procedure:
    """Move today's start (and arrival) later, or earlier, and tell the family at once.

    The fasting cut-offs move with the times, so a child may keep drinking
    clear fluids for longer. A move earlier is allowed but announced loudly.
    """
    locked = Procedure.objects.select_for_update().select_related("location").get(pk=procedure.pk)
    if not locked.is_active:
        raise DayOfError(_("Only a scheduled procedure can run late."))
    now = timezone.now()
    today = timezone.localtime(now, locked.location.tz).date()
    # Today, or tomorrow morning's list as it firms up the evening before.
    if not today <= locked.local_start.date() <= today + dt.timedelta(days=1):
        raise DayOfError(
            _("Running late is for today's and tomorrow's procedures. To move another one, use Edit or reschedule.")
        )
    if (minutes is None) == (new_start is None):
        raise DayOfError(_("Give either the minutes late or the new start time, not both."))
    shift = dt.timedelta(minutes=minutes) if minutes is not None else new_start - locked.scheduled_start
    if locked.scheduled_start + shift <= now:
        raise DayOfError(_("The new start time has already passed."))
    locked.scheduled_start += shift
    locked.arrival_at += shift
    locked.running_late_minutes += int(shift.total_seconds() // 60)
    locked.version += 1
    locked.save()
    sync_reminders(locked, event=Kind.DELAYED)
    logger.info(
        "procedure running late",
        extra={"procedure_id": locked.pk, "minutes": int(shift.total_seconds() // 60), "by": changed_by.pk},
    )
    return locked


@transaction.atomic
def mark_done(*, procedure: Procedure, ended_at: datetime, done_by: User) -> Procedure:
    """The procedure is over: aftercare reminders are planned from when it ended."""
    locked = Procedure.objects.select_for_update().get(pk=procedure.pk)
    if not locked.is_active:
        raise DayOfError(_("Only a scheduled procedure can be marked done."))
    if ended_at > timezone.now() + dt.timedelta(minutes=5):
        raise DayOfError(_("The end time cannot be in the future."))
    if ended_at < locked.scheduled_start - dt.timedelta(hours=12):
        raise DayOfError(_("The end time is before the procedure started."))
    locked.status = ProcedureStatus.COMPLETED
    locked.ended_at = ended_at
    locked.version += 1
    locked.save()
    sync_reminders(locked)
    logger.info("procedure done", extra={"procedure_id": locked.pk, "by": done_by.pk})
    return locked
