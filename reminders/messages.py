"""The words of each reminder, per kind, channel and language.

They carry the least health information that works: the child's first name,
times, the clinic's name and phone, and a link. Texts never name the
procedure or a diagnosis, always name the sender and say how to stop.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from procedures import fasting_display
from procedures.fasting import Item
from procedures.phones import display as phone_display

from .channels import Message
from .models import Channel, Kind, Reminder


def _subject(kind: str, name: str) -> str:
    return {
        Kind.CONFIRMATION: _("%(name)s's appointment is booked"),
        Kind.CHANGED: _("%(name)s's appointment has changed"),
        Kind.CANCELLED: _("%(name)s's appointment is cancelled"),
        Kind.DELAYED: _("%(name)s's procedure time has changed today"),
        Kind.FASTING_EVENING: _("Tomorrow: when %(name)s must stop eating and drinking"),
        Kind.FASTING_MORNING: _("Today: %(name)s's last drinks and arrival time"),
        Kind.AFTERCARE_EVENING: _("Caring for %(name)s tonight"),
        Kind.AFTERCARE_NEXT_DAY: _("How is %(name)s today?"),
    }[kind] % {"name": name}


def render(reminder: Reminder, *, now: datetime | None = None) -> Message:
    procedure = reminder.procedure
    guardian = reminder.guardian
    location = procedure.location
    with translation.override(guardian.user.language or "en"):
        plan = procedure.fasting_plan()
        now = now or timezone.now()
        if reminder.kind == Kind.FASTING_MORNING:
            cutoffs = [c for c in plan.cutoffs if c.at > now] or list(plan.cutoffs[-1:])
        else:
            cutoffs = list(plan.cutoffs)
        clear = plan.cutoff_for(Item.CLEAR_FLUIDS)
        context = {
            "channel": reminder.channel,
            "name": procedure.patient.first_name,
            "clinic": location.name,
            "phone": phone_display(location.phone),
            "date": date_format(procedure.local_start, "DATE_FORMAT"),
            "arrival": fasting_display.clock(procedure.local_arrival),
            "fasting": plan.required,
            "lines": [fasting_display.describe(c) for c in cutoffs],
            "clear_until": fasting_display.clock(clear.at) if clear else "",
            "link": settings.SITE_URL + reverse("family:procedure", args=[procedure.pk]),
            "check_in_link": settings.SITE_URL + reverse("family:check_in", args=[procedure.pk]),
            "start": fasting_display.clock(procedure.local_start),
            "late_minutes": abs(procedure.running_late_minutes),
            "earlier": procedure.running_late_minutes < 0,
        }
        body = render_to_string(f"reminders/messages/{reminder.kind}.txt", context).strip()
        body = "\n".join(line.strip() for line in body.splitlines() if line.strip())
        if reminder.channel == Channel.SMS:
            stop = _("Reply STOP to stop texts.")
            body = f"{body}\n{stop}"
            return Message(Channel.SMS, guardian.mobile_number, "", body, reminder.pk, now)
        subject = _subject(reminder.kind, procedure.patient.first_name)
        footer = _("You get these emails from %(clinic)s through Marrow Ready. Change how we reach you: %(link)s") % {
            "clinic": location.name,
            "link": settings.SITE_URL + reverse("family:preferences"),
        }
        return Message(Channel.EMAIL, guardian.user.email, subject, f"{body}\n\n{footer}", reminder.pk, now)
