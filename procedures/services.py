"""Writes that span models. Views and tasks call these; each is one transaction."""

from __future__ import annotations

import copy
import datetime as dt
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.models import Role, User

from . import events, fasting_display
from .events import Reason
from .models import (
    FastingPolicy,
    Guardian,
    Location,
    Patient,
    Procedure,
    ProcedureKind,
    ProcedureStatus,
    Sedation,
)

logger = logging.getLogger(__name__)


class GuardianConflict(Exception):
    """The email belongs to someone who cannot be added as this child's guardian."""


@dataclass(frozen=True)
class GuardianResult:
    guardian: Guardian
    created: bool
    invited: bool


def send_invitation(*, user: User, invited_by: User | None) -> None:
    """Send a fresh invitation on the durable email path (the link is made when it goes)."""
    events.invitation_requested.send(sender=Guardian, guardian=user.guardian, invited_by=invited_by)
    logger.info("invitation queued", extra={"user_id": user.pk})


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
    update_guardians(patient=patient, changed_by=added_by, apply=lambda: patient.guardians.add(guardian))
    invited = False
    if not user.has_usable_password():
        send_invitation(user=user, invited_by=added_by)
        invited = True
    logger.info(
        "guardian linked",
        extra={"guardian_id": guardian.pk, "patient_id": patient.pk, "new_account": created, "by": added_by.pk},
    )
    return GuardianResult(guardian=guardian, created=created, invited=invited)


# --- The change path --------------------------------------------------------------------
#
# Everything that changes what a family must do or where they must be goes
# through `change_path`: it locks the procedure rows, lets the caller make its
# change, and then compares what the family must do before and after. If that
# picture moved, the version goes up (which makes the fasting acknowledgement
# and every open reminder of the old version stale), the reminders are planned
# again and one notice per guardian and channel is queued, all in the same
# transaction. Delivery hears of it through `events.procedure_changed`.


# How early before the start a family may be asked to arrive.
MAX_ARRIVAL_LEAD = dt.timedelta(hours=6)
# How far ahead a procedure may be booked: past this it is a typo, not a plan.
MAX_BOOKING_AHEAD = dt.timedelta(days=2 * 365)
# A nurse may record the end a few minutes ahead of the clock on the wall.
DONE_CLOCK_SLACK = dt.timedelta(minutes=5)


class DayOfError(ValueError):
    """A change that cannot apply; the message is for the nurse, in their language."""


class StaleVersion(DayOfError):
    """The form was based on an older version: sent twice, or someone else changed it first."""


@dataclass(frozen=True)
class Picture:
    """What a family must do and where they must be, for one version of a procedure.

    The kind (aspiration, biopsy or both) goes through the change path but is
    not part of it: messages never name it and no time moves with it.
    """

    status: str
    start: datetime
    arrival: datetime
    location_id: int
    time_zone: str
    sedation: str
    cutoffs: tuple[tuple[str, datetime], ...]

    @property
    def first_moment(self) -> datetime:
        """The earliest thing the family must do: the first cut-off, or else arriving."""
        return min([self.arrival, *(at for _, at in self.cutoffs)])

    def moved_in_time(self, other: Picture) -> bool:
        return (self.start, self.arrival) != (other.start, other.arrival)


def picture_of(procedure: Procedure, policy: FastingPolicy | None = None) -> Picture:
    plan = procedure.fasting_plan(policy)
    return Picture(
        status=procedure.status,
        start=procedure.scheduled_start,
        arrival=procedure.arrival_at,
        location_id=procedure.location_id,
        time_zone=procedure.location.timezone,
        sedation=procedure.sedation,
        cutoffs=tuple((str(cutoff.item), cutoff.at) for cutoff in plan.cutoffs),
    )


@dataclass
class Change:
    """One locked procedure inside the change path. Change `procedure` and save it inside the block."""

    procedure: Procedure
    before: Picture
    after: Picture | None = None

    @property
    def moved(self) -> bool:
        return self.after is not None and self.after != self.before


