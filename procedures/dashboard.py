"""The nurse's one page: who needs me? A fixed number of queries however much data exists."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.paginator import Page
from django.db.models import Min, QuerySet

from portal.models import User
from portal.paging import page_of

from . import events, readiness
from .models import FastingPolicy, Location, Patient, Procedure, ProcedureStatus, SymptomReport

PAGE_SIZE = 20

# What a procedure row of the board shows (readiness.with_readiness adds the checklist's counts).
PROCEDURE_ROW_FIELDS = (
    *("location", "patient", "patient__first_name", "patient__last_name"),
    *("scheduled_start", "sedation", "status", "running_late_minutes", "started_at", "last_drink_at"),
)
# What the cards show of each report and its people: not whole rows.
REPORT_FIELDS = (
    *("procedure", "procedure__patient", "procedure__patient__first_name", "procedure__patient__last_name"),
    *("user", "user__full_name", "user__guardian__mobile_number", "created_at"),
    *("temperature", "temperature_unit", "temperature_c", "pain", "notes"),
    *("chills", "bleeding", "redness", "swelling", "oozing", "bad_smell"),
)
ACKNOWLEDGED_FIELDS = (
    *("procedure", "procedure__patient", "procedure__patient__first_name", "procedure__patient__last_name"),
    *("flags", "acknowledged_at", "acknowledged_by", "acknowledged_by__full_name"),
)


@dataclass
class FlagCard:
    """One child's open warning signs: the newest report first, and whom to call back."""

    patient: Patient
    reports: list[SymptomReport]
    is_new: bool

    @property
    def reporters(self) -> list[User]:
        seen: dict[int, User] = {}
        for report in self.reports:
            seen.setdefault(report.user_id, report.user)
        return list(seen.values())


@dataclass
class Dashboard:
    location: Location
    day: dt.date
    since: dt.datetime | None
    flags: Page
    flag_cards: list[FlagCard]
    recently_acknowledged: list[SymptomReport]
    procedures: list[Procedure]
    # Delayed children waiting long without a clear drink: (procedure, minutes), longest first.
    thirsty: list[tuple[Procedure, int]]
    # What other apps add (reminders: deliveries that failed, families we cannot reach).
    sections: list[events.Section]

    @property
    def new_cards(self) -> int:
        return sum(card.is_new for card in self.flag_cards)

    @property
    def newest(self) -> dt.datetime | None:
        """The newest time among what the board shows as possibly new (warning signs, other apps' sections)."""
        times = [report.created_at for card in self.flag_cards for report in card.reports]
        times += [section.newest for section in self.sections if section.newest is not None]
        return max(times, default=None)


def _flag_cards(
    open_flags: QuerySet[SymptomReport], number: Any, since: dt.datetime | None
) -> tuple[Page, list[FlagCard]]:
    """Open warning signs, one card a child; the child waiting longest comes first.

    Two queries whatever the numbers: one page of children (with how many there are), and their reports.
    """
    children = (
        open_flags.values("procedure__patient")
        .annotate(waiting_since=Min("created_at"))
        .order_by("waiting_since", "procedure__patient")
    )
    page = page_of(children, number, PAGE_SIZE)
    ids = [row["procedure__patient"] for row in page]
    grouped: dict[int, list[SymptomReport]] = {pk: [] for pk in ids}
    reports = (
        open_flags.filter(procedure__patient__in=ids)
        .select_related("procedure__patient", "user__guardian")
        .only(*REPORT_FIELDS)
    )
    for report in reports.order_by("-created_at", "-pk"):
        grouped[report.procedure.patient_id].append(report)
    cards = [
        FlagCard(
            patient=grouped[pk][0].procedure.patient,
            reports=grouped[pk],
            is_new=since is not None and grouped[pk][0].created_at > since,
        )
        for pk in ids
        if grouped[pk]
    ]
    return page, cards


def _thirsty(procedures: list[Procedure], now: dt.datetime) -> list[tuple[Procedure, int]]:
    # The policy is read only when a delayed child has said when they last drank.
    waiting = [p for p in procedures if p.running_late_minutes > 0 and p.last_drink_at and not p.started_at]
    if not waiting:
        return []
    rules = FastingPolicy.current().rules()
    found = [(p, p.thirsty_minutes(rules=rules, now=now)) for p in waiting]
    return sorted(((p, minutes) for p, minutes in found if minutes is not None), key=lambda pair: -pair[1])


def build(
    *, location: Location, day: dt.date, now: dt.datetime, pages: dict[str, Any], since: dt.datetime | None = None
) -> Dashboard:
    """The board for one clinic; `since` is when this nurse last looked, to mark what is new."""
    start = location.day_start(day)
    end = start + dt.timedelta(days=2)
    # The clinic's own procedures: each row gets this location, not a copy of it per row.
    procedures = list(
        readiness.with_readiness(
            location.procedures.filter(scheduled_start__gte=start, scheduled_start__lt=end)
            .exclude(status=ProcedureStatus.CANCELLED)
            .select_related("patient")
            .only(*PROCEDURE_ROW_FIELDS)
            .order_by("scheduled_start")
        )
    )
    thirsty = _thirsty(procedures, now)
    flagged = SymptomReport.objects.filter(procedure__location=location, needs_attention=True)
    flags, flag_cards = _flag_cards(flagged.open_flags(), pages.get("flags"), since)
    recently_acknowledged = list(
        flagged.filter(acknowledged_at__gte=now - dt.timedelta(days=1))
        .select_related("procedure__patient", "acknowledged_by")
        .only(*ACKNOWLEDGED_FIELDS)
        .order_by("-acknowledged_at")[:10]
    )
    sections = events.sections("dashboard", location=location, now=now, pages=pages)
    return Dashboard(
        location=location,
        day=day,
        since=since,
        flags=flags,
        flag_cards=flag_cards,
        recently_acknowledged=recently_acknowledged,
        procedures=procedures,
        thirsty=thirsty,
        sections=sections,
    )
