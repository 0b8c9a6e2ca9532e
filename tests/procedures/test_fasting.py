"""The fasting plan: clock times, feeding, local-only, overrides, midnight and daylight saving."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from procedures.fasting import (
    Anchor,
    FastingRules,
    Item,
    compute_fasting_plan,
    is_infant,
    items_for_feeding,
)

CHICAGO = ZoneInfo("America/Chicago")
UTC = dt.UTC


def plan(
    arrival,
    start=None,
    feeding="regular",
    sedation="general",
    rules=None,
    minimum=None,
    zone="America/Chicago",
    infant=False,
):
    return compute_fasting_plan(
        start=start or arrival + dt.timedelta(hours=1),
        arrival=arrival,
        time_zone=zone,
        feeding=feeding,
        sedation=sedation,
        rules=rules or FastingRules(),
        minimum_hours=minimum,
        infant=infant,
    )


def wall(p, item):
    cutoff = p.cutoff_for(item)
    return cutoff.at.strftime("%a %H:%M %Z") if cutoff else None


def test_regular_diet_on_an_ordinary_day_counts_back_from_arrival():
    p = plan(dt.datetime(2026, 6, 11, 7, 30, tzinfo=CHICAGO))  # Thursday
    assert p.required and p.anchor == Anchor.ARRIVAL
    assert wall(p, Item.FATTY_FOOD) == "Wed 23:30 CDT"
    assert wall(p, Item.SOLIDS) == "Thu 01:30 CDT"
    assert wall(p, Item.MILK) == "Thu 01:30 CDT"
    assert wall(p, Item.CLEAR_FLUIDS) == "Thu 06:30 CDT"
    assert p.cutoff_for(Item.BREAST_MILK) is None


def test_cutoffs_cross_midnight_into_the_day_before():
    p = plan(dt.datetime(2026, 6, 11, 3, 0, tzinfo=CHICAGO))
    assert p.cutoff_for(Item.SOLIDS).at == dt.datetime(2026, 6, 10, 21, 0, tzinfo=CHICAGO)
    assert p.cutoff_for(Item.FATTY_FOOD).at.date() == dt.date(2026, 6, 10)


def test_cutoffs_are_ordered_earliest_first():
    p = plan(dt.datetime(2026, 6, 11, 7, 30, tzinfo=CHICAGO))
    assert [c.item for c in p.cutoffs] == [Item.FATTY_FOOD, Item.SOLIDS, Item.MILK, Item.CLEAR_FLUIDS]


ARRIVAL = dt.datetime(2026, 6, 11, 7, 30, tzinfo=CHICAGO)


@pytest.mark.parametrize(
    ("feeding", "infant", "items"),
    [
        ("breast_milk", True, [Item.BREAST_MILK, Item.CLEAR_FLUIDS]),
        ("breast_and_formula", True, [Item.FORMULA, Item.BREAST_MILK, Item.CLEAR_FLUIDS]),
        ("formula", True, [Item.SOLIDS, Item.FORMULA, Item.CLEAR_FLUIDS]),
        ("regular", False, [Item.FATTY_FOOD, Item.SOLIDS, Item.MILK, Item.CLEAR_FLUIDS]),
        ("regular", True, [Item.FATTY_FOOD, Item.SOLIDS, Item.FORMULA_OR_MILK, Item.CLEAR_FLUIDS]),
    ],
)
def test_each_feeding_gets_exactly_its_own_lines(feeding, infant, items):
    p = plan(ARRIVAL, feeding=feeding, infant=infant)
    assert [c.item for c in p.cutoffs] == items


def test_a_baby_on_breast_milk_only_is_never_told_about_formula():
    p = plan(ARRIVAL, feeding="breast_milk", infant=True)
    assert p.cutoff_for(Item.FORMULA) is None and p.cutoff_for(Item.FORMULA_OR_MILK) is None
    assert wall(p, Item.BREAST_MILK) == "Thu 03:30 CDT"


def test_a_baby_on_breast_milk_and_formula_stops_formula_earlier_than_breast_milk():
    p = plan(ARRIVAL, feeding="breast_and_formula", infant=True)
    assert wall(p, Item.FORMULA) == "Thu 01:30 CDT"
    assert wall(p, Item.BREAST_MILK) == "Thu 03:30 CDT"


def test_milk_for_a_child_over_one_uses_the_formula_and_non_human_milk_hours():
    p = plan(ARRIVAL, rules=FastingRules(formula_hours=Decimal("5")))
    assert p.cutoff_for(Item.MILK).hours == Decimal("5")
    assert p.cutoff_for(Item.FORMULA) is None


def test_being_under_one_only_changes_a_regular_diet():
    for feeding in ("breast_milk", "breast_and_formula", "formula"):
        assert items_for_feeding(feeding, infant=True) == items_for_feeding(feeding, infant=False)


@pytest.mark.parametrize(
    ("born", "on", "infant"),
    [
        (dt.date(2025, 6, 12), dt.date(2026, 6, 11), True),  # one tomorrow
        (dt.date(2025, 6, 11), dt.date(2026, 6, 11), False),  # one today
        (dt.date(2018, 3, 4), dt.date(2026, 6, 11), False),
        (dt.date(2024, 2, 29), dt.date(2025, 2, 28), True),  # a leap-day baby turns one on 1 March
        (dt.date(2024, 2, 29), dt.date(2025, 3, 1), False),
    ],
)
def test_a_child_is_an_infant_until_their_first_birthday(born, on, infant):
    assert is_infant(born, on=on) is infant


def test_local_only_needs_no_fasting():
    p = plan(dt.datetime(2026, 6, 11, 7, 30, tzinfo=CHICAGO), sedation="local")
    assert not p.required and p.cutoffs == ()


def test_the_policy_can_count_back_from_the_start():
    arrival = dt.datetime(2026, 6, 11, 7, 30, tzinfo=CHICAGO)
    p = plan(arrival, start=arrival + dt.timedelta(minutes=90), rules=FastingRules(anchor=Anchor.START))
    assert wall(p, Item.CLEAR_FLUIDS) == "Thu 08:00 CDT"
    assert p.anchor_at == arrival + dt.timedelta(minutes=90)


def test_fractional_hours_are_minutes():
    p = plan(dt.datetime(2026, 6, 11, 7, 30, tzinfo=CHICAGO), rules=FastingRules(clear_fluids_hours=Decimal("1.5")))
    assert wall(p, Item.CLEAR_FLUIDS) == "Thu 06:00 CDT"


def test_a_longer_fast_lengthens_food_and_milk_but_not_clear_fluids():
    p = plan(dt.datetime(2026, 6, 11, 7, 30, tzinfo=CHICAGO), minimum=Decimal("10"))
    assert wall(p, Item.SOLIDS) == "Wed 21:30 CDT"
    assert wall(p, Item.FATTY_FOOD) == "Wed 21:30 CDT"
    assert wall(p, Item.CLEAR_FLUIDS) == "Thu 06:30 CDT"


def test_a_shorter_override_never_shortens_the_policy():
    p = plan(dt.datetime(2026, 6, 11, 7, 30, tzinfo=CHICAGO), minimum=Decimal("2"))
    assert p.cutoff_for(Item.SOLIDS).hours == Decimal("6")
    assert p.cutoff_for(Item.FATTY_FOOD).hours == Decimal("8")


def test_spring_forward_sunday_counts_real_hours():
    # 8 March 2026: at 02:00 CST the clocks jump to 03:00 CDT.
    arrival = dt.datetime(2026, 3, 8, 7, 0, tzinfo=CHICAGO)  # 07:00 CDT = 12:00 UTC
    p = plan(arrival)
    solids = p.cutoff_for(Item.SOLIDS).at
    assert solids.astimezone(UTC) == dt.datetime(2026, 3, 8, 6, 0, tzinfo=UTC)
    assert solids.strftime("%H:%M %Z") == "00:00 CST"  # 7 wall-clock hours back, 6 real hours
    assert wall(p, Item.FATTY_FOOD) == "Sat 22:00 CST"
    assert wall(p, Item.CLEAR_FLUIDS) == "Sun 06:00 CDT"


def test_fall_back_sunday_counts_real_hours():
    # 1 November 2026: at 02:00 CDT the clocks go back to 01:00 CST.
    arrival = dt.datetime(2026, 11, 1, 7, 0, tzinfo=CHICAGO)  # 07:00 CST = 13:00 UTC
    p = plan(arrival)
    solids = p.cutoff_for(Item.SOLIDS).at
    assert solids.astimezone(UTC) == dt.datetime(2026, 11, 1, 7, 0, tzinfo=UTC)
    # 07:00 UTC is 01:00 CST: the second time the clock shows 01:00 that night.
    assert solids.strftime("%H:%M %Z") == "01:00 CST"
    assert solids.fold == 1
    # 8 real hours before 13:00 UTC is 05:00 UTC, midnight CDT: only 7 wall-clock hours earlier.
    assert wall(p, Item.FATTY_FOOD) == "Sun 00:00 CDT"
    assert wall(p, Item.CLEAR_FLUIDS) == "Sun 06:00 CST"


def test_a_monday_procedure_whose_fast_spans_the_change():
    arrival = dt.datetime(2026, 3, 9, 2, 0, tzinfo=CHICAGO)  # 02:00 CDT Monday = 07:00 UTC
    p = plan(arrival, rules=FastingRules(fatty_food_hours=Decimal("24")))
    fatty = p.cutoff_for(Item.FATTY_FOOD).at
    assert fatty.astimezone(UTC) == dt.datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    assert fatty.strftime("%a %H:%M %Z") == "Sun 01:00 CST"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"arrival": dt.datetime(2026, 6, 11, 7, 30)}, "aware"),  # noqa: DTZ001 - naive on purpose
        ({"feeding": "chocolate"}, "feeding"),
        ({"zone": "Mars/Base"}, "time zone"),
        ({"minimum": Decimal("-1")}, "negative"),
    ],
)
def test_bad_input_raises_value_error(kwargs, message):
    arrival = kwargs.pop("arrival", dt.datetime(2026, 6, 11, 7, 30, tzinfo=CHICAGO))
    with pytest.raises(ValueError, match=message):
        plan(arrival, start=arrival + dt.timedelta(hours=1) if arrival.tzinfo else None, **kwargs)


def test_arrival_after_start_raises():
    arrival = dt.datetime(2026, 6, 11, 7, 30, tzinfo=CHICAGO)
    with pytest.raises(ValueError, match="after the start"):
        plan(arrival, start=arrival - dt.timedelta(minutes=1))


@pytest.mark.parametrize("hours", [0, -1, "0"])
def test_rules_refuse_zero_or_negative_hours(hours):
    with pytest.raises(ValueError, match="positive"):
        FastingRules(solids_hours=hours)


def test_next_cutoff_is_the_earliest_still_ahead():
    p = plan(dt.datetime(2026, 6, 11, 7, 30, tzinfo=CHICAGO))
    assert p.next_cutoff(dt.datetime(2026, 6, 11, 1, 0, tzinfo=CHICAGO)).item == Item.SOLIDS
    assert p.next_cutoff(dt.datetime(2026, 6, 11, 6, 30, tzinfo=CHICAGO)) is None


ZONES = ["America/Chicago", "America/New_York", "America/Los_Angeles", "Europe/London", "Australia/Sydney", "UTC"]
HOURS = st.integers(min_value=2, max_value=48).map(lambda quarters: Decimal(quarters) / 4)


@st.composite
def procedures(draw):
    zone = ZoneInfo(draw(st.sampled_from(ZONES)))
    naive = draw(st.datetimes(min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2035, 12, 31)))  # noqa: DTZ001
    arrival = naive.replace(tzinfo=zone, second=0, microsecond=0)
    start = arrival + dt.timedelta(minutes=draw(st.integers(min_value=0, max_value=360)))
    rules = FastingRules(
        solids_hours=draw(HOURS),
        fatty_food_hours=draw(HOURS),
        formula_hours=draw(HOURS),
        breast_milk_hours=draw(HOURS),
        clear_fluids_hours=draw(HOURS),
        anchor=draw(st.sampled_from(list(Anchor))),
    )
    return {
        "start": start,
        "arrival": arrival,
        "time_zone": zone.key,
        "feeding": draw(st.sampled_from(["breast_milk", "breast_and_formula", "formula", "regular"])),
        "infant": draw(st.booleans()),
        "sedation": draw(st.sampled_from(["general", "sedation"])),
        "rules": rules,
        "minimum_hours": draw(st.none() | HOURS),
    }


@settings(max_examples=300, deadline=None)
@given(procedures())
def test_every_cutoff_is_before_the_anchor_ordered_and_exactly_the_policys_hours_back(args):
    p = compute_fasting_plan(**args)
    rules = args["rules"]
    anchor = args["arrival"] if rules.anchor == Anchor.ARRIVAL else args["start"]
    assert p.anchor_at.astimezone(UTC) == anchor.astimezone(UTC)
    assert [c.item for c in sorted(p.cutoffs, key=lambda c: list(Item).index(c.item))] == list(
        items_for_feeding(args["feeding"], infant=args["infant"])
    )
    instants = [c.at.astimezone(UTC) for c in p.cutoffs]
    assert instants == sorted(instants)
    for cutoff in p.cutoffs:
        assert cutoff.at.astimezone(UTC) < anchor.astimezone(UTC)  # wall clocks can mislead across a DST gap
        assert cutoff.at.tzinfo == ZoneInfo(args["time_zone"])
        elapsed = anchor.astimezone(UTC) - cutoff.at.astimezone(UTC)
        assert elapsed == dt.timedelta(hours=float(cutoff.hours))
        assert cutoff.hours >= rules.hours_for(cutoff.item)
        if cutoff.item == Item.CLEAR_FLUIDS or args["minimum_hours"] is None:
            assert cutoff.hours == rules.hours_for(cutoff.item)
        else:
            assert cutoff.hours == max(rules.hours_for(cutoff.item), args["minimum_hours"])


def test_a_procedures_plan_judges_age_on_the_clinics_own_date(patient):
    from tests.factories import ProcedureFactory

    # 22:30 in Chicago on 11 June is already 12 June in UTC, the first birthday.
    start = dt.datetime(2026, 6, 11, 22, 30, tzinfo=CHICAGO)
    patient.date_of_birth = dt.date(2025, 6, 12)
    patient.save()
    procedure = ProcedureFactory(patient=patient, scheduled_start=start, arrival_at=start - dt.timedelta(minutes=30))
    assert procedure.fasting_plan().cutoff_for(Item.FORMULA_OR_MILK) is not None
    patient.date_of_birth = dt.date(2025, 6, 11)
    assert procedure.fasting_plan().cutoff_for(Item.MILK) is not None
