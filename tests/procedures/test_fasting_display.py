"""The fasting plan in words: clock times that carry their zone, and cut-offs that have passed."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation
from django.utils.formats import date_format, reset_format_cache

from procedures import fasting_display
from procedures.fasting import Cutoff, FastingRules, Item, compute_fasting_plan

CHICAGO = ZoneInfo("America/Chicago")
UTC = dt.UTC
PHONE = "+13125550100"


def plan(arrival, feeding="regular", infant=False):
    return compute_fasting_plan(
        start=arrival + dt.timedelta(hours=1),
        arrival=arrival,
        time_zone="America/Chicago",
        feeding=feeding,
        sedation="general",
        rules=FastingRules(),
        infant=infant,
    )


def cutoff(item, at):
    return Cutoff(item=item, at=at, hours=1)


# --- Clock times ----------------------------------------------------------------------

# 1 November 2026: at 2:00 CDT the clocks go back to 1:00 CST, so 1:30 happens twice.
FIRST_130 = dt.datetime(2026, 11, 1, 6, 30, tzinfo=UTC).astimezone(CHICAGO)
SECOND_130 = dt.datetime(2026, 11, 1, 7, 30, tzinfo=UTC).astimezone(CHICAGO)


def test_an_ordinary_time_carries_no_zone():
    assert fasting_display.clock(dt.datetime(2026, 6, 11, 1, 30, tzinfo=CHICAGO)) == "1:30 AM"
    assert fasting_display.clock(dt.datetime(2026, 11, 1, 6, 30, tzinfo=CHICAGO)) == "6:30 AM"


def test_the_first_130_on_the_night_the_clocks_go_back_says_cdt():
    assert fasting_display.clock(FIRST_130) == "1:30 AM CDT"


def test_the_second_130_on_the_night_the_clocks_go_back_says_cst():
    assert fasting_display.clock(SECOND_130) == "1:30 AM CST"


def test_the_hour_around_the_change_is_plain_on_either_side():
    assert fasting_display.clock(dt.datetime(2026, 11, 1, 0, 59, tzinfo=CHICAGO)) == "12:59 AM"
    assert fasting_display.clock(dt.datetime(2026, 11, 1, 8, 0, tzinfo=UTC).astimezone(CHICAGO)) == "2:00 AM"


def test_a_time_that_never_shows_on_the_clock_is_not_called_twice():
    # 8 March 2026: 2:30 does not exist in Chicago (the clocks jump from 2:00 to 3:00).
    assert not fasting_display.occurs_twice(dt.datetime(2026, 3, 8, 2, 30, tzinfo=CHICAGO))


def test_a_cutoff_on_the_fall_back_night_carries_its_zone_in_the_sentence():
    # Arrive 7:30 CST: solid food and milk stop 6 real hours earlier, at the second 1:30.
    p = plan(dt.datetime(2026, 11, 1, 7, 30, tzinfo=CHICAGO))
    line = fasting_display.describe(p.cutoff_for(Item.SOLIDS))
    assert line.clock == "1:30 AM CST"
    assert line.sentence == "Stop solid food Sunday at 1:30 AM CST (early morning)."
    assert "CST" not in fasting_display.describe(p.cutoff_for(Item.CLEAR_FLUIDS)).sentence


# --- Sentences for each feeding --------------------------------------------------------


def sentences(p):
    return " ".join(fasting_display.describe(c).sentence for c in p.cutoffs)


THURSDAY = dt.datetime(2026, 6, 11, 7, 30, tzinfo=CHICAGO)


def test_breast_milk_only_has_no_formula_or_other_milk_sentence():
    text = sentences(plan(THURSDAY, feeding="breast_milk", infant=True))
    assert "Stop breast milk Thursday at 3:30 AM (early morning)." in text
    assert "formula" not in text.lower()
    assert "other than breast milk" not in text


def test_breast_milk_and_formula_names_formula_on_its_own():
    text = sentences(plan(THURSDAY, feeding="breast_and_formula", infant=True))
    assert "Stop formula Thursday at 1:30 AM (early morning)." in text
    assert "Stop breast milk Thursday at 3:30 AM (early morning)." in text


def test_a_child_over_one_on_a_regular_diet_is_told_about_milk_and_never_formula():
    text = sentences(plan(THURSDAY))
    assert "Stop milk Thursday at 1:30 AM (early morning). This means cow, goat, soy or any other milk." in text
    assert "formula" not in text.lower()


def test_a_baby_under_one_on_a_regular_diet_is_told_formula_or_milk():
    assert "Stop formula and milk Thursday at 1:30 AM (early morning)." in sentences(plan(THURSDAY, infant=True))


def test_clear_fluids_are_explained_in_plain_words():
    text = str(fasting_display.CLEAR_FLUIDS_EXPLAINED)
    assert "water" in text and "clear apple juice" in text and "Pedialyte" in text
    with translation.override("es"):
        assert "agua" in str(fasting_display.CLEAR_FLUIDS_EXPLAINED)


# --- Cut-offs that have passed ---------------------------------------------------------

SOLIDS = cutoff(Item.SOLIDS, dt.datetime(2026, 6, 14, 1, 0, tzinfo=CHICAGO))  # a Sunday
CLEAR = cutoff(Item.CLEAR_FLUIDS, dt.datetime(2026, 6, 14, 6, 30, tzinfo=CHICAGO))


def test_a_cutoff_still_ahead_is_the_instruction():
    line = fasting_display.describe(SOLIDS, now=SOLIDS.at - dt.timedelta(minutes=1), name="Mia", phone=PHONE)
    assert not line.passed
    # A minute before 1:00 AM on Sunday, it is the night the family is in.
    assert line.sentence == "Stop solid food tonight at 1:00 AM (early Sunday)."
    assert line.call_line == ""


def test_without_a_clock_a_cutoff_is_the_instruction():
    line = fasting_display.describe(SOLIDS)
    assert not line.passed and line.sentence == "Stop solid food Sunday at 1:00 AM (early morning)."


def test_a_cutoff_at_this_very_minute_has_passed():
    assert fasting_display.describe(SOLIDS, now=SOLIDS.at).passed


def test_a_passed_cutoff_is_said_plainly_with_who_to_call():
    line = fasting_display.describe(SOLIDS, now=SOLIDS.at + dt.timedelta(hours=1), name="Mia", phone=PHONE)
    assert line.passed
    assert line.sentence == "The time to stop solid food has passed."
    assert line.call_line == "If Mia has had solid food since 1:00 AM, call us at (312) 555-0100."


def test_the_last_clear_drink_passed_says_nothing_more_to_eat_or_drink():
    line = fasting_display.describe(CLEAR, now=CLEAR.at + dt.timedelta(minutes=5), name="Mia", phone=PHONE)
    assert line.sentence == (
        "The time for the last clear drink has passed. Mia should have nothing more to eat or drink."
    )
    assert line.call_line == "If Mia has had anything to eat or drink since 6:30 AM, call us at (312) 555-0100."


def test_without_a_name_or_phone_the_call_line_still_reads_well():
    line = fasting_display.describe(CLEAR, now=CLEAR.at)
    assert line.sentence.endswith("Your child should have nothing more to eat or drink.")
    assert line.call_line == "If your child has had anything to eat or drink since 6:30 AM, call us."


def test_passed_is_judged_in_real_time_on_the_night_the_clocks_go_back():
    # It is 1:45 CDT; the cut-off is the second 1:30 (CST), still 45 minutes away.
    now = dt.datetime(2026, 11, 1, 6, 45, tzinfo=UTC).astimezone(CHICAGO)
    assert not fasting_display.describe(cutoff(Item.SOLIDS, SECOND_130), now=now).passed
    assert fasting_display.describe(cutoff(Item.SOLIDS, FIRST_130), now=now).passed


INSTRUCTION_WORDS = ("No ", "Nada de", "after", "después de las")


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("feeding", ["breast_milk", "breast_and_formula", "formula", "regular"])
def test_passed_cutoffs_are_never_worded_as_instructions(language, feeding):
    p = plan(THURSDAY, feeding=feeding, infant=feeding != "regular")
    with translation.override(language):
        lines = fasting_display.describe_plan(p, now=THURSDAY, name="Mia", phone=PHONE)
    assert lines and all(line.passed for line in lines)
    for line in lines:
        assert not any(word in line.sentence for word in INSTRUCTION_WORDS), line.sentence
        assert "(312) 555-0100" in line.call_line


def test_describe_plan_mixes_passed_and_ahead_in_order():
    p = plan(THURSDAY)
    lines = fasting_display.describe_plan(p, now=dt.datetime(2026, 6, 11, 5, 0, tzinfo=CHICAGO), name="Mia")
    assert [line.passed for line in lines] == [True, True, True, False]
    assert lines[-1].sentence.startswith("Stop clear fluids today at 6:30 AM.")


def test_spanish_sentences_keep_the_time_and_name():
    with translation.override("es"):
        line = fasting_display.describe(SOLIDS, now=SOLIDS.at, name="Mia", phone=PHONE)
        ahead = fasting_display.describe(SOLIDS)
    assert line.sentence == "Ya pasó la hora de dejar la comida sólida."
    assert line.call_line == "Si Mia comió comida sólida después de las 1:00 AM, llámenos al (312) 555-0100."
    assert ahead.sentence == "Deje de darle comida sólida el domingo a la 1:00 AM de la madrugada."


# --- What comes next on the day --------------------------------------------------------


def test_before_the_day_there_is_no_next_step():
    p = plan(THURSDAY)  # fatty food stops 23:30 Wednesday
    assert fasting_display.next_step(p, now=dt.datetime(2026, 6, 9, 23, 0, tzinfo=CHICAGO), arrival=THURSDAY) is None


def test_from_the_day_of_the_first_cutoff_the_next_step_leads():
    p = plan(THURSDAY)
    step = fasting_display.next_step(p, now=dt.datetime(2026, 6, 10, 20, 0, tzinfo=CHICAGO), arrival=THURSDAY)
    assert step.headline == "Next: last fatty or fried food, tonight at 11:30 PM"


def test_cutoffs_at_the_same_time_make_one_next_step():
    p = plan(THURSDAY)
    step = fasting_display.next_step(p, now=dt.datetime(2026, 6, 11, 0, 0, tzinfo=CHICAGO), arrival=THURSDAY)
    assert step.headline == "Next: last solid food and milk, tonight at 1:30 AM (early Thursday)"
    assert "Stop solid food tonight at 1:30 AM" in step.detail and "Stop milk tonight at 1:30 AM" in step.detail


def test_at_five_in_the_morning_the_next_step_is_the_last_clear_drink():
    p = plan(THURSDAY)
    step = fasting_display.next_step(p, now=dt.datetime(2026, 6, 11, 5, 0, tzinfo=CHICAGO), arrival=THURSDAY)
    assert step.headline == "Next: last clear drink, today at 6:30 AM"
    assert not step.is_arrival


def test_when_every_cutoff_has_passed_the_next_step_is_to_leave():
    p = plan(THURSDAY)
    step = fasting_display.next_step(p, now=dt.datetime(2026, 6, 11, 6, 45, tzinfo=CHICAGO), arrival=THURSDAY)
    assert step.headline == "Leave for the hospital so you arrive today at 7:30 AM."
    assert step.is_arrival


def test_after_arrival_time_there_is_no_next_step():
    p = plan(THURSDAY)
    assert fasting_display.next_step(p, now=THURSDAY, arrival=THURSDAY) is None


def test_the_clinics_wall_clock_keeps_the_second_130_apart_from_the_first():
    from procedures.models import Location

    local = Location(timezone="America/Chicago").localize(dt.datetime(2026, 11, 1, 7, 30, tzinfo=UTC))
    assert local.astimezone(UTC) == dt.datetime(2026, 11, 1, 7, 30, tzinfo=UTC)
    assert fasting_display.clock(local) == "1:30 AM CST"


# --- Each distinct time formatted once ------------------------------------------------


def test_a_remembered_time_keeps_the_two_130s_apart_in_either_order():
    # Aware times in one zone compare equal across the fold: what is kept must not mix them up.
    assert FIRST_130 == SECOND_130 and FIRST_130.fold != SECOND_130.fold
    for first, second in ((FIRST_130, SECOND_130), (SECOND_130, FIRST_130)):
        fasting_display._formatted.cache_clear()
        assert fasting_display.clock(first) == f"1:30 AM {first.tzname()}"
        assert fasting_display.clock(second) == f"1:30 AM {second.tzname()}"
        for moment in (first, second):
            assert fasting_display.formatted(moment, "g:i A T O") == date_format(moment, "g:i A T O")


def test_a_remembered_time_is_per_zone_and_per_language():
    moment = dt.datetime(2026, 6, 11, 18, 30, tzinfo=UTC)
    assert fasting_display.clock(moment.astimezone(CHICAGO)) == "1:30 PM"
    assert fasting_display.clock(moment.astimezone(ZoneInfo("America/New_York"))) == "2:30 PM"
    assert fasting_display.weekday(moment.astimezone(CHICAGO)) == "Thursday"
    with translation.override("es"):
        assert fasting_display.weekday(moment.astimezone(CHICAGO)) == "jueves"
    assert fasting_display.weekday(moment.astimezone(CHICAGO)) == "Thursday"


def test_a_remembered_time_follows_a_change_of_formats(settings):
    at = dt.datetime(2026, 6, 11, 13, 30, tzinfo=CHICAGO)
    assert fasting_display.clock(at) == "1:30 PM"
    settings.FORMAT_MODULE_PATH = None  # Django's own English formats (Django keeps its own look-ups too)
    reset_format_cache()
    assert fasting_display.clock(at) == date_format(at, "TIME_FORMAT") == "1:30 p.m."
    settings.FORMAT_MODULE_PATH = ["portal.formats"]
    reset_format_cache()
    assert fasting_display.clock(at) == "1:30 PM"
