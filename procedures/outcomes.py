"""The day's outcome: started on time, started late, or cancelled, with a reason. The rules live here.

Late is counted from the start the family was given for the day (before any "running late" move)
to the real start the nurse records. A few minutes either way is on time: a child is rarely in the
room at the minute booked, and the clinic's numbers should not call that a delay.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.models import User

from . import services
from .models import DayOutcome, OutcomeKind, OutcomeReason, Procedure, ProcedureStatus

# A start this close to the booked one is on time.
ON_TIME_GRACE = dt.timedelta(minutes=5)
# A real start is on the procedure's day: this far either side of the booked start at most.
START_WINDOW = dt.timedelta(hours=12)
# A nurse may record the start a few minutes ahead of the clock on the wall.
CLOCK_SLACK = dt.timedelta(minutes=5)

DEFAULT_REASONS = [
    # code, fasting related, needs text, English, Spanish
    ("ate-or-drank", True, False, "Ate or drank too late", "Comió o bebió demasiado tarde"),
    ("unwell", False, False, "Unwell (cold, fever, vomiting)", "Enfermo (resfriado, fiebre, vómitos)"),
    ("did-not-come", False, False, "Did not come", "No vino"),
    ("arrived-late", False, False, "Arrived late", "Llegó tarde"),
    ("paperwork", False, False, "Paperwork or consent", "Papeles o consentimiento"),
    ("equipment-staff", False, False, "Equipment or staff", "Equipo o personal"),
    ("earlier-case", False, False, "Earlier case ran long", "El caso anterior se alargó"),
    ("other", False, True, "Other", "Otro"),
]


def add_default_reasons(reason_model: Any) -> None:
    """Create the shipped reasons that are missing; never touch ones an admin has edited."""
    for order, (code, fasting_related, needs_text, label_en, label_es) in enumerate(DEFAULT_REASONS):
        reason_model.objects.get_or_create(
            code=code,
            location=None,
            defaults={
                "fasting_related": fasting_related,
                "needs_text": needs_text,
                "label_en": label_en,
                "label_es": label_es,
                "order": (order + 1) * 10,
            },
        )


class OutcomeError(ValueError):
    """An outcome that cannot be recorded; the message is for the nurse, in their language."""


def planned_start(procedure: Procedure) -> dt.datetime:
    """The start the family was given for the day, before any running-late move."""
    return procedure.scheduled_start - dt.timedelta(minutes=procedure.running_late_minutes)


def minutes_late(procedure: Procedure, started_at: dt.datetime) -> int:
    return int((started_at - planned_start(procedure)).total_seconds() // 60)


def is_late(procedure: Procedure, started_at: dt.datetime) -> bool:
    return started_at - planned_start(procedure) > ON_TIME_GRACE


def on_the_day(procedure: Procedure, now: dt.datetime) -> bool:
    """Whether `now` is on (or after) the procedure's own day at its clinic."""
    return timezone.localtime(now, procedure.location.tz).date() >= procedure.local_start.date()


def _check_reason(procedure: Procedure, reason: OutcomeReason | None, text: str) -> None:
    if reason is None:
        raise OutcomeError(_("Choose a reason."))
    if not OutcomeReason.objects.for_location(procedure.location).filter(pk=reason.pk).exists():
        raise OutcomeError(_("Choose one of this clinic's reasons."))
    if reason.needs_text and not text.strip():
        raise OutcomeError(_("Say in a few words what happened."))


def _save(procedure: Procedure, *, by: User | None, now: dt.datetime, **values: Any) -> DayOutcome:
    outcome, _created = DayOutcome.objects.update_or_create(
        procedure=procedure, defaults={**values, "recorded_by": by, "recorded_at": now}
    )
    return outcome


@transaction.atomic
def record_start(
    *,
    procedure: Procedure,
    started_at: dt.datetime,
    by: User | None,
    reason: OutcomeReason | None = None,
    reason_text: str = "",
    now: dt.datetime | None = None,
) -> DayOutcome:
    """The procedure started at `started_at`: on time, or late (then with why). A second record corrects the first."""
    now = now or timezone.now()
    procedure = Procedure.objects.select_for_update(of=("self",)).select_related("location").get(pk=procedure.pk)
    if procedure.status == ProcedureStatus.CANCELLED:
        raise OutcomeError(_("This procedure was cancelled: it cannot have started."))
    if started_at > now + CLOCK_SLACK:
        raise OutcomeError(_("The start time cannot be in the future."))
    if abs(started_at - planned_start(procedure)) > START_WINDOW:
        raise OutcomeError(_("The start must be on the day of the procedure."))
    if procedure.ended_at is not None and started_at > procedure.ended_at:
        raise OutcomeError(_("The start cannot be after the end time already recorded."))
    late = is_late(procedure, started_at)
    if late:
        _check_reason(procedure, reason, reason_text)
    else:
        reason, reason_text = None, ""
    procedure.started_at = started_at
    procedure.save(update_fields=["started_at", "updated_at"])
    return _save(
        procedure,
        by=by,
        now=now,
        kind=OutcomeKind.LATE if late else OutcomeKind.ON_TIME,
        late_minutes=max(minutes_late(procedure, started_at), 0),
        reason=reason,
        reason_text=reason_text.strip() if reason and reason.needs_text else "",
    )


@transaction.atomic
def cancel(
    *,
    procedure: Procedure,
    by: User,
    reason: OutcomeReason | None,
    reason_text: str = "",
    note: str = "",
    now: dt.datetime | None = None,
) -> DayOutcome:
    """Cancel or postpone: on the day it needs a reason; before the day the reason is kept if given.

    The procedure is cancelled through the change path (the family is told, reminders stop).
    """
    now = now or timezone.now()
    if not procedure.is_active:
        raise OutcomeError(_("Only a scheduled procedure can be cancelled."))
    on_day = on_the_day(procedure, now)
    if on_day or reason is not None:
        _check_reason(procedure, reason, reason_text)
    words = reason_text.strip() if reason is not None and reason.needs_text else ""
    if not note:
        note = f"{reason.label}: {words}" if words else (reason.label if reason else "")
    services.cancel_procedure(procedure=procedure, reason=note[:200], cancelled_by=by)
    return _save(
        procedure,
        by=by,
        now=now,
        kind=OutcomeKind.CANCELLED_ON_DAY if on_day else OutcomeKind.CANCELLED_BEFORE,
        late_minutes=None,
        reason=reason,
        reason_text=words,
    )
