"""Reads that more than one page makes: what a user may see, the fasting plan as a family reads it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone

from portal import audit

from . import fasting_display
from .models import (
    FastingPolicy,
    Procedure,
)


def procedures_for(user: Any) -> Any:
    return Procedure.objects.visible_to(user).select_related("patient", "location")


def procedure_shown(request: HttpRequest, pk: int, procedures: QuerySet[Procedure] | None = None) -> Procedure:
    """One procedure this user may see (else 404), and the audit log told whose child it is."""
    procedure = get_object_or_404(procedures if procedures is not None else procedures_for(request.user), pk=pk)
    audit.shown(request, procedure.patient_id)
    return procedure


def fasting_context(
    procedure: Procedure, *, now: dt.datetime | None = None, policy: FastingPolicy | None = None
) -> dict[str, Any]:
    """The plan as the family reads it now: passed cut-offs said plainly, and on the day, what comes next."""
    now = now or timezone.now()
    plan = procedure.fasting_plan(policy)
    return {
        "plan": plan,
        "cutoffs": fasting_display.describe_plan(
            plan, now=now, name=procedure.patient.first_name, phone=procedure.location.phone
        ),
        "next_cutoff": plan.next_cutoff(now),
        "next_step": (
            fasting_display.next_step(plan, now=now, arrival=procedure.local_arrival) if procedure.is_active else None
        ),
    }
