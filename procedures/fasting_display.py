"""Plain words and clock times for a fasting plan, in the reader's language."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils.formats import date_format
from django.utils.translation import gettext as _

from .fasting import Cutoff, Item


@dataclass(frozen=True)
class CutoffLine:
    item: str
    at: datetime
    clock: str
    day: str
    sentence: str


def clock(at: datetime) -> str:
    return date_format(at, "TIME_FORMAT")


def weekday(at: datetime) -> str:
    return date_format(at, "l")


def describe(cutoff: Cutoff) -> CutoffLine:
    when = {"time": clock(cutoff.at), "day": weekday(cutoff.at)}
    sentences = {
        Item.FATTY_FOOD: _("No fatty or fried food after %(time)s %(day)s."),
        Item.SOLIDS: _("No solid food after %(time)s %(day)s."),
        Item.FORMULA: _("No formula or milk (other than breast milk) after %(time)s %(day)s."),
        Item.BREAST_MILK: _("No breast milk after %(time)s %(day)s."),
        Item.CLEAR_FLUIDS: _("No clear fluids after %(time)s %(day)s. After that, nothing to eat or drink."),
    }
    return CutoffLine(
        item=cutoff.item.value,
        at=cutoff.at,
        clock=when["time"],
        day=when["day"],
        sentence=sentences[cutoff.item] % when,
    )
