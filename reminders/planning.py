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
AFTERCARE_CHECK_IN = dt.time(10, 0)
# Bookings are at most two years ahead; a start this close to the calendar's end
# can only be bad data, and the arithmetic around it would overflow.
LAST_PLANNED_DAY = dt.date.max - dt.timedelta(days=7)


@dataclass(frozen=True)
class Planned:
    kind: Kind
    due_at: dt.datetime
    valid_until: dt.datetime


def local_at(day: dt.date, clock: dt.time, location: Location) -> dt.datetime:
    """A wall-clock time at the clinic; a time skipped by DST moves to just after the jump."""
    return location.at(day, clock)


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

    Before the day: fasting reminders. Aftercare only once a nurse marks it
    done, from when it really ended: "we hope she is resting well" for a
    child still waiting (or never seen) is wrong, so no guess at the end.
    """
    if procedure.status == ProcedureStatus.COMPLETED and procedure.ended_at:
        return _aftercare(procedure, procedure.ended_at)
    if not procedure.is_active or procedure.scheduled_start.date() > LAST_PLANNED_DAY:
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
    return planned


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


# A notice about something within this long is sent even in quiet hours.
URGENT_WITHIN = dt.timedelta(hours=24)
# Notices of a change, a cancellation or a booking: each version gets its own.
NOTICES = (Kind.CONFIRMATION, Kind.CHANGED, Kind.DELAYED, Kind.CANCELLED)
# Kinds a guardian gets once on a channel: a later change never sends them
# again (the change notice carries the new times). Fasting ones are once per
# appointment day: moved to another day, the new day gets its own.
ONCE_PER_DAY = (Kind.FASTING_EVENING, Kind.FASTING_MORNING)
ONCE = (Kind.CONFIRMATION, Kind.AFTERCARE_EVENING, Kind.AFTERCARE_NEXT_DAY, *ONCE_PER_DAY)
# A reminder in these states may have reached the family.
HANDED_OVER = (Status.SENDING, Status.SENT, Status.DELIVERED)


def _event(kind: Kind, procedure: Procedure, now: dt.datetime, about: dt.datetime) -> Planned:
    # Booked / changed / cancelled notes are only useful before the appointment.
    until = max(procedure.scheduled_start, now + dt.timedelta(hours=1))
    # Quiet hours never hold back news about the next day; news about next week waits for the morning.
    due = now if about - now <= URGENT_WITHIN else after_quiet_hours(now, procedure.location)
    return Planned(kind, due, until)


def channels_for(guardian: Guardian) -> list[Channel]:
    channels = []
    if guardian.can_receive_sms:
        channels.append(Channel.SMS)
    if guardian.can_receive_email:
        channels.append(Channel.EMAIL)
    return channels


def _first_moment(procedure: Procedure) -> dt.datetime:
    plan = procedure.fasting_plan()
    return min([procedure.arrival_at, *(cutoff.at for cutoff in plan.cutoffs)])


def _once_key(guardian_id: int, channel: str, kind: str, day: dt.date | None) -> tuple:
    return (guardian_id, channel, kind, day if kind in ONCE_PER_DAY else None)


def sync_reminders(
    procedure: Procedure,
    *,
    event: Kind | None = None,
    about: dt.datetime | None = None,
    audience_changed: bool = False,
    now: dt.datetime | None = None,
) -> None:
    """Bring the procedure's reminder rows in line with its current version.

    Open reminders of older versions are cancelled; missing ones for the
    current version are created and planned ones moved to their new times;
    ones for channels a guardian turned off are cancelled; a kind a guardian
    already got on a channel is not planned again. `event` queues one notice
    per guardian and channel. Call inside the transaction that changed the
    procedure (procedures.services.change_path).
    """
    now = now or timezone.now()
    procedure = Procedure.objects.select_related("location", "patient").get(pk=procedure.pk)
    current = procedure.version
    day = procedure.local_start.date()
    rows = list(Reminder.objects.filter(procedure=procedure))
    stale = [r for r in rows if r.status in OPEN_STATUSES and r.procedure_version != current]
    # A date change whose notice was still waiting must not be lost under a "running late" one.
    unsent_changes = {(r.guardian_id, r.channel) for r in stale if r.kind == Kind.CHANGED}
    Reminder.objects.filter(pk__in=[r.pk for r in stale]).open().update(
        status=Status.CANCELLED, last_error="Replaced: the appointment changed.", updated_at=now
    )
    handed_over = {
        _once_key(r.guardian_id, r.channel, r.kind, r.appointment_day) for r in rows if r.status in HANDED_OVER
    }
    told = {(r.guardian_id, r.channel) for r in rows if r.kind in NOTICES and r.status not in (Status.CANCELLED,)}
    existing = {
        (r.guardian_id, r.channel, r.kind): r for r in rows if r.procedure_version == current and r.resend_of_id is None
    }

    wanted = [p for p in planned_reminders(procedure) if p.valid_until > now]
    notice = None
    if event is not None or audience_changed:
        notice = _event(event or Kind.CONFIRMATION, procedure, now, about or _first_moment(procedure))

    guardians = list(Guardian.objects.filter(patients=procedure.patient).select_related("user"))
    allowed = set()
    keep = set()
    new = []
    for guardian in guardians:
        for channel in channels_for(guardian):
            allowed.add((guardian.pk, channel))
            items = list(wanted)
            if event is not None:
                kind = Kind.CHANGED if event == Kind.DELAYED and (guardian.pk, channel) in unsent_changes else event
                items.append(Planned(kind, notice.due_at, notice.valid_until))
            elif audience_changed and (guardian.pk, channel) not in told:
                items.append(notice)
            if items and items[-1].kind in NOTICES and items[-1].due_at <= now:
                # The notice goes now with the whole picture: a fasting reminder already due would repeat it.
                items = [p for p in items if p.kind not in ONCE_PER_DAY or p.due_at > now]
            keep.update((guardian.pk, channel, item.kind) for item in items)
            for item in items:
                if item.kind in ONCE and _once_key(guardian.pk, channel, item.kind, day) in handed_over:
                    continue
                found = existing.get((guardian.pk, channel, item.kind))
                if found is None:
                    new.append(
                        Reminder(
                            procedure=procedure,
                            guardian=guardian,
                            channel=channel,
                            kind=item.kind,
                            due_at=max(item.due_at, now),
                            valid_until=item.valid_until,
                            procedure_version=current,
                            appointment_day=day,
                            created_at=now,
                        )
                    )
                elif found.status == Status.CANCELLED or (
                    found.status == Status.SCHEDULED
                    and found.attempts == 0
                    and (found.due_at, found.valid_until) != (max(item.due_at, now), item.valid_until)
                    and item.kind not in NOTICES
                ):
                    # Turned back on (START, a channel ticked again), or the clinic's
                    # message times moved: the same row plans again.
                    Reminder.objects.filter(pk=found.pk, status=found.status).update(
                        status=Status.SCHEDULED,
                        due_at=max(item.due_at, now),
                        valid_until=item.valid_until,
                        last_error="",
                        updated_at=now,
                    )
    Reminder.objects.bulk_create(new, ignore_conflicts=True)
    # Planned kinds no longer wanted: past their use, or carried by a notice going now.
    for reminder in Reminder.objects.filter(procedure=procedure).open():
        if (reminder.guardian_id, reminder.channel) not in allowed:
            error = "The guardian turned this channel off."
        elif reminder.kind not in NOTICES and (reminder.guardian_id, reminder.channel, reminder.kind) not in keep:
            error = "Not needed any more: the family has these times already."
        else:
            continue
        Reminder.objects.filter(pk=reminder.pk).open().update(status=Status.CANCELLED, last_error=error, updated_at=now)


def sync_for_guardian(guardian: Guardian) -> None:
    """After a change of channels or consent: re-plan each active procedure of their children."""
    for procedure in Procedure.objects.filter(patient__guardians=guardian).active():
        sync_reminders(procedure)


# How long an account or care-team email is worth sending.
ACCOUNT_EMAIL_USEFUL = {
    Kind.INVITATION: dt.timedelta(hours=72),
    Kind.CONTACT_CHANGED: dt.timedelta(days=7),
    Kind.TEAM_ALERT: dt.timedelta(hours=24),
    # A reset is wanted now; a link or code that comes much later only confuses.
    Kind.PASSWORD_RESET: dt.timedelta(hours=1),
    Kind.PASSWORD_RESET_CODE: dt.timedelta(minutes=15),
    Kind.PASSWORD_CHANGED: dt.timedelta(days=7),
}


def queue_email(
    kind: Kind,
    *,
    guardian: Guardian | None = None,
    address: str = "",
    about_id: int | None = None,
    channel: Channel = Channel.EMAIL,
) -> Reminder:
    """An account or care-team email (or, with `channel`, a text), on the same durable path as reminders.

    The row is written in the caller's transaction: it goes (and is retried)
    once that commits, and never if it rolls back.
    """
    now = timezone.now()
    return Reminder.objects.create(
        guardian=guardian,
        channel=channel,
        kind=kind,
        address=address,
        about_id=about_id,
        due_at=now,
        valid_until=now + ACCOUNT_EMAIL_USEFUL[kind],
        created_at=now,
    )
