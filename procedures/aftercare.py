"""Check-ins after the procedure and the warning signs that need the care team now."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from portal.models import User

from . import events
from .models import (
    Location,
    Pain,
    Procedure,
    ProcedureStatus,
    RedFlagRule,
    SymptomField,
    SymptomReport,
    TemperatureUnit,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PainQuestion:
    label: str | Promise
    answers: tuple[Pain, ...]


# The evening of the procedure there is no yesterday to compare with: ask how much it hurts.
SAME_DAY_PAIN = PainQuestion(_("How is the pain?"), (Pain.NONE, Pain.SOME, Pain.A_LOT))
LATER_PAIN = PainQuestion(
    _("How is the pain, compared with yesterday?"), (Pain.NONE, Pain.BETTER, Pain.SAME, Pain.WORSE)
)


def pain_question(procedure: Procedure, now: datetime | None = None) -> PainQuestion:
    """The pain question that makes sense today, on the clinic's calendar."""
    done = procedure.ended_at or procedure.scheduled_start
    location = procedure.location
    same_day = location.localize(now or timezone.now()).date() <= location.localize(done).date()
    return SAME_DAY_PAIN if same_day else LATER_PAIN


def to_celsius(value: Decimal, unit: str) -> Decimal:
    if unit == TemperatureUnit.FAHRENHEIT:
        return ((value - 32) * 5 / 9).quantize(Decimal("0.1"))
    return value.quantize(Decimal("0.1"))


def triggered(report: SymptomReport, rules: Iterable[RedFlagRule], location: Location) -> list[RedFlagRule]:
    """The active rules this report meets. Pure: no database access."""
    hits = []
    for rule in rules:
        if not rule.is_active:
            continue
        if rule.field == SymptomField.TEMPERATURE:
            hit = report.temperature_c is not None and report.temperature_c >= location.fever_threshold_c
        elif rule.field == SymptomField.PAIN_WORSE:
            hit = report.pain == Pain.WORSE
        else:
            hit = bool(getattr(report, rule.field))
        if hit:
            hits.append(rule)
    return hits


def check_in_open(procedure: Procedure, *, now: datetime) -> bool:
    """Families tell us how the child is doing once the procedure has started or is done; never after a cancel."""
    if procedure.status == ProcedureStatus.CANCELLED:
        return False
    return procedure.status == ProcedureStatus.COMPLETED or procedure.scheduled_start <= now


@transaction.atomic
def record_check_in(*, procedure: Procedure, user: User, report: SymptomReport) -> list[RedFlagRule]:
    report.procedure = procedure
    report.user = user
    if report.temperature is not None:
        report.temperature_c = to_celsius(report.temperature, report.temperature_unit)
    hits = triggered(report, RedFlagRule.objects.filter(is_active=True), procedure.location)
    report.flags = [rule.code for rule in hits]
    report.needs_attention = bool(hits)
    report.save()
    logger.info(
        "check-in recorded",
        extra={"procedure_id": procedure.pk, "report_id": report.pk, "needs_attention": report.needs_attention},
    )
    if hits:
        events.warning_sign_reported.send(sender=SymptomReport, report=report)
    return hits


@transaction.atomic
def acknowledge(*, report: SymptomReport, by: User) -> bool:
    updated = SymptomReport.objects.filter(pk=report.pk, acknowledged_at__isnull=True).update(
        acknowledged_by=by, acknowledged_at=timezone.now()
    )
    return updated == 1
