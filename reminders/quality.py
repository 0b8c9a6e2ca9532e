"""Delivery on the clinic quality page (procedures.quality): messages by channel and what became of them."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, F, Q
from django.utils.translation import gettext as _

from procedures.models import Location
from procedures.quality import Chart, Column

from .models import Channel, Reminder, Status

# What happened to a message, as the page counts it: sent and delivered are both "reached the provider".
SHOWN = {
    "sent": (Status.SENT,),
    "delivered": (Status.DELIVERED,),
    "failed": (Status.FAILED,),
    "unknown": (Status.UNKNOWN,),
}


def delivery_chart(location: Location, start: dt.datetime, end: dt.datetime) -> Chart:
    """One row a channel: the family's messages about this clinic's procedures in the period, one query.

    Lateness: the median minutes from when a message was due to when it went, for those that went.
    """
    counts = (
        Reminder.objects.filter(
            procedure__location=location, procedure__scheduled_start__gte=start, procedure__scheduled_start__lt=end
        )
        .values("channel")
        .annotate(
            **{key: Count("pk", filter=Q(status__in=statuses)) for key, statuses in SHOWN.items()},
            late=Count("pk", filter=Q(sent_at__gt=F("due_at") + dt.timedelta(minutes=5))),
        )
        .order_by("channel")
    )
    found = {row["channel"]: row for row in counts}
    rows = []
    for channel in Channel:
        row = found.get(channel.value, {})
        rows.append((str(channel.label), [row.get(key, 0) for key in (*SHOWN, "late")]))
    return Chart(
        key="delivery",
        title=_("Messages to families, by channel"),
        row_label=_("Channel"),
        columns=[
            Column(_("Sent")),
            Column(_("Delivered")),
            Column(_("Failed")),
            Column(_("Outcome unknown")),
            Column(_("Sent more than 5 minutes late"), drawn=False),
        ],
        rows=rows,
    )
