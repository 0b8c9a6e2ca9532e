"""The words of each reminder, per kind, channel and language.

They carry the least health information that works: the child's first name,
times, the clinic's name and phone, and a link. Texts never name the
procedure or a diagnosis, always name the sender and say how to stop.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from procedures.models import Guardian, Procedure


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
    """The message of one reminder, as it reads at `now`, from the procedure's current state."""
    message = compose(
        kind=reminder.kind,
        channel=reminder.channel,
        procedure=reminder.procedure,
        guardian=reminder.guardian,
        now=now or timezone.now(),
    )
    return Message(message.channel, message.to, message.subject, message.body, reminder.pk, message.at)


def _picture(procedure: Procedure, *, name: str, now: datetime) -> dict[str, object]:
    """The whole current picture: day, arrival and place, each cut-off (passed ones said plainly)."""
    location = procedure.location
    plan = procedure.fasting_plan()
    lines = fasting_display.describe_plan(plan, now=now, name=name, phone=location.phone)
    clear = plan.cutoff_for(Item.CLEAR_FLUIDS)
    return {
        "date": date_format(procedure.local_start, "DATE_FORMAT"),
        "arrival": fasting_display.clock(procedure.local_arrival),
        "arrival_passed": procedure.arrival_at <= now,
        "place": ", ".join(part for part in (location.name, location.address) if part),
        "start": fasting_display.clock(procedure.local_start),
        "fasting": plan.required,
        "lines": lines,
        "clear_until": fasting_display.clock(clear.at) if clear and clear.at > now else "",
        "clear_explained": fasting_display.CLEAR_FLUIDS_EXPLAINED
        if any(line.item == Item.CLEAR_FLUIDS and not line.passed for line in lines)
        else "",
    }


def compose(*, kind: str, channel: str, procedure: Procedure, guardian: Guardian | None, now: datetime) -> Message:
    """A message of `kind` about `procedure` as it stands, in the guardian's language.

    Also used unsaved, to show a nurse what a change will tell the family before it is saved.
    """
    location = procedure.location
    name = procedure.patient.first_name
    language = guardian.user.language if guardian else translation.get_language()
    with translation.override(language or "en"):
        context = {
            "channel": channel,
            "name": name,
            "clinic": location.name,
            "phone": phone_display(location.phone),
            "link": settings.SITE_URL + reverse("family:procedure", args=[procedure.pk]),
            "check_in_link": settings.SITE_URL + reverse("family:check_in", args=[procedure.pk]),
            "late_minutes": abs(procedure.running_late_minutes),
            "earlier": procedure.running_late_minutes < 0,
            **_picture(procedure, name=name, now=now),
        }
        body = render_to_string(f"reminders/messages/{kind}.txt", context).strip()
        body = "\n".join(line.strip() for line in body.splitlines() if line.strip())
        to_phone = guardian.mobile_number if guardian else ""
        if channel == Channel.SMS:
            stop = _("Reply STOP to stop texts.")
            return Message(Channel.SMS, to_phone, "", f"{body}\n{stop}", None, now)
        subject = _subject(kind, name)
        footer = _("You get these emails from %(clinic)s through Marrow Ready. Change how we reach you: %(link)s") % {
            "clinic": location.name,
            "link": settings.SITE_URL + reverse("family:preferences"),
        }
        to_email = guardian.user.email if guardian else ""
        return Message(Channel.EMAIL, to_email, subject, f"{body}\n\n{footer}", None, now)
