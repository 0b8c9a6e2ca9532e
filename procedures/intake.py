"""When the child last ate and drank: the family's morning answer, the nurse's check at check-in."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.models import User

from .fasting import Intake
from .models import Procedure

# The family answers on the morning: anything earlier than this is a slip, not last night's supper.
LONGEST_AGO = dt.timedelta(hours=24)
# A phone's clock may run a little ahead of ours.
CLOCK_SLACK = dt.timedelta(minutes=5)
FIELDS = {Intake.DRINK: "last_drink_at", Intake.MILK: "last_milk_at", Intake.FOOD: "last_food_at"}


class IntakeError(ValueError):
    """An answer that cannot be right; the message is for whoever typed it, in their language."""


def answer_open(procedure: Procedure, now: dt.datetime) -> bool:
    """The family is asked on the day itself, until the procedure has started."""
    today = timezone.localtime(now, procedure.location.tz).date()
    return procedure.is_active and procedure.started_at is None and procedure.local_start.date() == today


def at_clock(procedure: Procedure, clock: dt.time, now: dt.datetime) -> dt.datetime:
    """A clock time said on the morning: today if that has already come, else last night."""
    today = timezone.localtime(now, procedure.location.tz).date()
    at = procedure.location.at(today, clock)
    return at if at <= now + CLOCK_SLACK else procedure.location.at(today - dt.timedelta(days=1), clock)


def _check(times: dict[Intake, dt.datetime | None], now: dt.datetime) -> None:
    if not any(times.values()):
        raise IntakeError(_("Give at least one time."))
    for at in times.values():
        if at is not None and at > now + CLOCK_SLACK:
            raise IntakeError(_("A time cannot be later than now."))
        if at is not None and at < now - LONGEST_AGO:
            raise IntakeError(_("A time must be within the last 24 hours."))


@transaction.atomic
def family_answer(
    *, procedure: Procedure, user: User, times: dict[Intake, dt.datetime | None], now: dt.datetime | None = None
) -> Procedure:
    """The family's answer on the morning. A time left out keeps what was said before."""
    now = now or timezone.now()
    if not answer_open(procedure, now):
        raise IntakeError(_("You can tell us this on the morning of the procedure."))
    _check(times, now)
    return _save(procedure, times, now=now, told_by=user)


@transaction.atomic
def nurse_check(
    *, procedure: Procedure, nurse: User, times: dict[Intake, dt.datetime | None], now: dt.datetime | None = None
) -> Procedure:
    """The nurse confirms or corrects the times at check-in; what she leaves empty is empty."""
    now = now or timezone.now()
    if procedure.status == "cancelled":
        raise IntakeError(_("This procedure was cancelled."))
    _check(times, now)
    return _save(procedure, times, now=now, checked_by=nurse, replace=True)


def _save(
    procedure: Procedure,
    times: dict[Intake, dt.datetime | None],
    *,
    now: dt.datetime,
    told_by: User | None = None,
    checked_by: User | None = None,
    replace: bool = False,
) -> Procedure:
    locked = Procedure.objects.select_for_update(of=("self",)).get(pk=procedure.pk)
    for intake, field in FIELDS.items():
        if replace or times.get(intake) is not None:
            setattr(locked, field, times.get(intake))
    if told_by is not None:
        locked.intake_told_at, locked.intake_told_by = now, told_by
    if checked_by is not None:
        locked.intake_checked_at, locked.intake_checked_by = now, checked_by
    locked.save(
        update_fields=[
            *FIELDS.values(),
            *("intake_told_at", "intake_told_by", "intake_checked_at", "intake_checked_by", "updated_at"),
        ]
    )
    return locked
