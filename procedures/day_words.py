"""Day words ("today", "tonight", "tomorrow", a weekday) from the real dates, at the moment of writing.

A message is read when it is written, so its day words are worked out from
that moment in the clinic's zone, never assumed ("tomorrow" for a 00:30
procedure is wrong the evening before: its cut-offs all fall that same day).
Clock times come from `fasting_display.clock` (the language's format; the zone
on the night an hour happens twice); noon and midnight are said as words, and
midnight always with the night it ends, since "midnight Friday" is read both ways.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from . import fasting_display

# Up to this hour a time still belongs to the night before, as a family lives it:
# "12:30 AM" the evening before is "tonight", with the new day named as well.
NIGHT_ENDS = time(5, 0)
# From this hour a time of the day is "tonight".
EVENING_STARTS = time(18, 0)
# Further ahead than this, a weekday alone is not enough: the date goes with it.
WEEK = 7


def _clock(at: datetime) -> str:
    return fasting_display.clock(at)  # the one place clock times are made


def _at(at: datetime) -> str:
    """ "at 6:30 PM" / "at noon", so that each language can say "at" as it must ("a la 1:30", "a las 2:30")."""
    if at.time() == time(12, 0):
        return _("at noon")
    if at.hour in (1, 13):
        return pgettext("one o'clock", "at %(time)s") % {"time": _clock(at)}
    return _("at %(time)s") % {"time": _clock(at)}


def _weekday(at: datetime) -> str:
    return fasting_display.weekday(at)


def _date(at: datetime) -> str:
    return fasting_display.formatted(at, "DATE_FORMAT")


def local_now(now: datetime, zone: object) -> datetime:
    return now.astimezone(UTC).astimezone(zone)  # type: ignore[arg-type]


def days_apart(at: datetime, now: datetime) -> int:
    """Calendar days from the day of `now` to the day of `at`, both in the zone of `at`."""
    return (at.date() - local_now(now, at.tzinfo).date()).days


def when(at: datetime, *, now: datetime | None) -> str:
    """The moment `at` (aware, in the clinic's zone) as words true for someone reading at `now`.

    "today at 6:30 PM", "tonight at 11:00 PM", "tomorrow at 7:00 AM", "Friday at 7:00 AM",
    "at midnight tonight", "tomorrow at noon", "tonight at 12:30 AM (early Friday)". With no
    `now`, only words that hold whenever in the week before it is read: a weekday and its time.
    """
    if now is None:
        return _on_weekday(at)
    days = days_apart(at, now)
    reader = local_now(now, at.tzinfo)
    early = at.time() < NIGHT_ENDS
    values = {"at": _at(at), "weekday": _weekday(at)}
    if at.time() == time(0, 0):
        return _midnight(at, days)
    if days == 0:
        if early:
            # Read before it, this is the night the family is in; read after it, the night just gone.
            if at.astimezone(UTC) > now.astimezone(UTC):
                return _("tonight %(at)s (early %(weekday)s)") % values
            return _("last night %(at)s (early %(weekday)s)") % values
        if at.time() >= EVENING_STARTS:
            return _("tonight %(at)s") % values
        return _("today %(at)s") % values
    if days == 1:
        if early and reader.time() >= NIGHT_ENDS:
            return _("tonight %(at)s (early %(weekday)s)") % values
        return _("tomorrow %(at)s") % values
    if days == -1:
        return _("yesterday %(at)s") % values
    if 1 < days < WEEK:
        return _on_weekday(at)
    return _absolute(at)


def _on_weekday(at: datetime) -> str:
    """ "Friday at 7:00 AM": true whenever it is read within the week before."""
    if at.time() == time(0, 0):
        return _("at midnight on %(night)s night (the start of %(weekday)s)") % {
            "night": _weekday(at - timedelta(days=1)),
            "weekday": _weekday(at),
        }
    values = {"at": _at(at), "weekday": _weekday(at)}
    if at.time() < NIGHT_ENDS:
        return _("%(weekday)s %(at)s (early morning)") % values
    return _("%(weekday)s %(at)s") % values


def _midnight(at: datetime, days: int) -> str:
    """Midnight is the end of one day and the start of the next: say which night."""
    if days == 1:
        return _("at midnight tonight")
    if days == 0:
        return _("at midnight last night")
    if days == 2:
        return _("at midnight tomorrow night (the start of %(weekday)s)") % {"weekday": _weekday(at)}
    if 0 < days < WEEK:
        return _on_weekday(at)
    return _("at midnight at the start of %(date)s") % {"date": _date(at)}


def _absolute(at: datetime) -> str:
    """Words that stay true whenever they are read: the weekday (or the date) and the time."""
    if at.time() == time(0, 0):
        return _("at midnight at the start of %(date)s") % {"date": _date(at)}
    values = {"at": _at(at), "date": _date(at)}
    if at.time() < NIGHT_ENDS:
        return _("%(date)s %(at)s (early morning)") % values
    return _("%(date)s %(at)s") % values
