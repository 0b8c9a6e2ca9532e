"""An iCalendar (.ics) file for one appointment, with alarms before the fasting cut-offs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from itertools import groupby

import icalendar
from django.utils import timezone
from django.utils.text import get_text_list
from django.utils.translation import gettext as _

from portal import phones

from . import fasting_display
from .fasting import Cutoff, FastingPlan, Item
from .models import Location, Procedure, ProcedureStatus

PRODID = "-//Marrow Ready//Appointment//EN"

# An alarm this long before a cut-off leaves time for a last drink or snack.
ALARM_LEAD = dt.timedelta(minutes=30)
# Nobody should be woken at 1 a.m. to be told to stop eating. A cut-off this
# close to arrival is part of the family's morning (they are up and getting
# ready), so its alarm may ring inside quiet hours; a cut-off earlier in the
# night gets one "before bed" alarm instead. Three hours covers the last clear
# drink (1 hour before arrival by default) with room for an earlier arrival or
# a longer clear-fluid rule, and stops short of the middle of the night.
MORNING_WINDOW = dt.timedelta(hours=3)


def appointment_ics(procedure: Procedure, url: str) -> str:
    """The event starts at the arrival time; alarms ring before the cut-offs (see `alarms`).

    One UID per appointment, for ever: a calendar that imports the file again
    after a change updates the event it has (RFC 5545 3.8.4.7) because
    SEQUENCE, the procedure's version, is higher (3.8.7.4); the version goes
    up on every change the family must know about, cancelling included. A
    cancelled appointment is published as STATUS:CANCELLED (3.8.1.11) with no
    alarms, so nothing rings for a visit that will not happen.

    The summary carries the child's first name only: calendars are often
    shared or synced to other services. Times are the clinic's, with its
    time zone described in the file; alarm times are absolute, in UTC.
    """
    plan = procedure.fasting_plan()
    location = procedure.location
    now = timezone.now()
    uid = f"procedure-{procedure.pk}@marrow-ready"
    cancelled = procedure.status == ProcedureStatus.CANCELLED
    start = procedure.local_arrival
    end = (procedure.scheduled_start + dt.timedelta(hours=2)).astimezone(location.tz)
    name = procedure.patient.first_name
    found = [] if cancelled else alarms(plan, location=location, arrival=start, now=now, name=name)
    event = icalendar.Event.new(
        uid=uid,
        stamp=now.astimezone(dt.UTC),
        sequence=procedure.version,
        status=icalendar.STATUS.CANCELLED if cancelled else icalendar.STATUS.CONFIRMED,
        start=start,
        end=end,
        summary=(_("CANCELLED: %(name)s: hospital appointment") if cancelled else _("%(name)s: hospital appointment"))
        % {"name": procedure.patient.first_name},
        location=", ".join(part for part in (location.name, location.address) if part),
        description=_("Arrive at %(arrival)s. Phone: %(phone)s. Details: %(url)s")
        % {"arrival": fasting_display.clock(start), "phone": phones.display(location.phone), "url": url},
        url=url,
    )
    for alarm in found:
        valarm = icalendar.Alarm.new_display(description=alarm.text, trigger=alarm.at)
        # RFC 5545 requires VALUE=DATE-TIME on an absolute trigger; the library leaves it out.
        valarm["TRIGGER"].params["VALUE"] = "DATE-TIME"
        event.add_component(valarm)
    calendar = icalendar.Calendar.new(prodid=PRODID, calscale="GREGORIAN", method="PUBLISH", uid=uid)
    calendar.add_component(event)
    first = min([start, *(alarm.at for alarm in found)]).astimezone(location.tz)
    calendar.add_missing_timezones(
        first_date=first.date() - dt.timedelta(days=1), last_date=end.date() + dt.timedelta(days=1)
    )
    return calendar.to_ical().decode()


@dataclass(frozen=True)
class Alarm:
    at: dt.datetime
    text: str


def _in_quiet_hours(at: dt.datetime, location: Location) -> bool:
    start, end, wall = location.quiet_hours_start, location.quiet_hours_end, at.timetz().replace(tzinfo=None)
    if start == end:
        return False
    return start <= wall < end if start < end else wall >= start or wall < end


def _bedtime(at: dt.datetime, location: Location) -> dt.datetime:
    """The alarm before the quiet hours that contain `at` begin."""
    local = at.astimezone(location.tz)
    start = location.at(local.date(), location.quiet_hours_start)
    if start > local:
        start -= dt.timedelta(days=1)
    return (start - ALARM_LEAD).astimezone(dt.UTC)


def _things(group: list[Cutoff], last_word: str) -> str:
    return str(get_text_list([fasting_display.noun(cutoff.item) for cutoff in group], last_word))


def _soon_text(group: list[Cutoff], name: str) -> str:
    """In 30 minutes: the last chance for these, and what to do after."""
    when = {"time": fasting_display.clock(group[0].at), "name": name, "minutes": int(ALARM_LEAD.total_seconds() // 60)}
    first = _("In %(minutes)s minutes: last %(things)s for %(name)s.") % {**when, "things": _things(group, _("and"))}
    if any(cutoff.item == Item.CLEAR_FLUIDS for cutoff in group):
        then = _("After %(time)s, nothing to eat or drink.") % when
    else:
        then = _("After %(time)s, no %(things)s.") % {**when, "things": _things(group, _("or"))}
    return f"{first} {then}"


def _bedtime_text(groups: list[list[Cutoff]], name: str) -> str:
    parts = []
    for index, group in enumerate(groups):
        when = {"time": fasting_display.clock(group[0].at), "name": name, "things": _things(group, _("or"))}
        clear = any(cutoff.item == Item.CLEAR_FLUIDS for cutoff in group)
        if index == 0:
            text = (
                _("Before bed: nothing to eat or drink for %(name)s after %(time)s.")
                if clear
                else _("Before bed: no %(things)s for %(name)s after %(time)s.")
            )
        else:
            text = _("Nothing to eat or drink after %(time)s.") if clear else _("No %(things)s after %(time)s.")
        parts.append(text % when)
    return " ".join(parts)


def alarms(plan: FastingPlan, *, location: Location, arrival: dt.datetime, now: dt.datetime, name: str) -> list[Alarm]:
    """One alarm per moment the family can still act on, never in the night.

    Cut-offs at the same moment share an alarm. One that would ring in the
    clinic's quiet hours, and is not part of the morning before arrival, is
    folded into a single alarm before quiet hours begin that evening. Alarms
    whose time has already gone by when the file is made are left out.
    """
    out: list[Alarm] = []
    nights: dict[dt.datetime, list[list[Cutoff]]] = {}
    # Arithmetic and grouping in UTC: within one zone Python ignores the fold,
    # so on the night the clocks go back 1:30 CDT and 1:30 CST would merge.
    for at, grouped in groupby(plan.cutoffs, key=lambda cutoff: cutoff.at.astimezone(dt.UTC)):
        group = list(grouped)
        ring = at - ALARM_LEAD
        morning = arrival.astimezone(dt.UTC) - at <= MORNING_WINDOW
        if _in_quiet_hours(ring.astimezone(location.tz), location) and not morning:
            nights.setdefault(_bedtime(ring, location), []).append(group)
        else:
            out.append(Alarm(at=ring, text=_soon_text(group, name)))
    out += [Alarm(at=at, text=_bedtime_text(groups, name)) for at, groups in nights.items()]
    return sorted((alarm for alarm in out if alarm.at > now.astimezone(dt.UTC)), key=lambda alarm: alarm.at)
