"""Which reminders a procedure needs, and keeping the rows in step with it.

`sync_reminders` runs inside the transaction that schedules, changes or
cancels a procedure, so a reminder with stale times can never be left behind.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from procedures.fasting import Item
from procedures.models import FastingPolicy, Guardian, Location, Procedure, ProcedureStatus

from .models import OPEN_STATUSES, Channel, Kind, Reminder, Status

# Sent whenever they help, even inside quiet hours.
TIME_CRITICAL = {Kind.CHANGED, Kind.CANCELLED, Kind.DELAYED, Kind.FASTING_EVENING, Kind.FASTING_MORNING}
MORNING_LEAD = dt.timedelta(hours=1)
EVENING_LEAD = dt.timedelta(hours=1)
EXPECTED_LENGTH = dt.timedelta(hours=2)
AFTERCARE_CHECK_IN = dt.time(10, 0)


@dataclass(frozen=True)
class Planned:
    kind: Kind
    due_at: dt.datetime
    valid_until: dt.datetime


def local_at(day: dt.date, clock: dt.time, location: Location) -> dt.datetime:
    """A wall-clock time at the clinic; a time skipped by DST moves to just after the jump."""
    naive = dt.datetime.combine(day, clock)
    aware = naive.replace(tzinfo=location.tz)
    return aware.astimezone(dt.UTC).astimezone(location.tz)


def after_quiet_hours(moment: dt.datetime, location: Location) -> dt.datetime:
    """Hold a non-urgent message until the clinic's quiet hours end."""
    local = moment.astimezone(location.tz)
    start, end = location.quiet_hours_start, location.quiet_hours_end
    clock = local.time()
    if start == end:
        return moment
    if start > end:  # e.g. 21:00-07:00, across midnight
        if clock >= start:
            return local_at(local.date() + dt.timedelta(days=1), end, location)
        if clock < end:
            return local_at(local.date(), end, location)
    elif start <= clock < end:
        return local_at(local.date(), end, location)
    return moment


def _hold(kind: Kind, moment: dt.datetime, location: Location) -> dt.datetime:
    return moment if kind in TIME_CRITICAL else after_quiet_hours(moment, location)


def planned_reminders(procedure: Procedure, *, policy: FastingPolicy | None = None) -> list[Planned]:
    """The dated reminders of a procedure's current version.

    Before the day: fasting reminders, and aftercare from the expected end.
    Once a nurse marks it done: aftercare from when it really ended.
    """
    if procedure.status == ProcedureStatus.COMPLETED and procedure.ended_at:
        return _aftercare(procedure, procedure.ended_at)
    if not procedure.is_active:
        return []
    location = procedure.location
    start_day = procedure.local_start.date()
    planned: list[Planned] = []

    plan = procedure.fasting_plan(policy)
    if plan.required and plan.cutoffs:
        first = plan.cutoffs[0].at
        evening = local_at(start_day - dt.timedelta(days=1), location.evening_reminder_time, location)
        planned.append(Planned(Kind.FASTING_EVENING, min(evening, first - EVENING_LEAD), first))
        last = plan.cutoff_for(Item.CLEAR_FLUIDS) or plan.cutoffs[-1]
        morning = last.at - MORNING_LEAD
        if morning > planned[0].due_at:
            planned.append(Planned(Kind.FASTING_MORNING, morning, last.at))
    return planned + _aftercare(procedure, procedure.scheduled_start + EXPECTED_LENGTH)


def _aftercare(procedure: Procedure, ended: dt.datetime) -> list[Planned]:
    location = procedure.location
    end_day = ended.astimezone(location.tz).date()
    evening = max(local_at(end_day, location.evening_reminder_time, location), ended + dt.timedelta(hours=1))
    evening = _hold(Kind.AFTERCARE_EVENING, evening, location)
    next_day = _hold(
        Kind.AFTERCARE_NEXT_DAY,
        local_at(end_day + dt.timedelta(days=1), AFTERCARE_CHECK_IN, location),
        location,
    )
    return [
        Planned(Kind.AFTERCARE_EVENING, evening, evening + dt.timedelta(hours=12)),
        Planned(Kind.AFTERCARE_NEXT_DAY, next_day, next_day + dt.timedelta(hours=24)),
    ]


def _event(kind: Kind, procedure: Procedure, now: dt.datetime) -> Planned:
    # Booked / changed / cancelled notes are only useful before the appointment.
    until = max(procedure.scheduled_start, now + dt.timedelta(hours=1))
    return Planned(kind, _hold(kind, now, procedure.location), until)


def channels_for(guardian: Guardian) -> list[Channel]:
    channels = []
    if guardian.can_receive_sms:
        channels.append(Channel.SMS)
    if guardian.can_receive_email:
        channels.append(Channel.EMAIL)
    return channels


def sync_reminders(procedure: Procedure, *, event: Kind | None = None, now: dt.datetime | None = None) -> None:
    """Bring the procedure's reminder rows in line with its current version.

    Open reminders of older versions are cancelled; missing ones for the
    current version are created; ones for channels a guardian turned off are
    cancelled. Call inside the transaction that changed the procedure.
    """
    now = now or timezone.now()
    procedure = Procedure.objects.select_related("location", "patient").get(pk=procedure.pk)
    current = procedure.version
    Reminder.objects.filter(procedure=procedure, status__in=OPEN_STATUSES).exclude(procedure_version=current).update(
        status=Status.CANCELLED, last_error="Replaced: the appointment changed.", updated_at=now
    )

    wanted = planned_reminders(procedure)
    if event is not None:
        wanted.append(_event(event, procedure, now))
    wanted = [p for p in wanted if p.valid_until > now]

    guardians = list(Guardian.objects.filter(patients=procedure.patient).select_related("user"))
    existing = {
        (r.guardian_id, r.channel, r.kind): r
        for r in Reminder.objects.filter(procedure=procedure, procedure_version=current, resend_of__isnull=True)
    }
    allowed = set()
    new = []
    for guardian in guardians:
        for channel in channels_for(guardian):
            allowed.add((guardian.pk, channel))
            for item in wanted:
                found = existing.get((guardian.pk, channel, item.kind))
                if found is not None:
                    if found.status == Status.CANCELLED:
                        # Turned back on (START, or a channel ticked again): the same row plans again.
                        Reminder.objects.filter(pk=found.pk, status=Status.CANCELLED).update(
                            status=Status.SCHEDULED,
                            due_at=max(item.due_at, now),
                            valid_until=item.valid_until,
                            last_error="",
                            updated_at=now,
                        )
                    continue
                new.append(
                    Reminder(
                        procedure=procedure,
                        guardian=guardian,
                        channel=channel,
                        kind=item.kind,
                        due_at=max(item.due_at, now),
                        valid_until=item.valid_until,
                        procedure_version=current,
                        created_at=now,
                    )
                )
    Reminder.objects.bulk_create(new, ignore_conflicts=True)
    for reminder in Reminder.objects.filter(procedure=procedure, status__in=OPEN_STATUSES):
        if (reminder.guardian_id, reminder.channel) not in allowed:
            Reminder.objects.filter(pk=reminder.pk, status__in=OPEN_STATUSES).update(
                status=Status.CANCELLED, last_error="The guardian turned this channel off.", updated_at=now
            )


def sync_for_guardian(guardian: Guardian) -> None:
    """After a change of channels or consent: re-plan each active procedure of their children."""
    for procedure in Procedure.objects.filter(patient__guardians=guardian).active():
        sync_reminders(procedure)
