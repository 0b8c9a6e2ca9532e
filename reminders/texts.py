"""The text message of each reminder kind: what to do and by when, the place, the phone once, a short link.

A text is read at a glance, often at 5 a.m. and often on the first line only;
the email keeps the full detail (reminders.messages). Each kind has its own
short template (templates/reminders/texts/<kind>.txt), and the whole text is
written for the carrier (reminders.sms): at most `sms.BUDGET` segments in the
guardian's language, with the longest real values (tests/reminders/test_text_budget.py).
"""

from __future__ import annotations

from datetime import datetime
from itertools import groupby
from typing import TYPE_CHECKING

from django.conf import settings
from django.template.loader import render_to_string
from django.utils.text import get_text_list
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from portal.links import id_url
from portal.phones import display as phone_display
from procedures import fasting_display
from procedures.fasting import Item

from . import sms
from .models import Kind

if TYPE_CHECKING:
    from procedures.models import FastingPolicy, Procedure

# Kinds whose text asks the family to confirm by replying (reminders.replies reads the answer).
ASKS_TO_CONFIRM = (Kind.CONFIRMATION, Kind.FASTING_EVENING)

# What the family stops, in as few words as a text can take.
_NOUN = {
    Item.FATTY_FOOD: gettext_noop("fatty food"),
    Item.SOLIDS: gettext_noop("solid food"),
    Item.FORMULA: gettext_noop("formula"),
    Item.FORMULA_OR_MILK: gettext_noop("formula or milk"),
    Item.MILK: gettext_noop("milk"),
    Item.BREAST_MILK: gettext_noop("breast milk"),
    Item.CLEAR_FLUIDS: gettext_noop("clear drinks"),
}


def short_link(procedure_pk: int) -> str:
    return settings.SITE_URL + id_url("short_procedure", procedure_pk)


def short_check_in_link(procedure_pk: int) -> str:
    return settings.SITE_URL + id_url("short_check_in", procedure_pk)


def _things(items: list[str]) -> str:
    return get_text_list([_(_NOUN[Item(item)]) for item in items], _("or"))


def _when(at: datetime, day: object) -> str:
    """A clock time, with its weekday when it falls on another day than the appointment."""
    clock = fasting_display.clock(at)
    if at.date() == day:
        return clock
    return _("%(time)s %(day)s") % {"time": clock, "day": fasting_display.weekday(at)}


def _stops(lines: list[fasting_display.CutoffLine], day: object) -> str:
    """The cut-offs still ahead, as one sentence: "No fatty food after 11:30 PM Wednesday, no milk after 1:30 AM."."""
    ahead = [line for line in lines if not line.passed]
    groups = [(at, [line.item for line in group]) for at, group in groupby(ahead, key=lambda line: line.at)]
    if not groups:
        return ""
    parts = [
        (_("No %(things)s after %(time)s") if number == 0 else _("%(things)s after %(time)s"))
        % {"things": _things(items), "time": _when(at, day)}
        for number, (at, items) in enumerate(groups)
    ]
    # Clear drinks stop last: after them, nothing is left to have, so the text need not say so.
    return ", ".join(parts) + "."


def _passed(lines: list[fasting_display.CutoffLine], phone: str) -> str:
    """Cut-offs already past, as one question to act on, with the phone number (the text's only one)."""
    passed = [line for line in lines if line.passed]
    if not passed:
        return ""
    parts = [
        _("%(things)s since %(time)s") % {"things": _things([line.item for line in group]), "time": line_clock}
        for line_clock, group in ((clock, list(group)) for clock, group in groupby(passed, key=lambda line: line.clock))
    ]
    return _("Had %(things)s? Call us now: %(phone)s.") % {"things": get_text_list(parts, _("or")), "phone": phone}


def context(procedure: Procedure, *, now: datetime, policy: FastingPolicy | None = None) -> dict[str, object]:
    location = procedure.location
    name = procedure.patient.first_name
    plan = procedure.fasting_plan(policy)
    lines = fasting_display.describe_plan(plan, now=now, name=name)
    day = procedure.local_start.date()
    today = now.astimezone(location.tz).date()
    clear = plan.cutoff_for(Item.CLEAR_FLUIDS)
    phone = phone_display(location.phone)
    return {
        "clinic": location.name_in_texts,
        "address": location.address,
        "name": name,
        "phone": phone,
        "link": short_link(procedure.pk),
        "check_in_link": short_check_in_link(procedure.pk),
        "date": fasting_display.formatted(procedure.local_start, _("l, F j")),
        # The arrival's own day: just after midnight, families arrive the evening before the start's date.
        "short_date": fasting_display.formatted(procedure.local_arrival, _("D, M j")),
        "weekday": fasting_display.weekday(procedure.local_arrival),
        "arrival": fasting_display.clock(procedure.local_arrival),
        # The arrival with its weekday when that is not the day the text names (the booking) or the day it
        # is read (the morning and running-late texts, which can go the evening before).
        "arrival_on_day": _when(procedure.local_arrival, day),
        "arrival_from_now": _when(procedure.local_arrival, today),
        "arrival_passed": procedure.arrival_at <= now,
        # Said on the day or the night before: the weekday comes with any time not on the reader's day.
        "start": _when(procedure.local_start, today),
        "fasting": plan.required,
        "stops": _stops(lines, day),
        "passed": _passed(lines, phone),
        "clear_until": _when(clear.at, today) if clear and clear.at > now else "",
        "late_minutes": abs(procedure.running_late_minutes),
        "earlier": procedure.running_late_minutes < 0,
        "asks_to_confirm": False,
    }


# Kinds whose text shows cut-offs already past (with the phone number in that line).
SHOWS_PASSED = (Kind.CHANGED, Kind.DELAYED, Kind.FASTING_EVENING)


def draft(
    kind: str,
    procedure: Procedure,
    *,
    now: datetime,
    policy: FastingPolicy | None = None,
    told: dict[str, object] | None = None,
) -> tuple[str, str]:
    """The text's words in the active language, as written (accents and all), and its line on how to stop.

    `told`: what reminders.messages knows of what this guardian was told before (the shift since the
    start they were last given; whether a fasting instruction reached them before a cancellation).
    """
    values = context(procedure, now=now, policy=policy)
    values.update(told or {})
    if kind == Kind.CONFIRMATION:
        values["arrival"] = values["arrival_on_day"]
    elif kind in (Kind.DELAYED, Kind.FASTING_MORNING):
        values["arrival"] = values["arrival_from_now"]
    values["asks_to_confirm"] = kind in ASKS_TO_CONFIRM
    # A running-late text does not repeat cut-offs that passed on the old times: nothing new to act on.
    if kind not in SHOWS_PASSED or (kind == Kind.DELAYED and not values["earlier"]):
        values["passed"] = ""
    body = render_to_string(f"reminders/texts/{kind}.txt", values)
    lines = [" ".join(line.split()) for line in body.splitlines()]
    return "\n".join(line for line in lines if line), _("Reply STOP to stop texts.")


def render_text(
    kind: str,
    procedure: Procedure,
    *,
    now: datetime,
    language: str,
    policy: FastingPolicy | None = None,
    told: dict[str, object] | None = None,
) -> str:
    """The text of `kind` about `procedure` as it stands, in the active language, as it is sent."""
    body, stop = draft(kind, procedure, now=now, policy=policy, told=told)
    # How to stop: always in the first text a family gets, and in any other that still fits its budget.
    with_stop = sms.for_language(f"{body}\n{stop}", language)
    if kind == Kind.CONFIRMATION or sms.segments(with_stop) <= sms.budget(language):
        return with_stop
    return sms.for_language(body, language)