def _lock(procedure_ids: Iterable[int]) -> list[Procedure]:
    # Always in primary-key order, so two changes over several rows cannot deadlock.
    return list(
        Procedure.objects.select_for_update(of=("self",))
        .select_related("location", "patient")
        .filter(pk__in=set(procedure_ids))
        .order_by("pk")
    )


@contextmanager
def change_path(
    procedure_ids: Iterable[int],
    *,
    reason: Reason,
    by: User | None,
    based_on: int | None = None,
    now: datetime | None = None,
) -> Iterator[list[Change]]:
    """The one way a booked procedure changes. See the comment above `Reason`."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = _lock(procedure_ids)
        if based_on is not None and any(procedure.version != based_on for procedure in locked):
            raise StaleVersion(
                _(
                    "This procedure changed after you opened the form (or the form was sent twice). "
                    "Nothing was changed this time. Check the times now shown and try again if needed."
                )
            )
        policy = FastingPolicy.current()
        changes = [Change(procedure, picture_of(procedure, policy)) for procedure in locked]
        yield changes
        policy = FastingPolicy.current()
        for change in changes:
            _settle(change, reason=reason, by=by, policy=policy, now=now)


def _settle(change: Change, *, reason: Reason, by: User | None, policy: FastingPolicy, now: datetime) -> None:
    fresh = Procedure.objects.select_related("location", "patient").get(pk=change.procedure.pk)
    change.after = picture_of(fresh, policy)
    if change.moved:
        fresh.version += 1
        if fresh.is_active and change.after.moved_in_time(change.before):
            fresh.status = ProcedureStatus.RESCHEDULED
        fresh.save(update_fields=["version", "status", "updated_at"])
    change.procedure = fresh
    # Always told: a guardian added or a clinic's message times change who
    # gets what and when, even when the family's own picture stays the same.
    events.procedure_changed.send(
        sender=Procedure,
        procedure=fresh,
        reason=reason,
        moved=change.moved,
        about=min(change.before.first_moment, change.after.first_moment),
        now=now,
    )
    logger.info(
        "procedure changed",
        extra={
            "procedure_id": fresh.pk,
            "reason": str(reason),
            "version": fresh.version,
            "moved": change.moved,
            "by": by.pk if by else None,
        },
    )


def _active_ids(procedures: Any) -> list[int]:
    return list(procedures.active().values_list("pk", flat=True))


# --- The rules a form and the service share ---------------------------------------------


def check_times(*, start: datetime, arrival: datetime, now: datetime) -> None:
    """When a procedure may be booked for. Errors are keyed by the model's field names."""
    errors: dict[str, Any] = {}
    if start <= now:
        errors["scheduled_start"] = _("The start is in the past. Choose a later date or time.")
    elif start > now + MAX_BOOKING_AHEAD:
        errors["scheduled_start"] = _("Choose a date within the next two years.")
    elif arrival < now:
        errors["arrival_at"] = _("This arrival time has already passed.")
    if arrival > start:
        errors["arrival_at"] = _("The family must arrive before the procedure starts.")
    elif start - arrival > MAX_ARRIVAL_LEAD:
        errors["arrival_at"] = _("Arrival can be at most 6 hours before the start.")
    if errors:
        raise ValidationError(errors)


def running_late_shift(
    procedure: Procedure, *, minutes: int | None, new_start: datetime | None, now: datetime
) -> dt.timedelta:
    """How far a day-of delay moves the start; raises DayOfError when it cannot apply."""
    if not procedure.is_active:
        raise DayOfError(_("Only a scheduled procedure can run late."))
    today = timezone.localtime(now, procedure.location.tz).date()
    # Today, or tomorrow morning's list as it firms up the evening before.
    if not today <= procedure.local_start.date() <= today + dt.timedelta(days=1):
        raise DayOfError(
            _("Running late is for today's and tomorrow's procedures. To move another one, use Edit or reschedule.")
        )
    if (minutes is None) == (new_start is None):
        raise DayOfError(_("Give either the minutes late or the new start time, not both."))
    shift = dt.timedelta(minutes=minutes) if minutes is not None else new_start - procedure.scheduled_start
    if not shift:
        raise DayOfError(_("That is the time already booked."))
    if procedure.scheduled_start + shift <= now:
        raise DayOfError(_("The new start time has already passed."))
    return shift


