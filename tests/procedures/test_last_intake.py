"""When the child last ate and drank: the family's morning answer, the nurse's check, the real fasts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from procedures import fasting, intake, outcomes
from procedures.fasting import Intake, Item
from procedures.models import Feeding, Procedure

from .conftest import CHICAGO, START

MORNING = dt.datetime(2026, 6, 11, 6, 45, tzinfo=CHICAGO)


@pytest.fixture
def booked(booked_thursday):
    return booked_thursday


def _answer(client, procedure, **times):
    return client.post(reverse("family:intake", args=[procedure.pk]), times)


def test_the_family_answers_on_the_morning_from_the_appointment_page(client, guardian, booked):
    client.force_login(guardian.user)
    with time_machine.travel(MORNING, tick=False):
        page = client.get(reverse("family:procedure", args=[booked.pk])).content.decode()
        assert "When did Mia last eat and drink?" in page
        assert reverse("family:intake", args=[booked.pk]) in page
        # 6:10 this morning; 22:15 is still to come today, so it was last night.
        response = _answer(client, booked, drink="06:10", food="22:15")
        assert response.status_code == 302
        page = client.get(response["Location"]).content.decode()
    assert "The care team will check these times with you when you arrive." in page
    booked.refresh_from_db()
    assert booked.last_drink_at == dt.datetime(2026, 6, 11, 6, 10, tzinfo=CHICAGO)
    assert booked.last_food_at == dt.datetime(2026, 6, 10, 22, 15, tzinfo=CHICAGO)
    assert booked.intake_told_by == guardian.user


def test_the_question_is_asked_only_on_the_day(client, guardian, booked):
    client.force_login(guardian.user)
    with time_machine.travel(MORNING - dt.timedelta(days=1), tick=False):
        page = client.get(reverse("family:procedure", args=[booked.pk])).content.decode()
        assert "last eat and drink" not in page
        _answer(client, booked, drink="06:10")
    assert Procedure.objects.get(pk=booked.pk).last_drink_at is None


@pytest.mark.parametrize("times", [{}, {"drink": "soon"}])
def test_a_bad_answer_gets_a_message_and_changes_nothing(client, guardian, booked, times):
    client.force_login(guardian.user)
    with time_machine.travel(MORNING, tick=False):
        page = client.get(_answer(client, booked, **times)["Location"]).content.decode()
    assert "Give at least one time." in page or "for example 6:30" in page
    assert Procedure.objects.get(pk=booked.pk).intake_told_at is None


def test_another_family_cannot_answer_for_this_child(client, other_guardian, booked):
    client.force_login(other_guardian.user)
    with time_machine.travel(MORNING, tick=False):
        assert _answer(client, booked, drink="06:10").status_code == 404


def test_the_nurse_corrects_at_check_in_and_sees_the_fasts_against_the_cut_offs(client, nurse, guardian, booked):
    with time_machine.travel(MORNING, tick=False):
        intake.family_answer(
            procedure=booked, user=guardian.user, times={Intake.DRINK: dt.datetime(2026, 6, 11, 6, 10, tzinfo=CHICAGO)}
        )
    client.force_login(nurse)
    with time_machine.travel(MORNING + dt.timedelta(minutes=45), tick=False):
        form = client.get(reverse("nurse:procedure_intake", args=[booked.pk])).content.decode()
        assert "06:10" in form
        assert (
            client.post(
                reverse("nurse:procedure_intake", args=[booked.pk]), {"drink": "06:40", "food": "20:00"}
            ).status_code
            == 302
        )
    with time_machine.travel(dt.datetime(2026, 6, 11, 9, 0, tzinfo=CHICAGO), tick=False):
        outcomes.record_start(procedure=booked, started_at=START, by=nurse)
        page = client.get(reverse("nurse:procedure_detail", args=[booked.pk])).content.decode()
    booked.refresh_from_db()
    assert booked.intake_checked_by == nurse
    lines = {line.intake: line for line in booked.fasted()}
    # Clear drink at 6:40, after the 6:30 cut-off: 1 h 50 min to the 8:30 start, the plan asks 2 h.
    assert (lines[Intake.DRINK].minutes, lines[Intake.DRINK].target_minutes, lines[Intake.DRINK].too_late) == (
        110,
        120,
        True,
    )
    # Food at 20:00 the evening before: 12 h 30 min; the plan asks 7 h (6 h before the 7:30 arrival).
    assert (lines[Intake.FOOD].minutes, lines[Intake.FOOD].target_minutes) == (750, 420)
    assert "1 h 50 min" in page and "after the cut-off" in page and "12 h 30 min" in page


def test_milk_is_held_to_the_latest_of_the_childs_milks():
    plan = fasting.compute_fasting_plan(
        start=START,
        arrival=START - dt.timedelta(hours=1),
        time_zone="America/Chicago",
        feeding=Feeding.BREAST_AND_FORMULA,
        sedation="general",
        rules=fasting.FastingRules(),
    )
    assert fasting.cutoff_for_intake(plan, Intake.MILK).item == Item.BREAST_MILK
    assert fasting.cutoff_for_intake(plan, Intake.FOOD) is None
    last = {Intake.MILK: START - dt.timedelta(hours=5), Intake.FOOD: START - dt.timedelta(hours=9)}
    (milk,) = fasting.fasted(plan, start=START, last=last)
    assert (milk.minutes, milk.target_minutes, milk.cutoff.hours) == (300, 300, Decimal("4"))


@pytest.mark.parametrize(("minutes", "said"), [(0, "0 min"), (59, "59 min"), (60, "1 h 0 min"), (250, "4 h 10 min")])
def test_hours_and_minutes(minutes, said):
    assert fasting.hours_and_minutes(minutes) == said
