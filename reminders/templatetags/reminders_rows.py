"""The dashboard's delivery lines, each made in one pass: the same HTML their templates gave."""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext

from portal import links
from procedures.models import Guardian

from ..models import Reminder

register = template.Library()


@register.simple_tag
def problem_line(reminder: Reminder, since: dt.datetime | None) -> SafeString:
    """A reminder that did not arrive: new since the last look or not, whose, which, to whom, what happened."""
    new = ""
    if since and reminder.updated_at > since:
        new = format_html('<span class="badge text-bg-warning">{}</span> ', gettext("New"))
    return format_html(
        '<li class="list-group-item small">\n      {}<a href="{}">{}</a>\n      · {} · {} {} {}\n'
        '      · <span class="badge text-bg-danger">{}</span> {}\n    </li>',
        new,
        links.id_url("nurse:procedure_detail", reminder.procedure_id),
        reminder.procedure.patient.full_name,
        reminder.get_kind_display(),
        reminder.get_channel_display(),
        gettext("to"),
        reminder.guardian.user.full_name,
        reminder.get_status_display(),
        reminder.last_error,
    )


@register.simple_tag
def unreachable_line(guardian: Guardian) -> SafeString:
    """A family we cannot text or email, and why."""
    opted_out = ""
    if guardian.sms_opted_out_at:
        opted_out = format_html('<span class="badge text-bg-warning">{}</span>', gettext("Opted out of texts"))
    unreachable = ""
    if not guardian.reachable:
        unreachable = format_html('<span class="badge text-bg-danger">{}</span>', gettext("No way to reach them"))
    return format_html(
        '<li class="list-group-item small"><a href="{}">{}</a>\n      {}\n      {}</li>',
        links.id_url("nurse:guardian_detail", guardian.pk),
        guardian.user.full_name,
        opted_out,
        unreachable,
    )