def check_done_time(procedure: Procedure, *, ended_at: datetime, now: datetime) -> None:
    if not procedure.is_active:
        raise DayOfError(_("Only a scheduled procedure can be marked done."))
    if ended_at > now + DONE_CLOCK_SLACK:
        raise DayOfError(_("The end time cannot be in the future."))
    if ended_at < procedure.scheduled_start:
        raise DayOfError(
            _(
                "The end time is before the procedure's start (%(start)s). "
                "If it started early, first move the start with Running late."
            )
            % {"start": fasting_display.clock(procedure.local_start)}
        )


# --- Writes through the change path ------------------------------------------------------


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
    morning_medicines: str = "",
) -> Procedure:
    check_times(start=scheduled_start, arrival=arrival_at, now=timezone.now())
    procedure = Procedure.objects.create(
        patient=patient,
        kind=kind,
        location=location,
        scheduled_start=scheduled_start,
        arrival_at=arrival_at,
        sedation=sedation,
        fasting_minimum_hours=fasting_minimum_hours,
        morning_medicines=morning_medicines,
        created_by=scheduled_by,
    )
    booked(procedure)
    logger.info("procedure scheduled", extra={"procedure_id": procedure.pk, "by": scheduled_by.pk})
    return procedure


def booked(procedure: Procedure) -> None:
    """A new procedure row was saved: the family is told and its reminders are planned."""
    events.procedure_changed.send(
        sender=Procedure, procedure=procedure, reason=Reason.BOOKED, moved=True, about=None, now=None
    )


_TIME_FIELDS = ("scheduled_start", "arrival_at")


def update_procedure(
    *, procedure: Procedure, changed_by: User, based_on: int | None = None, **changes: object
) -> Procedure:
    """Edit or reschedule. The version goes up when anything the family must do or know moves."""
    now = timezone.now()
    with change_path([procedure.pk], reason=Reason.EDITED, by=changed_by, based_on=based_on, now=now) as found:
        locked = _only_one(found).procedure
        if not locked.is_active:
            raise DayOfError(_("Only a scheduled procedure can be changed."))
        before = {field: getattr(locked, field) for field in _TIME_FIELDS}
        for field, value in changes.items():
            setattr(locked, field, value)
        if any(getattr(locked, field) != before[field] for field in _TIME_FIELDS):
            check_times(start=locked.scheduled_start, arrival=locked.arrival_at, now=now)
        locked.save()
    return found[0].procedure


def cancel_procedure(*, procedure: Procedure, reason: str, cancelled_by: User) -> Procedure:
    with change_path([procedure.pk], reason=Reason.CANCELLED, by=cancelled_by) as found:
        locked = _only_one(found).procedure
        if locked.is_active:
            locked.status = ProcedureStatus.CANCELLED
            locked.cancel_reason = reason
            locked.save(update_fields=["status", "cancel_reason", "updated_at"])
    return found[0].procedure


