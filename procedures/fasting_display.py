"""Plain words and clock times for a fasting plan, in the reader's language.

Every clock time a family reads (page, card, calendar, texts, emails) comes
from `clock()`, and every cut-off from `describe()`: a time already past is
never worded as something still to do.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, time, tzinfo

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.formats import FORMAT_SETTINGS, date_format
from django.utils.text import capfirst, get_text_list
from django.utils.translation import get_language, gettext_lazy, gettext_noop
from django.utils.translation import gettext as _

from portal.phones import display as display_phone

from . import day_words
from .fasting import Cutoff, FastingPlan, Item

CLEAR_FLUIDS_EXPLAINED = gettext_lazy(
    "Clear fluids are drinks you can see through, like water, clear apple juice or Pedialyte. "
    "Milk is not a clear fluid."
)


@dataclass(frozen=True)
class CutoffLine:
    item: str
    at: datetime
    clock: str
    day: str
    sentence: str
    passed: bool = False
    call_line: str = ""


def occurs_twice(at: datetime) -> bool:
    """True when this wall-clock time happens twice that night (the clocks go back)."""
    if at.tzinfo is None:
        return False
    other = at.replace(fold=1 - at.fold)
    if other.utcoffset() == at.utcoffset():
        return False
    # A time in the spring-forward gap also has two offsets, but it never shows on a clock.
    round_trip = at.astimezone(UTC).astimezone(at.tzinfo)
    return round_trip.replace(tzinfo=None) == at.replace(tzinfo=None)


def _instant(at: datetime) -> datetime:
    # Two aware times in the same zone compare and subtract by wall clock,
    # ignoring fold: 1:30 CDT would equal 1:30 CST. Compare in UTC.
    return at.astimezone(UTC)


def formatted(at: datetime, format_name: str) -> str:
    """`date_format(at, format_name)` in the active language, each distinct value worked out once.

    A page or a batch of texts shows the same few times over and over. The key
    holds everything the text can depend on: the wall clock, which of a repeated
    hour it is (fold and offset: aware times in one zone compare equal across
    the fold), the zone, the format and the language.
    """
    if at.tzinfo is None:
        return date_format(at, format_name)
    return _formatted(at.replace(tzinfo=None), at.fold, at.utcoffset(), at.tzinfo, format_name, get_language())


@functools.lru_cache(maxsize=4096)
def _formatted(wall: datetime, fold: int, offset: object, zone: tzinfo, format_name: str, language: str | None) -> str:
    return date_format(wall.replace(tzinfo=zone, fold=fold), format_name)


@receiver(setting_changed)
def _formats_changed(*, setting: str, **kwargs: object) -> None:
    if setting in FORMAT_SETTINGS or setting in {"FORMAT_MODULE_PATH", "LANGUAGE_CODE", "LANGUAGES"}:
        _formatted.cache_clear()


def clock(at: datetime) -> str:
    """A time as families read it: "1:30 AM", or "1:30 AM CDT" on the night it happens twice."""
    text = formatted(at, "TIME_FORMAT")
    return f"{text} {at.tzname()}" if occurs_twice(at) else text


def weekday(at: datetime) -> str:
    return formatted(at, "l")


def _name(name: str | None) -> str:
    return name or _("your child")


# Each sentence is translated only when it is the one wanted: a line reads one of
# these, so translating the whole table each time would be seven look-ups for one.
_AHEAD = {
    Item.FATTY_FOOD: gettext_noop("Stop fatty or fried food %(when)s."),
    Item.SOLIDS: gettext_noop("Stop solid food %(when)s."),
    Item.FORMULA: gettext_noop("Stop formula %(when)s."),
    Item.FORMULA_OR_MILK: gettext_noop("Stop formula and milk %(when)s."),
    Item.MILK: gettext_noop("Stop milk %(when)s. This means cow, goat, soy or any other milk."),
    Item.BREAST_MILK: gettext_noop("Stop breast milk %(when)s."),
    Item.CLEAR_FLUIDS: gettext_noop("Stop clear fluids %(when)s. After that, nothing to eat or drink."),
}

_PASSED = {
    Item.FATTY_FOOD: gettext_noop("The time to stop fatty or fried food has passed."),
    Item.SOLIDS: gettext_noop("The time to stop solid food has passed."),
    Item.FORMULA: gettext_noop("The time to stop formula has passed."),
    Item.FORMULA_OR_MILK: gettext_noop("The time to stop formula and milk has passed."),
    Item.MILK: gettext_noop("The time to stop milk has passed."),
    Item.BREAST_MILK: gettext_noop("The time to stop breast milk has passed."),
    Item.CLEAR_FLUIDS: gettext_noop(
        "The time for the last clear drink has passed. %(name)s should have nothing more to eat or drink."
    ),
}

_CALL_WITH_PHONE = {
    Item.FATTY_FOOD: gettext_noop("If %(name)s has had fatty or fried food since %(time)s, call us at %(phone)s."),
    Item.SOLIDS: gettext_noop("If %(name)s has had solid food since %(time)s, call us at %(phone)s."),
    Item.FORMULA: gettext_noop("If %(name)s has had formula since %(time)s, call us at %(phone)s."),
    Item.FORMULA_OR_MILK: gettext_noop("If %(name)s has had formula or milk since %(time)s, call us at %(phone)s."),
    Item.MILK: gettext_noop("If %(name)s has had milk since %(time)s, call us at %(phone)s."),
    Item.BREAST_MILK: gettext_noop("If %(name)s has had breast milk since %(time)s, call us at %(phone)s."),
    Item.CLEAR_FLUIDS: gettext_noop(
        "If %(name)s has had anything to eat or drink since %(time)s, call us at %(phone)s."
    ),
}

_CALL = {
    Item.FATTY_FOOD: gettext_noop("If %(name)s has had fatty or fried food since %(time)s, call us."),
    Item.SOLIDS: gettext_noop("If %(name)s has had solid food since %(time)s, call us."),
    Item.FORMULA: gettext_noop("If %(name)s has had formula since %(time)s, call us."),
    Item.FORMULA_OR_MILK: gettext_noop("If %(name)s has had formula or milk since %(time)s, call us."),
    Item.MILK: gettext_noop("If %(name)s has had milk since %(time)s, call us."),
    Item.BREAST_MILK: gettext_noop("If %(name)s has had breast milk since %(time)s, call us."),
    Item.CLEAR_FLUIDS: gettext_noop("If %(name)s has had anything to eat or drink since %(time)s, call us."),
}

_NOUN = {
    Item.FATTY_FOOD: gettext_noop("fatty or fried food"),
    Item.SOLIDS: gettext_noop("solid food"),
    Item.FORMULA: gettext_noop("formula"),
    Item.FORMULA_OR_MILK: gettext_noop("formula or milk"),
    Item.MILK: gettext_noop("milk"),
    Item.BREAST_MILK: gettext_noop("breast milk"),
    Item.CLEAR_FLUIDS: gettext_noop("clear drink"),
}


def _ahead(item: Item) -> str:
    return _(_AHEAD[item])


def _passed(item: Item) -> str:
    return _(_PASSED[item])


def _call(item: Item, *, with_phone: bool) -> str:
    return _((_CALL_WITH_PHONE if with_phone else _CALL)[item])


def noun(item: Item) -> str:
    """What the family stops, as a few words to fit in a longer sentence."""
    return _(_NOUN[item])


def describe(cutoff: Cutoff, *, now: datetime | None = None, name: str | None = None, phone: str = "") -> CutoffLine:
    """One cut-off in plain words: an instruction while it is ahead, a plain fact once it has passed.

    `name` is the child's first name ("your child" without one); `phone` the
    clinic's number as stored, shown in the call line of a passed cut-off.
    """
    when = {"time": clock(cutoff.at), "day": weekday(cutoff.at)}
    if now is None or _instant(cutoff.at) > _instant(now):
        return CutoffLine(
            item=cutoff.item.value,
            at=cutoff.at,
            clock=when["time"],
            day=when["day"],
            sentence=_ahead(cutoff.item) % {"when": day_words.when(cutoff.at, now=now)},
        )
    child = _name(name)
    number = display_phone(phone) if phone else ""
    return CutoffLine(
        item=cutoff.item.value,
        at=cutoff.at,
        clock=when["time"],
        day=when["day"],
        sentence=_passed(cutoff.item) % {"name": capfirst(child)},
        passed=True,
        call_line=_call(cutoff.item, with_phone=bool(number)) % {"name": child, "time": when["time"], "phone": number},
    )


def describe_plan(plan: FastingPlan, *, now: datetime, name: str | None = None, phone: str = "") -> list[CutoffLine]:
    return [describe(cutoff, now=now, name=name, phone=phone) for cutoff in plan.cutoffs]


# --- The day itself -------------------------------------------------------------------


@dataclass(frozen=True)
class NextStep:
    headline: str  # "Next: last clear drink by 6:30 AM"
    detail: str  # the instruction in full
    at: datetime
    is_arrival: bool


def day_of_starts(plan: FastingPlan, *, arrival: datetime) -> datetime:
    """When the family's pages start leading with the next step.

    From the start of the clinic-local day on which the first cut-off falls:
    from then on, stopping at that time is something the family must do that
    same day. For a morning procedure whose fast begins with fatty food the
    evening before, that is the day before; with no fasting, the day itself.
    """
    first = plan.cutoffs[0].at if plan.cutoffs else arrival
    return datetime.combine(first.date(), time.min, tzinfo=first.tzinfo)


def next_step(plan: FastingPlan, *, now: datetime, arrival: datetime) -> NextStep | None:
    """What the family does next on the day, or None before the day starts or once they should be there."""
    now = _instant(now)
    if now < _instant(day_of_starts(plan, arrival=arrival)) or now >= _instant(arrival):
        return None
    ahead = [cutoff for cutoff in plan.cutoffs if _instant(cutoff.at) > now]
    if not ahead:
        return NextStep(
            headline=_("Leave for the hospital so you arrive %(when)s.") % {"when": day_words.when(arrival, now=now)},
            detail="",
            at=arrival,
            is_arrival=True,
        )
    together = [cutoff for cutoff in ahead if _instant(cutoff.at) == _instant(ahead[0].at)]
    things = get_text_list([noun(cutoff.item) for cutoff in together], _("and"))
    return NextStep(
        headline=_("Next: last %(things)s, %(when)s")
        % {"things": things, "when": day_words.when(ahead[0].at, now=now)},
        detail=" ".join(describe(cutoff, now=now).sentence for cutoff in together),
        at=ahead[0].at,
        is_arrival=False,
    )
