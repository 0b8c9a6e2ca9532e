"""The family's checklist, fasting plan on the page, and what the nurse sees."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.urls import reverse

from procedures import services
from procedures.models import FastingPolicy, PreparedQuestion, Procedure, Readiness
from procedures.readiness import education_pages

from ..factories import PatientFactory, ProcedureFactory

# 07:30 arrival, 08:30 start in Chicago on Thursday 10 June 2032 (CDT, UTC-5).
ARRIVAL = dt.datetime(2032, 6, 10, 12, 30, tzinfo=dt.UTC)
NOW = dt.datetime(2032, 6, 8, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def booked(patient):
    return ProcedureFactory(patient=patient, arrival_at=ARRIVAL, scheduled_start=ARRIVAL + dt.timedelta(hours=1))


def _page(client, procedure):
    return client.get(reverse("family:procedure", args=[procedure.pk])).content.decode()


def test_the_parent_sees_the_fasting_times_as_clock_times(client, guardian, booked):
    with time_machine.travel(NOW, tick=False):
        client.force_login(guardian.user)
        html = _page(client, booked)
    assert "No fatty or fried food after 11:30 PM Wednesday." in html
    assert "No solid food after 1:30 AM Thursday." in html
    assert "No clear fluids after 6:30 AM Thursday." in html
    assert "breast milk after" not in html  # a regular-diet child gets no breast-milk line


def test_the_dashboard_shows_the_same_timeline(client, guardian, booked):
    with time_machine.travel(NOW, tick=False):
        client.force_login(guardian.user)
        html = client.get(reverse("family:dashboard")).content.decode()
    assert "No solid food after 1:30 AM Thursday." in html


def test_the_admins_policy_changes_the_times(client, guardian, booked):
    FastingPolicy.objects.create(clear_fluids_hours=2)
    with time_machine.travel(NOW, tick=False):
        client.force_login(guardian.user)
        assert "No clear fluids after 5:30 AM Thursday." in _page(client, booked)


def test_a_longer_fast_set_by_the_nurse_wins(client, guardian, booked):
    booked.fasting_minimum_hours = 10
    booked.save()
    with time_machine.travel(NOW, tick=False):
        client.force_login(guardian.user)
        html = _page(client, booked)
    assert "No solid food after 9:30 PM Wednesday." in html
    assert "No clear fluids after 6:30 AM Thursday." in html


def test_local_only_procedures_need_no_fasting(client, guardian, booked):
    booked.sedation = "local"
    booked.save()
    client.force_login(guardian.user)
    html = _page(client, booked)
    assert "No fasting is needed" in html
    assert "I have read these times" not in html


def test_acknowledging_records_who_when_and_which_version(client, guardian, booked):
    client.force_login(guardian.user)
    response = client.post(reverse("family:acknowledge_fasting", args=[booked.pk]), {"version": booked.version})
    assert response.status_code == 302
    readiness = Readiness.objects.get(procedure=booked, user=guardian.user)
    assert readiness.fasting_ack_version == 1
    assert readiness.fasting_ack_at is not None
    assert "You confirmed these times" in _page(client, booked)


def test_a_reschedule_makes_the_acknowledgement_stale(client, guardian, nurse, booked):
    client.force_login(guardian.user)
    client.post(reverse("family:acknowledge_fasting", args=[booked.pk]), {"version": booked.version})
    with time_machine.travel(NOW, tick=False):
        services.update_procedure(
            procedure=booked,
            changed_by=nurse,
            scheduled_start=booked.scheduled_start + dt.timedelta(hours=2),
            arrival_at=booked.arrival_at + dt.timedelta(hours=2),
        )
    html = _page(client, Procedure.objects.get(pk=booked.pk))
    assert "I have read these times" in html
    assert "You confirmed these times" not in html


def test_a_sedation_change_makes_the_acknowledgement_stale(client, guardian, nurse, booked):
    client.force_login(guardian.user)
    client.post(reverse("family:acknowledge_fasting", args=[booked.pk]), {"version": 1})
    services.update_procedure(procedure=booked, changed_by=nurse, sedation="sedation")
    assert "I have read these times" in _page(client, booked)


def test_acknowledging_an_old_version_is_refused(client, guardian, nurse, booked):
    services.update_procedure(procedure=booked, changed_by=nurse, sedation="sedation")
    client.force_login(guardian.user)
    response = client.post(reverse("family:acknowledge_fasting", args=[booked.pk]), {"version": 1}, follow=True)
    assert "The times have changed" in response.content.decode()
    assert not Readiness.objects.filter(fasting_ack_version__isnull=False).exists()


@pytest.mark.parametrize("version", ["", "abc", "-1", "9" * 30])
def test_garbage_versions_are_refused_without_error(client, guardian, booked, version):
    client.force_login(guardian.user)
    response = client.post(reverse("family:acknowledge_fasting", args=[booked.pk]), {"version": version})
    assert response.status_code == 302
    assert not Readiness.objects.exists()


def test_questions_are_saved_listed_and_printable(client, guardian, booked):
    client.force_login(guardian.user)
    url = reverse("family:questions", args=[booked.pk])
    response = client.post(url, {"standard": ["pain", "results"], "own": "Can I stay with her?"})
    assert response.status_code == 302
    assert PreparedQuestion.objects.filter(procedure=booked).count() == 3
    client.post(url, {"standard": ["pain"], "own": ""})
    printed = client.get(reverse("family:questions_print", args=[booked.pk])).content.decode()
    assert "Will it hurt during or after the test?" in printed
    assert "Can I stay with her?" in printed
    assert "How and when will we get the results?" not in printed


def test_a_question_that_is_too_long_gets_a_message_and_keeps_the_rest(client, guardian, booked):
    client.force_login(guardian.user)
    url = reverse("family:questions", args=[booked.pk])
    client.post(url, {"standard": ["pain"]})
    response = client.post(url, {"standard": ["pain"], "own": "x" * 301})
    assert response.status_code == 200
    assert "at most 300 characters" in response.content.decode()
    assert PreparedQuestion.objects.filter(standard_key="pain").count() == 1


def test_unknown_standard_question_is_refused(client, guardian, booked):
    client.force_login(guardian.user)
    response = client.post(reverse("family:questions", args=[booked.pk]), {"standard": ["<script>"]})
    assert response.status_code == 200
    assert not PreparedQuestion.objects.exists()


def test_a_guardian_cannot_delete_another_familys_question(client, guardian, other_guardian, booked):
    question = PreparedQuestion.objects.create(procedure=booked, user=other_guardian.user, text="x")
    client.force_login(guardian.user)
    response = client.post(reverse("family:question_delete", args=[booked.pk, question.pk]))
    assert response.status_code == 404
    assert PreparedQuestion.objects.filter(pk=question.pk).exists()


def test_confirming_the_contact_number_records_it(client, guardian, booked):
    client.force_login(guardian.user)
    client.post(reverse("family:confirm_contact", args=[booked.pk]))
    readiness = Readiness.objects.get()
    assert readiness.contact_confirmed_number == guardian.mobile_number
    assert "Phone number confirmed" in _page(client, booked)


def test_the_checklist_counts_what_is_done(client, guardian, booked):
    client.force_login(guardian.user)
    for page in education_pages():
        client.get(reverse("learn:page", args=[page.slug]), follow=True)
    client.get(reverse("learn:step", args=["the-day-step-by-step", 8]))
    client.post(reverse("family:acknowledge_fasting", args=[booked.pk]), {"version": 1})
    html = _page(client, booked)
    assert re.search(r"2 of 4 done", html)


def test_nurse_sees_each_procedures_readiness(client, nurse, guardian, booked):
    client.force_login(guardian.user)
    client.get(reverse("learn:page", args=["key-points"]))
    client.post(reverse("family:acknowledge_fasting", args=[booked.pk]), {"version": 1})
    client.force_login(nurse)
    row = client.get(reverse("nurse:procedure_list")).context["page"][0]
    assert (row.pages_read, row.pages_total) == (1, 9)
    assert row.fasting_acknowledged and row.questions_prepared == 0 and not row.contact_confirmed


def test_nurse_list_readiness_costs_no_extra_queries_per_row(client, nurse, guardian, location):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(nurse)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            client.get(reverse("nurse:procedure_list"))
        return len(ctx.captured_queries)

    def add(n: int) -> None:
        for _ in range(n):
            procedure = ProcedureFactory(patient=PatientFactory(location=location, guardians=[guardian]))
            Readiness.objects.create(procedure=procedure, user=guardian.user, fasting_ack_version=1)

    add(3)
    few = count()
    add(20)
    assert count() == few