def mark_running_late(
    *,
    procedure: Procedure,
    changed_by: User,
    minutes: int | None = None,
    new_start: datetime | None = None,
    based_on: int | None = None,
) -> Procedure:
    """Move today's start (and arrival) later, or earlier, and tell the family at once.

    The fasting cut-offs move with the times, so a child may keep drinking
    clear fluids for longer. A move earlier is allowed but announced loudly.
    """
    now = timezone.now()
    with change_path([procedure.pk], reason=Reason.RUNNING_LATE, by=changed_by, based_on=based_on, now=now) as found:
        locked = _only_one(found).procedure
        shift = running_late_shift(locked, minutes=minutes, new_start=new_start, now=now)
        locked.scheduled_start += shift
        locked.arrival_at += shift
        locked.running_late_minutes += int(shift.total_seconds() // 60)
        locked.save()
    return found[0].procedure


def mark_done(*, procedure: Procedure, ended_at: datetime, done_by: User) -> Procedure:
    """The procedure is over: aftercare reminders are planned from when it ended."""
    with change_path([procedure.pk], reason=Reason.DONE, by=done_by) as found:
        locked = _only_one(found).procedure
        check_done_time(locked, ended_at=ended_at, now=timezone.now())
        locked.status = ProcedureStatus.COMPLETED
        locked.ended_at = ended_at
        locked.save()
    return found[0].procedure


def update_child(*, patient: Patient, changed_by: User | None) -> Patient:
    """Save a child whose details (feeding, date of birth...) were edited in memory."""
    with change_path(_active_ids(patient.procedures), reason=Reason.CHILD, by=changed_by):
        patient.save()
    return patient


def update_clinic(*, location: Location, changed_by: User | None) -> Location:
    """Save a clinic edited in memory: its time zone and message times reach every open plan."""
    with change_path(_active_ids(location.procedures), reason=Reason.CLINIC, by=changed_by):
        location.save()
    return location


def update_fasting_policy(*, policy: FastingPolicy, changed_by: User | None, delete: bool = False) -> None:
    """Save (or delete) a fasting policy; every active procedure whose times move is told."""
    with change_path(_active_ids(Procedure.objects), reason=Reason.POLICY, by=changed_by):
        if delete:
            policy.delete()
        else:
            policy.save()


def update_guardians(*, patient: Patient, changed_by: User | None, apply: Callable[[], object]) -> None:
    """Add or remove guardians (`apply` does it): new ones are planned in, removed ones planned out."""
    with change_path(_active_ids(patient.procedures), reason=Reason.GUARDIANS, by=changed_by):
        apply()


def _only_one(found: list[Change]) -> Change:
    if len(found) != 1:
        raise Procedure.DoesNotExist
    return found[0]


# --- Before saving: what the family will be told --------------------------------------


@dataclass(frozen=True)
class ChangePreview:
    """What a change will tell the family, for the nurse to see before it is saved."""

    notice: str
    # Now past and earlier than before: the child may have had it since. Call the family.
    newly_passed: list[fasting_display.CutoffLine]
    # Had passed, ahead again: the family will be told they may have it again for a while.
    reopened: list[fasting_display.CutoffLine]
    guardians: list[Guardian]
    notice_note: str = ""

    @property
    def needs_confirmation(self) -> bool:
        return bool(self.newly_passed or self.reopened)


def preview_change(
    procedure: Procedure, *, now: datetime, reason: Reason = Reason.EDITED, **changes: Any
) -> ChangePreview:
    """The change applied in memory only; nothing is saved."""
    moved = copy.copy(procedure)
    for field, value in changes.items():
        setattr(moved, field, value)
    before = {cutoff.item: cutoff.at for cutoff in procedure.fasting_plan().cutoffs}
    after = moved.fasting_plan()
    name, phone = procedure.patient.first_name, procedure.location.phone
    newly_passed, reopened = [], []
    for cutoff in after.cutoffs:
        was = before.get(cutoff.item)
        line = fasting_display.describe(cutoff, now=now, name=name, phone=phone)
        if cutoff.at <= now and (was is None or cutoff.at < min(was, now)):
            newly_passed.append(line)
        elif cutoff.at > now and was is not None and was <= now:
            reopened.append(line)
    guardians = list(Guardian.objects.filter(patients=procedure.patient).select_related("user"))
    # The words live with the messages: delivery answers with the notice's text.
    found = events.notice_preview.send(sender=Procedure, procedure=moved, reason=reason, now=now)
    notices = [notice if isinstance(notice, events.Notice) else events.Notice(notice) for _, notice in found]
    return ChangePreview(
        notice="".join(notice.text for notice in notices),
        notice_note=" ".join(notice.note for notice in notices if notice.note),
        newly_passed=newly_passed,
        reopened=reopened,
        guardians=guardians,
    )


def preview_running_late(
    procedure: Procedure, *, minutes: int | None, new_start: datetime | None, now: datetime
) -> ChangePreview:
    shift = running_late_shift(procedure, minutes=minutes, new_start=new_start, now=now)
    return preview_change(
        procedure,
        reason=Reason.RUNNING_LATE,
        now=now,
        scheduled_start=procedure.scheduled_start + shift,
        arrival_at=procedure.arrival_at + shift,
        running_late_minutes=procedure.running_late_minutes + int(shift.total_seconds() // 60),
    )
