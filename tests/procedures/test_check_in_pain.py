"""The pain question: nothing ticked in advance, and asked in a way that fits the day."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
import time_machine
from django.template.loader import render_to_string
from django.urls import reverse

from procedures.aftercare import LATER_PAIN, SAME_DAY_PAIN, pain_question
from procedures.models import ProcedureStatus, RedFlagRule, SymptomReport

CHICAGO = zoneinfo.ZoneInfo("America/Chicago")
# A procedure that ended at 3 PM in the clinic's own time.
ENDED = dt.datetime(2026, 3, 10, 15, 0, tzinfo=CHICAGO)
SAME_EVENING = dt.datetime(2026, 3, 10, 23, 30, tzinfo=CHICAGO)  # already the next day in UTC
NEXT_MORNING = dt.datetime(2026, 3, 11, 8, 0, tzinfo=CHICAGO)


@pytest.fixture
def done(procedure):
    procedure.status = ProcedureStatus.COMPLETED
    procedure.scheduled_start = ENDED - dt.timedelta(hours=1)
    procedure.arrival_at = ENDED - dt.timedelta(hours=2)
    procedure.ended_at = ENDED
    procedure.save()
    return procedure


def _url(procedure) -> str:
    return reverse("family:check_in", args=[procedure.pk])


def _pain_radios(response) -> list[tuple[str, bool]]:
    field = response.context["form"]["pain"]
    return [(choice.data["value"], bool(choice.data["selected"])) for choice in field]


@pytest.mark.parametrize(("moment", "question"), [(SAME_EVENING, SAME_DAY_PAIN), (NEXT_MORNING, LATER_PAIN)])
def test_the_day_is_the_clinics_not_utcs(done, moment, question):
    assert pain_question(done, moment) == question


def test_on_the_evening_of_the_procedure_the_family_is_asked_how_much_it_hurts(client, guardian, done):
    client.force_login(guardian.user)
    with time_machine.travel(SAME_EVENING, tick=False):
        response = client.get(_url(done))
    html = response.content.decode()
    assert "How is the pain?" in html and "yesterday" not in html
    assert _pain_radios(response) == [("none", False), ("some", False), ("a_lot", False)]


def test_from_the_next_day_the_family_compares_with_yesterday(client, guardian, done):
    client.force_login(guardian.user)
    with time_machine.travel(NEXT_MORNING, tick=False):
        response = client.get(_url(done))
    assert "How is the pain, compared with yesterday?" in response.content.decode()
    assert _pain_radios(response) == [("none", False), ("better", False), ("same", False), ("worse", False)]


def test_no_answer_is_ticked_in_advance_and_none_is_assumed(client, guardian, done):
    client.force_login(guardian.user)
    with time_machine.travel(SAME_EVENING, tick=False):
        html = client.get(_url(done)).content.decode()
        response = client.post(_url(done), {"temperature_unit": "F"})
    assert "checked" not in html[html.index('name="pain"') - 300 :].split("</fieldset>")[0]
    assert "Thank you" in response.content.decode()
    report = SymptomReport.objects.get()
    assert report.pain == ""
    assert "Pain: not answered." in render_to_string("procedures/nurse/_report_summary.html", {"report": report})


def test_the_nurse_reads_the_answer_the_family_ticked(client, guardian, done):
    client.force_login(guardian.user)
    with time_machine.travel(SAME_EVENING, tick=False):
        client.post(_url(done), {"temperature_unit": "F", "pain": "a_lot"})
    report = SymptomReport.objects.get()
    assert "Pain: A lot of pain." in render_to_string("procedures/nurse/_report_summary.html", {"report": report})


def test_an_answer_that_does_not_fit_the_day_gets_a_message_and_nothing_is_saved(client, guardian, done):
    client.force_login(guardian.user)
    with time_machine.travel(SAME_EVENING, tick=False):
        response = client.post(_url(done), {"temperature_unit": "F", "pain": "worse"})
    assert response.status_code == 200
    assert response.context["form"].errors["pain"] == ["Please choose one of the answers shown, or leave it blank."]
    assert not SymptomReport.objects.exists()


def test_worse_than_yesterday_still_meets_the_worse_pain_rule_when_it_is_on(client, guardian, done):
    RedFlagRule.objects.filter(code="pain-worse").update(is_active=True)
    client.force_login(guardian.user)
    with time_machine.travel(NEXT_MORNING, tick=False):
        response = client.post(_url(done), {"temperature_unit": "F", "pain": "worse"})
    assert "Call your care team now" in response.content.decode()
    assert SymptomReport.objects.get().flags == ["pain-worse"]
