"""The day's outcome: the nurse records it in one step; the service decides on time or late, and why."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from portal.models import AuditEvent
from procedures import outcomes, services
from procedures.models import DayOutcome, OutcomeKind, OutcomeReason, Procedure, ProcedureStatus
from tests.factories import LocationFactory

from .conftest import BOOKED_ON, CHICAGO, START

LATER_THAT_DAY = dt.datetime(2026, 6, 11, 11, 0, tzinfo=CHICAGO)


@pytest.fixture
def booked(booked_thursday):
    return booked_thursday


def _reason(code: str) -> OutcomeReason:
    return OutcomeReason.objects.get(code=code, location=None)


def _post(client, procedure, **data):
    return client.post(reverse("nurse:procedure_outcome", args=[procedure.pk]), data)


def test_the_shipped_reasons_are_there_and_only_eating_or_drinking_counts_as_fasting(db):
    codes = list(OutcomeReason.objects.filter(location=None).values_list("code", flat=True))
    assert codes == [code for code, *_ in outcomes.DEFAULT_REASONS]
    assert list(OutcomeReason.objects.filter(fasting_related=True).values_list("code", flat=True)) == ["ate-or-drank"]


def test_a_start_within_five_minutes_is_on_time_and_needs_no_reason(client, nurse, booked):
    client.force_login(nurse)
    with time_machine.travel(LATER_THAT_DAY, tick=False):
        response = _post(client, booked, what="started", started_time="08:35")
    assert response.status_code == 302
    outcome = DayOutcome.objects.get(procedure=booked)
    assert (outcome.kind, outcome.late_minutes, outcome.reason) == (OutcomeKind.ON_TIME, 5, None)
    booked.refresh_from_db()
    assert booked.started_at == dt.datetime(2026, 6, 11, 8, 35, tzinfo=CHICAGO)
    assert AuditEvent.objects.filter(route="nurse:procedure_outcome", method="POST", patient_id=booked.patient_id)


def test_a_late_start_needs_a_reason_and_counts_from_the_start_first_given(client, nurse, booked):
    client.force_login(nurse)
    with time_machine.travel(dt.datetime(2026, 6, 11, 6, 0, tzinfo=CHICAGO), tick=False):
        services.mark_running_late(procedure=booked, changed_by=nurse, minutes=30)
    with time_machine.travel(LATER_THAT_DAY, tick=False):
        refused = _post(client, booked, what="started", started_time="09:10")
        assert refused.status_code == 200
        assert "Choose a reason." in refused.content.decode()
        assert not DayOutcome.objects.exists()
        done = _post(client, booked, what="started", started_time="09:10", reason=_reason("earlier-case").pk)
    assert done.status_code == 302
    outcome = DayOutcome.objects.get(procedure=booked)
    # 8:30 was the time given; running late moved it to 9:00; it started at 9:10: 40 minutes late.
    assert (outcome.kind, outcome.late_minutes) == (OutcomeKind.LATE, 40)
    assert outcome.summary == "Started 40 minutes late: Earlier case ran long."


def test_other_needs_a_few_words(client, nurse, booked):
    client.force_login(nurse)
    with time_machine.travel(LATER_THAT_DAY, tick=False):
        refused = _post(client, booked, what="cancelled", reason=_reason("other").pk)
        assert "Say in a few words what happened." in refused.content.decode()
        done = _post(client, booked, what="cancelled", reason=_reason("other").pk, reason_text="Power cut")
        assert done.status_code == 302
    booked.refresh_from_db()
    assert booked.status == ProcedureStatus.CANCELLED
    assert booked.cancel_reason == "Other: Power cut"
    assert booked.outcome.kind == OutcomeKind.CANCELLED_ON_DAY


def test_cancelling_on_the_day_needs_a_reason_even_from_the_cancel_page(client, nurse, booked):
    client.force_login(nurse)
    url = reverse("nurse:procedure_cancel", args=[booked.pk])
    with time_machine.travel(LATER_THAT_DAY - dt.timedelta(hours=4), tick=False):
        refused = client.post(url, {"reason": "Family called"})
        assert refused.status_code == 200 and "Choose a reason." in refused.content.decode()
        assert client.post(url, {"reason": "Family called", "outcome_reason": _reason("unwell").pk}).status_code == 302
    assert DayOutcome.objects.get(procedure=booked).kind == OutcomeKind.CANCELLED_ON_DAY


def test_a_procedure_cancelled_before_the_day_keeps_its_own_reason(client, nurse, booked):
    client.force_login(nurse)
    url = reverse("nurse:procedure_cancel", args=[booked.pk])
    with time_machine.travel(BOOKED_ON + dt.timedelta(days=1), tick=False):
        assert client.post(url, {"reason": "Moved to July", "outcome_reason": _reason("unwell").pk}).status_code == 302
    outcome = DayOutcome.objects.get(procedure=booked)
    assert (outcome.kind, outcome.reason.code) == (OutcomeKind.CANCELLED_BEFORE, "unwell")
    assert Procedure.objects.get(pk=booked.pk).cancel_reason == "Moved to July"


def test_a_clinic_adds_its_own_reason_and_another_clinic_cannot_use_it(client, nurse, booked):
    ours = OutcomeReason.objects.create(code="interpreter", label_en="No interpreter", location=booked.location)
    theirs = OutcomeReason.objects.create(code="parking", label_en="Parking", location=LocationFactory())
    client.force_login(nurse)
    with time_machine.travel(LATER_THAT_DAY, tick=False):
        page = client.get(reverse("nurse:procedure_outcome", args=[booked.pk])).content.decode()
        assert "No interpreter" in page and "Parking" not in page
        refused = _post(client, booked, what="started", started_time="09:00", reason=theirs.pk)
        assert refused.status_code == 200 and not DayOutcome.objects.exists()
        assert _post(client, booked, what="started", started_time="09:00", reason=ours.pk).status_code == 302
    assert DayOutcome.objects.get().reason == ours


def test_a_second_record_corrects_the_first(nurse, booked):
    with time_machine.travel(LATER_THAT_DAY, tick=False):
        outcomes.record_start(
            procedure=booked, started_at=START + dt.timedelta(minutes=50), by=nurse, reason=_reason("arrived-late")
        )
        outcomes.record_start(procedure=booked, started_at=START, by=nurse)
    outcome = DayOutcome.objects.get()
    assert (outcome.kind, outcome.late_minutes, outcome.reason) == (OutcomeKind.ON_TIME, 0, None)


@pytest.mark.parametrize(
    ("clock", "message"),
    [("12:00", "The start time cannot be in the future."), ("", "Give the time it really started.")],
)
def test_a_start_that_cannot_be_is_refused_with_a_message(client, nurse, booked, clock, message):
    client.force_login(nurse)
    with time_machine.travel(LATER_THAT_DAY, tick=False):
        response = _post(client, booked, what="started", started_time=clock)
    assert response.status_code == 200 and message in response.content.decode()


def test_a_cancelled_procedure_cannot_have_started(nurse, booked):
    with time_machine.travel(LATER_THAT_DAY, tick=False):
        outcomes.cancel(procedure=booked, by=nurse, reason=_reason("did-not-come"))
        with pytest.raises(outcomes.OutcomeError):
            outcomes.record_start(procedure=booked, started_at=START, by=nurse)


def test_a_nurse_of_another_clinic_gets_a_404(client, other_nurse, booked):
    client.force_login(other_nurse)
    assert client.get(reverse("nurse:procedure_outcome", args=[booked.pk])).status_code == 404
    assert _post(client, booked, what="started", started_time="08:30").status_code == 404


def test_the_day_list_shows_the_outcome_and_the_way_to_record_it(client, nurse, booked):
    client.force_login(nurse)
    with time_machine.travel(LATER_THAT_DAY, tick=False):
        outcomes.record_start(procedure=booked, started_at=START, by=nurse)
        page = client.get(reverse("nurse:day_list")).content.decode()
    assert "Started on time." in page
    assert reverse("nurse:procedure_outcome", args=[booked.pk]) in page
