"""A child's fasting (NPO) plan: pure functions, no database.

Cut-offs are counted back in real elapsed time (in UTC) and only then shown
on the clinic's wall clock, so they stay right across midnight and on the
days the clocks change.
"""

from __future__ import annotations

import enum
import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.utils.translation import gettext_lazy as _


class Item(enum.StrEnum):
    """What must stop; the order breaks ties between equal cut-off times."""

    FATTY_FOOD = "fatty_food"
    SOLIDS = "solids"
    FORMULA = "formula"  # infant formula only
    FORMULA_OR_MILK = "formula_or_milk"  # a baby on a regular diet may have either
    MILK = "milk"  # non-human milk (cow's, goat's, soy...) for a child over one
    BREAST_MILK = "breast_milk"
    CLEAR_FLUIDS = "clear_fluids"


class Anchor(enum.StrEnum):
    ARRIVAL = "arrival"
    START = "start"


ITEM_LABELS: dict[Item, str] = {
    Item.FATTY_FOOD: _("Fatty or fried food"),
    Item.SOLIDS: _("Solid food"),
    Item.FORMULA: _("Formula"),
    Item.FORMULA_OR_MILK: _("Formula or milk"),
    Item.MILK: _("Milk (cow, goat, soy or other milk)"),
    Item.BREAST_MILK: _("Breast milk"),
    Item.CLEAR_FLUIDS: _("Clear fluids (water, clear apple juice, Pedialyte)"),
}

_ITEM_ORDER = {item: index for index, item in enumerate(Item)}

# Each child is told only about what they actually eat and drink. A baby on
# formula may also have baby food (solids). On a regular diet, a child over one
# drinks milk (cow's, goat's, soy...), never formula; a baby under one may have
# either, so their line names both. Formula and non-human milk share one time.
_ITEMS_BY_FEEDING: dict[str, tuple[Item, ...]] = {
    "breast_milk": (Item.BREAST_MILK, Item.CLEAR_FLUIDS),
    "breast_and_formula": (Item.FORMULA, Item.BREAST_MILK, Item.CLEAR_FLUIDS),
    "formula": (Item.SOLIDS, Item.FORMULA, Item.CLEAR_FLUIDS),
    "regular": (Item.FATTY_FOOD, Item.SOLIDS, Item.MILK, Item.CLEAR_FLUIDS),
}
_INFANT_REGULAR = (Item.FATTY_FOOD, Item.SOLIDS, Item.FORMULA_OR_MILK, Item.CLEAR_FLUIDS)

NO_FASTING_SEDATION = "local"


def needs_fasting(sedation: str) -> bool:
    """Local numbing only: the child may eat and drink as usual. Any sedation or anaesthesia: a fast."""
    return sedation != NO_FASTING_SEDATION


@dataclass(frozen=True)
class FastingRules:
    solids_hours: Decimal = Decimal("6")
    fatty_food_hours: Decimal = Decimal("8")
    formula_hours: Decimal = Decimal("6")
    breast_milk_hours: Decimal = Decimal("4")
    clear_fluids_hours: Decimal = Decimal("1")
    anchor: Anchor = Anchor.ARRIVAL

    def __post_init__(self) -> None:
        # Accept ints and floats from callers, keep exact decimals inside.
        for name in ("solids_hours", "fatty_food_hours", "formula_hours", "breast_milk_hours", "clear_fluids_hours"):
            value = Decimal(str(getattr(self, name)))
            if value <= 0:
                raise ValueError(f"{name} must be positive")
            object.__setattr__(self, name, value)
        object.__setattr__(self, "anchor", Anchor(self.anchor))

    def hours_for(self, item: Item) -> Decimal:
        return {
            Item.FATTY_FOOD: self.fatty_food_hours,
            Item.SOLIDS: self.solids_hours,
            Item.FORMULA: self.formula_hours,
            Item.FORMULA_OR_MILK: self.formula_hours,
            Item.MILK: self.formula_hours,
            Item.BREAST_MILK: self.breast_milk_hours,
            Item.CLEAR_FLUIDS: self.clear_fluids_hours,
        }[item]


@dataclass(frozen=True)
class Cutoff:
    item: Item
    at: datetime  # aware, in the clinic's time zone
    hours: Decimal  # hours before the anchor actually applied

    @property
    def label(self) -> str:
        return str(ITEM_LABELS[self.item])


@dataclass(frozen=True)
class FastingPlan:
    required: bool
    anchor: Anchor | None = None
    anchor_at: datetime | None = None
    cutoffs: tuple[Cutoff, ...] = field(default_factory=tuple)

    def cutoff_for(self, item: Item) -> Cutoff | None:
        return next((cutoff for cutoff in self.cutoffs if cutoff.item == item), None)

    def next_cutoff(self, now: datetime) -> Cutoff | None:
        return next((cutoff for cutoff in self.cutoffs if cutoff.at > now), None)


def items_for_feeding(feeding: str, *, infant: bool = False) -> tuple[Item, ...]:
    try:
        items = _ITEMS_BY_FEEDING[feeding]
    except KeyError:
        raise ValueError(f"unknown feeding: {feeding!r}") from None
    return _INFANT_REGULAR if infant and feeding == "regular" else items


def is_infant(date_of_birth: date, *, on: date) -> bool:
    """Under one year old on the given day (a child born on 29 February turns one on 1 March)."""
    try:
        first_birthday = date_of_birth.replace(year=date_of_birth.year + 1)
    except ValueError:
        first_birthday = date(date_of_birth.year + 1, 3, 1)
    return on < first_birthday


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone: {name!r}") from None


