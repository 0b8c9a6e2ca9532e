"""Reads the day words of a message back and says which are false at the moment it was written.

Written apart from procedures.day_words, from what the words mean: "today" is the
reader's date, "tomorrow" the next, "tonight" this evening or the small hours after
it, a weekday within the coming week, "(early Friday)" a time before dawn on a Friday.
Every phrase must name one of the moments the message is about (arrival, start, a
cut-off) at its clock time; a day word outside any such phrase is false on its face
("good morning" at 10 PM, a subject's "Tomorrow:").
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

WEEKDAYS = {
    "en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    "es": ["lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"],
}
MONTHS = {
    "en": [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    "es": [
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ],
}
CLOCK = r"\d{1,2}:\d{2} [AP]M(?: [A-Z]{3,4})?"
# Before this hour a time is "early" (the small hours); from this one on, "tonight" fits.
DAWN = dt.time(6, 0)
EVENING = dt.time(17, 0)


def _alt(words: list[str]) -> str:
    return "(?:" + "|".join(map(re.escape, words)) + ")"


def _patterns(language: str) -> list[tuple[str, re.Pattern[str]]]:
    wd = _alt(WEEKDAYS[language])
    month = _alt(MONTHS[language])
    if language == "en":
        date = rf"(?P<dwd>{wd}), (?P<month>{month}) (?P<dom>\d{{1,2}}), (?P<year>\d{{4}})"
        at = rf"at (?:(?P<noon>noon)|(?P<clock>{CLOCK}))"
        return [
            (
                "day",
                re.compile(
                    rf"(?P<rel>today|tonight|tomorrow|yesterday|last night|(?P<wd>{wd})|{date}) {at}"
                    rf"(?: \((?:early (?P<early_wd>{wd})|(?P<early>early morning))\))?"
                ),
            ),
            ("midnight_rel", re.compile(r"at midnight (?P<rel>tonight|last night)")),
            ("midnight_2", re.compile(rf"at midnight tomorrow night \(the start of (?P<wd>{wd})\)")),
            ("midnight_wd", re.compile(rf"at midnight on (?P<night>{wd}) night \(the start of (?P<wd>{wd})\)")),
            ("midnight_date", re.compile(rf"at midnight at the start of {date}")),
        ]
    date = rf"(?P<dwd>{wd}) (?P<dom>\d{{1,2}}) de (?P<month>{month}) de (?P<year>\d{{4}})"
    at = rf"a (?:(?P<noon>mediodía)|las? (?P<clock>{CLOCK}))"
    return [
        (
            "day",
            re.compile(
                rf"(?P<rel>hoy|esta noche|mañana|ayer|anoche|el (?P<wd>{wd})|el {date}) {at}"
                rf"(?: \(madrugada del (?P<early_wd>{wd})\)|(?P<early> de la madrugada))?"
            ),
        ),
        ("midnight_rel", re.compile(r"(?P<rel>esta noche|anoche) a medianoche")),
        ("midnight_2", re.compile(rf"mañana a medianoche \(al empezar el (?P<wd>{wd})\)")),
        ("midnight_wd", re.compile(rf"a medianoche de la noche del (?P<night>{wd}) al (?P<wd>{wd})")),
        ("midnight_date", re.compile(rf"a medianoche, al empezar el {date}")),
    ]


# Day words that may only stand inside a phrase read above.
BARE = {
    "en": re.compile(
        r"\b(today|tonight|tomorrow|yesterday|last night|this morning|this evening|good morning|good evening)\b",
        re.IGNORECASE,
    ),
    "es": re.compile(r"\b(hoy|esta noche|mañana|ayer|anoche|esta mañana|buenos días|buenas noches)\b", re.IGNORECASE),
}
ES_REL = {"hoy": "today", "esta noche": "tonight", "mañana": "tomorrow", "ayer": "yesterday", "anoche": "last night"}


@dataclass(frozen=True)
class Claim:
    text: str
    span: tuple[int, int]


def _weekday(day: dt.date, language: str) -> str:
    return WEEKDAYS[language][day.weekday()]


def _clock_is(text: str, moment: dt.datetime) -> bool:
    hour, minute, half = re.fullmatch(r"(\d{1,2}):(\d{2}) ([AP])M(?: [A-Z]{3,4})?", text).groups()
    said = dt.time(int(hour) % 12 + (12 if half == "P" else 0), int(minute))
    return said == moment.time().replace(second=0, microsecond=0)


def _holds(kind: str, found: re.Match[str], moment: dt.datetime, now: dt.datetime, language: str) -> bool:
    today = now.date()
    days = (moment.date() - today).days
    groups = found.groupdict()
    if kind == "day":
        if groups.get("noon"):
            if moment.time() != dt.time(12, 0):
                return False
        elif not _clock_is(groups["clock"], moment):
            return False
        if groups.get("early_wd") and (
            _weekday(moment.date(), language) != groups["early_wd"] or moment.time() >= DAWN
        ):
            return False
        if groups.get("early") and moment.time() >= DAWN:
            return False
        if groups.get("dwd"):
            month = MONTHS[language].index(groups["month"]) + 1
            named = dt.date(int(groups["year"]), month, int(groups["dom"]))
            return named == moment.date() and _weekday(named, language) == groups["dwd"]
        if groups.get("wd"):
            return _weekday(moment.date(), language) == groups["wd"] and 0 <= days < 7
        rel = groups["rel"]
        rel = ES_REL.get(rel, rel)
        return _relative(rel, moment, now, days)
    if moment.time() != dt.time(0, 0):
        return False
    if kind == "midnight_rel":
        rel = ES_REL.get(groups["rel"], groups["rel"])
        return days == (1 if rel == "tonight" else 0)
    if kind == "midnight_2":
        return days == 2 and _weekday(moment.date(), language) == groups["wd"]
    if kind == "midnight_wd":
        before = moment.date() - dt.timedelta(days=1)
        return (
            0 < days <= 7
            and _weekday(moment.date(), language) == groups["wd"]
            and _weekday(before, language) == groups["night"]
        )
    month = MONTHS[language].index(groups["month"]) + 1
    return dt.date(int(groups["year"]), month, int(groups["dom"])) == moment.date()


def _relative(rel: str, moment: dt.datetime, now: dt.datetime, days: int) -> bool:
    if rel == "today":
        return days == 0
    if rel == "tomorrow":
        return days == 1
    if rel == "yesterday":
        return days == -1
    if rel == "last night":
        return (days == 0 and moment.time() < DAWN and moment <= now) or (days == -1 and moment.time() >= EVENING)
    # "tonight": this evening, or the small hours of the night ahead (or the one the reader is in).
    this_evening = days == 0 and moment.time() >= EVENING
    small_hours = (days == 1 and moment.time() < DAWN) or (days == 0 and moment.time() < DAWN and moment > now)
    return this_evening or small_hours


# How a text message (reminders.texts) names days: a clock with the weekday after it when it is not on the
# appointment's day ("11:30 PM Wednesday", "11:30 PM del miércoles"), the appointment's date without a year
# ("Monday, June 8", "lunes 8 de junio"), and otherwise a bare clock.
def _text_patterns(language: str) -> list[tuple[str, re.Pattern[str]]]:
    wd = _alt(WEEKDAYS[language])
    month = _alt(MONTHS[language])
    short_wd = _alt([name[:3] for name in WEEKDAYS[language]])
    if language == "en":
        short_month = _alt([name[:3] for name in MONTHS[language]])
        return [
            (
                "text_short",
                re.compile(rf"(?P<clock>{CLOCK}) (?P<swd>{short_wd}), (?P<smonth>{short_month}) (?P<dom>\d{{1,2}})"),
            ),
            ("text_day", re.compile(rf"(?P<clock>{CLOCK}) (?P<wd>{wd})\b")),
            ("text_date", re.compile(rf"(?P<dwd>{wd}), (?P<month>{month}) (?P<dom>\d{{1,2}})\b")),
        ]
    return [
        ("text_short", re.compile(rf"(?P<clock>{CLOCK}) (?P<swd>{short_wd}) (?P<dom>\d{{1,2}}) de (?P<month>{month})")),
        ("text_day", re.compile(rf"(?P<clock>{CLOCK}) del (?P<wd>{wd})\b")),
        ("text_date", re.compile(rf"(?P<dwd>{wd}) (?P<dom>\d{{1,2}}) de (?P<month>{month})\b")),
    ]


def _text_holds(kind: str, found: re.Match[str], moment: dt.datetime, now: dt.datetime, language: str) -> bool:
    groups = found.groupdict()
    if kind == "text_short":  # "11:00 PM Tue, Jun 9", "11:00 PM mar 9 de junio"
        names = MONTHS[language]
        month = [name[:3] for name in names].index(groups["smonth"]) + 1 if groups.get("smonth") else None
        month = month or names.index(groups["month"]) + 1
        day = moment.date()
        return (
            _clock_is(groups["clock"], moment)
            and (day.month, day.day) == (month, int(groups["dom"]))
            and _weekday(day, language)[:3] == groups["swd"]
        )
    if kind == "text_day":
        days = (moment.date() - now.date()).days
        return _clock_is(groups["clock"], moment) and _weekday(moment.date(), language) == groups["wd"] and days < 7
    month = MONTHS[language].index(groups["month"]) + 1
    day = moment.date()
    return (day.month, day.day) == (month, int(groups["dom"])) and _weekday(day, language) == groups["dwd"]


def read_text_days(
    text: str, *, now: dt.datetime, moments: list[dt.datetime], appointment_day: dt.date, language: str
) -> list[str]:
    """What in a text message names a day falsely for a reader at `now`.

    A clock with no day beside it must be on the appointment's day (the day the text is about), on the
    reader's own day, or within the day before the reader ("Had solid food since 5:00 PM?"): "Arrive at
    11:00 PM" in a text about Monday's 00:00 start, read on Friday, is false (that is Sunday).
    """
    now = now.astimezone(moments[0].tzinfo)
    problems, covered = read_day_words(text, now=now, moments=moments, language=language)[0], []
    for kind, pattern in _text_patterns(language):
        for found in pattern.finditer(text):
            covered.append(found.span())
            if not any(_text_holds(kind, found, moment, now, language) for moment in moments):
                problems.append(f"{found.group(0)!r} at {now:%a %Y-%m-%d %H:%M %Z}")
    for found in re.finditer(CLOCK, text):
        if any(start <= found.start() < end for start, end in covered):
            continue
        if not any(
            _clock_is(found.group(0), moment)
            # on the day the text is about, or the reader's; or the last time that clock came ("since 3:00 PM")
            and (moment.date() in (appointment_day, now.date()) or dt.timedelta(0) <= now - moment < dt.timedelta(1))
            for moment in moments
        ):
            problems.append(f"{found.group(0)!r} with no day, at {now:%a %Y-%m-%d %H:%M %Z}")
    return problems


def read_day_words(text: str, *, now: dt.datetime, moments: list[dt.datetime], language: str) -> tuple[list[str], int]:
    """What in `text` names a day falsely for a reader at `now`, and how many day phrases were read.

    `moments` in the clinic's zone.
    """
    now = now.astimezone(moments[0].tzinfo)
    problems: list[str] = []
    covered: list[tuple[int, int]] = []
    for kind, pattern in _patterns(language):
        for found in pattern.finditer(text):
            covered.append(found.span())
            if not any(_holds(kind, found, moment, now, language) for moment in moments):
                problems.append(f"{found.group(0)!r} at {now:%a %Y-%m-%d %H:%M %Z}")
    for bare in BARE[language].finditer(text):
        if not any(start <= bare.start() < end for start, end in covered):
            problems.append(f"{bare.group(0)!r} on its own at {now:%a %Y-%m-%d %H:%M %Z}")
    return problems, len(covered)
