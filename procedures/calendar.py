"""An iCalendar (.ics) file for one appointment, with alarms at the fasting cut-offs."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django.utils.translation import gettext as _

from . import fasting_display
from .models import Procedure

PRODID = "-//Marrow Ready//Appointment//EN"


def _escape(text: str) -> str:
    return (
        text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\r\n", "\\n").replace("\n", "\\n")
    )


def _utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def _fold(line: str) -> list[str]:
    """RFC 5545: lines longer than 75 octets continue on the next line after a space."""
    out, current = [], ""
    for char in line:
        if len((current + char).encode()) > 75:
            out.append(current)
            current = " " + char
        else:
            current += char
    out.append(current)
    return out


def appointment_ics(procedure: Procedure, url: str) -> str:
    """The event starts at the arrival time; alarms fire at each cut-off.

    The summary carries the child's first name only: calendars are often
    shared or synced to other services.
    """
    plan = procedure.fasting_plan()
    location = procedure.location
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:procedure-{procedure.pk}-v{procedure.version}@marrow-ready",
        f"DTSTAMP:{_utc(timezone.now())}",
        f"SEQUENCE:{procedure.version}",
        f"DTSTART:{_utc(procedure.arrival_at)}",
        f"DTEND:{_utc(procedure.scheduled_start + dt.timedelta(hours=2))}",
        "SUMMARY:" + _escape(_("%(name)s: hospital appointment") % {"name": procedure.patient.first_name}),
        "LOCATION:" + _escape(", ".join(part for part in (location.name, location.address) if part)),
        "DESCRIPTION:"
        + _escape(
            _("Arrive at %(arrival)s. Phone: %(phone)s. Details: %(url)s")
            % {
                "arrival": fasting_display.clock(procedure.local_arrival),
                "phone": location.phone,
                "url": url,
            }
        ),
        f"URL:{url}",
    ]
    for cutoff in plan.cutoffs:
        lines += [
            "BEGIN:VALARM",
            "ACTION:DISPLAY",
            f"TRIGGER;VALUE=DATE-TIME:{_utc(cutoff.at)}",
            "DESCRIPTION:" + _escape(fasting_display.describe(cutoff).sentence),
            "END:VALARM",
        ]
    lines += ["END:VEVENT", "END:VCALENDAR"]
    return "\r\n".join(folded for line in lines for folded in _fold(line)) + "\r\n"