def compute_fasting_plan(
    *,
    start: datetime,
    arrival: datetime,
    time_zone: str,
    feeding: str,
    sedation: str,
    rules: FastingRules,
    minimum_hours: Decimal | None = None,
    infant: bool = False,
) -> FastingPlan:
    """When each kind of food and drink must stop, for one procedure and child.

    `minimum_hours` is the anesthesiologist's exception: it can lengthen every
    fast except clear fluids, never shorten one. `infant` is true for a child
    under one year old on the day: it decides whether a regular diet's milk
    line also names formula.
    """
    if start.tzinfo is None or arrival.tzinfo is None:
        raise ValueError("start and arrival must be aware datetimes")
    if arrival > start:
        raise ValueError("arrival is after the start")
    if minimum_hours is not None and Decimal(minimum_hours) < 0:
        raise ValueError("minimum_hours cannot be negative")
    zone = _zone(time_zone)
    items = items_for_feeding(feeding, infant=infant)
    if not needs_fasting(sedation):
        return FastingPlan(required=False)

    anchor_at = (arrival if rules.anchor == Anchor.ARRIVAL else start).astimezone(UTC)
    cutoffs = []
    for item in items:
        hours = rules.hours_for(item)
        if minimum_hours is not None and item != Item.CLEAR_FLUIDS:
            hours = max(hours, Decimal(minimum_hours))
        at = (anchor_at - timedelta(seconds=int(hours * 3600))).astimezone(zone)
        cutoffs.append(Cutoff(item=item, at=at, hours=hours))
    cutoffs.sort(key=lambda cutoff: (cutoff.at, _ITEM_ORDER[cutoff.item]))
    return FastingPlan(required=True, anchor=rules.anchor, anchor_at=anchor_at.astimezone(zone), cutoffs=tuple(cutoffs))


# --- How long the child really fasted -------------------------------------------------------
#
# Families say when the child last had three things: a clear drink, milk (formula, breast
# milk or other milk, whichever the child has) and food. Each is held against the child's own
# cut-off for it: the target is the time from that cut-off to the start, the shortest fast
# the plan asks for.


class Intake(enum.StrEnum):
    DRINK = "drink"
    MILK = "milk"
    FOOD = "food"


INTAKE_LABELS: dict[Intake, str] = {
    Intake.DRINK: _("Clear fluids"),
    Intake.MILK: _("Milk or formula"),
    Intake.FOOD: _("Solid food"),
}

_INTAKE_ITEMS: dict[Intake, tuple[Item, ...]] = {
    Intake.DRINK: (Item.CLEAR_FLUIDS,),
    Intake.MILK: (Item.FORMULA, Item.FORMULA_OR_MILK, Item.MILK, Item.BREAST_MILK),
    Intake.FOOD: (Item.SOLIDS,),
}


def cutoff_for_intake(plan: FastingPlan, intake: Intake) -> Cutoff | None:
    """The child's cut-off for what the family reports. For milk, the latest of the child's milks:
    the family does not say which one, and the longest fast would call a right one too short."""
    found = [cutoff for cutoff in plan.cutoffs if cutoff.item in _INTAKE_ITEMS[intake]]
    return max(found, key=lambda cutoff: cutoff.at, default=None)


@dataclass(frozen=True)
class Fasted:
    intake: Intake
    last_at: datetime
    start: datetime  # the real start if recorded, else the booked one
    cutoff: Cutoff

    @property
    def label(self) -> str:
        return str(INTAKE_LABELS[self.intake])

    @property
    def minutes(self) -> int:
        return max(int((self.start - self.last_at).total_seconds() // 60), 0)

    @property
    def target_minutes(self) -> int:
        """The shortest fast the plan asks for: from the cut-off to the start."""
        return max(int((self.start - self.cutoff.at).total_seconds() // 60), 0)

    @property
    def too_late(self) -> bool:
        """Had after the cut-off: the fast was shorter than the plan asks."""
        return self.last_at > self.cutoff.at


def fasted(plan: FastingPlan, *, start: datetime, last: dict[Intake, datetime | None]) -> list[Fasted]:
    """The child's real fasts, one per thing reported that the child's plan has a cut-off for."""
    if not plan.required:
        return []
    found = []
    for intake in Intake:
        at, cutoff = last.get(intake), cutoff_for_intake(plan, intake)
        if at is not None and cutoff is not None:
            found.append(Fasted(intake=intake, last_at=at, start=start, cutoff=cutoff))
    return found


def hours_and_minutes(minutes: int) -> str:
    """4 h 10 min: how long, the same way in every language the portal speaks."""
    hours, rest = divmod(max(minutes, 0), 60)
    return f"{hours} h {rest} min" if hours else f"{rest} min"


def thirsty_minutes(
    rules: FastingRules, *, sedation: str, last_drink_at: datetime | None, now: datetime, limit_hours: Decimal
) -> int | None:
    """How long a waiting child has gone without a clear drink, once that is `limit_hours` past the
    clear-fluids cut-off (the team may offer a drink); None before then."""
    if last_drink_at is None or not needs_fasting(sedation):
        return None
    without = now - last_drink_at
    if without <= timedelta(seconds=int((rules.clear_fluids_hours + Decimal(limit_hours)) * 3600)):
        return None
    return int(without.total_seconds() // 60)
