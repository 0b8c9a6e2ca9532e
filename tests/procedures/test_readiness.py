"""The family's checklist, fasting plan on the page, and what the nurse sees."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from procedures import services
from procedures.models import (
    EducationPage,
    FastingPolicy,
    PageView,
    PreparedQuestion,
    Procedure,
    ProcedureType,
    Readiness,
)
from procedures.readiness import education_pages, with_readiness

from ..factories import GuardianFactory, PatientFactory, ProcedureFactory

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
    # Read on Tuesday morning: Wednesday night is "tomorrow", Thursday is named.
    assert "Stop fatty or fried food tomorrow at 11:30 PM." in html
    assert "Stop solid food Thursday at 1:30 AM (early morning)." in html
    assert "Stop clear fluids Thursday at 6:30 AM." in html
    assert "Stop breast milk" not in html  # a regular-diet child gets no breast-milk line


def test_the_dashboard_shows_the_same_timeline(client, guardian, booked):
    with time_machine.travel(NOW, tick=False):
        client.force_login(guardian.user)
        html = client.get(reverse("family:dashboard")).content.decode()
    assert "Stop solid food Thursday at 1:30 AM (early morning)." in html


def test_the_admins_policy_changes_the_times(client, guardian, booked):
    FastingPolicy.objects.create(clear_fluids_hours=2)
    with time_machine.travel(NOW, tick=False):
        client.force_login(guardian.user)
        assert "Stop clear fluids Thursday at 5:30 AM." in _page(client, booked)


def test_a_longer_fast_set_by_the_nurse_wins(client, guardian, booked):
    booked.fasting_minimum_hours = 10
    booked.save()
    with time_machine.travel(NOW, tick=False):
        client.force_login(guardian.user)
        html = _page(client, booked)
    assert "Stop solid food tomorrow at 9:30 PM." in html
    assert "Stop clear fluids Thursday at 6:30 AM." in html


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


# --- The checklist's facts against the rows they come from -----------------------------------

FACTS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
GUARDIANS, PROCEDURES = 3, 3


@st.composite
def _households(draw: st.DrawFn) -> dict[str, object]:
    """Who is whose guardian, which pages each read, their ticks and questions, each procedure's version."""
    pairs = st.tuples(st.integers(0, PROCEDURES - 1), st.integers(0, GUARDIANS - 1))
    return {
        "links": draw(st.sets(st.tuples(st.integers(0, 1), st.integers(0, GUARDIANS - 1)))),
        "of_patient": draw(st.lists(st.integers(0, 1), min_size=PROCEDURES, max_size=PROCEDURES)),
        "versions": draw(st.lists(st.integers(1, 3), min_size=PROCEDURES, max_size=PROCEDURES)),
        "read": draw(st.sets(st.tuples(st.integers(0, GUARDIANS - 1), st.integers(0, 5)))),
        "ticks": draw(st.dictionaries(pairs, st.tuples(st.sampled_from([None, 1, 2, 3]), st.booleans()))),
        "questions": draw(st.lists(pairs, max_size=6)),
    }


def _facts(procedure: Procedure) -> tuple[int, int, bool, int, bool]:
    return (
        procedure.pages_total,
        procedure.pages_read,
        procedure.fasting_acknowledged,
        procedure.questions_prepared,
        procedure.contact_confirmed,
    )


@FACTS
@given(household=_households())
def test_the_checklist_facts_match_the_rows_they_come_from(db, location, household):
    """Each guardian's own facts and the family's, read in the list's query, against the rows counted in Python."""
    with transaction.atomic():
        other_kind = ProcedureType.objects.create(slug="other", name_en="Other", name_es="Otro")
        other_page = EducationPage.objects.create(
            procedure_type=other_kind,
            slug="o",
            order=1,
            title_en="o",
            title_es="o",
            body_en="o",
            body_es="o",
            reviewed_on=dt.date(2032, 1, 1),
        )
        pages = list(education_pages())
        readable = [*pages[:5], other_page]  # five of the bone-marrow pages and one about something else
        users = [GuardianFactory().user for _ in range(GUARDIANS)]
        patients = [PatientFactory(location=location) for _ in range(2)]
        for child, guardian in household["links"]:
            patients[child].guardians.add(users[guardian].guardian)
        procedures = [ProcedureFactory(patient=patients[child]) for child in household["of_patient"]]
        for procedure, version in zip(procedures, household["versions"], strict=True):
            Procedure.objects.filter(pk=procedure.pk).update(version=version)
            procedure.version = version
        for guardian, page in household["read"]:
            PageView.objects.create(user=users[guardian], page=readable[page])
        for (index, guardian), (version, confirmed) in household["ticks"].items():
            Readiness.objects.create(
                procedure=procedures[index],
                user=users[guardian],
                fasting_ack_version=version,
                contact_confirmed_at=timezone.now() if confirmed else None,
            )
        for index, guardian in household["questions"]:
            PreparedQuestion.objects.create(procedure=procedures[index], user=users[guardian], text="Why?")

        counted = {page.pk for page in pages}
        read = {
            user.pk: len({readable[page].pk for who, page in household["read"] if who == index} & counted)
            for index, user in enumerate(users)
        }

        def expected(index: int, procedure: Procedure, user_index: int | None) -> tuple[int, int, bool, int, bool]:
            mine = [user_index] if user_index is not None else range(GUARDIANS)
            ticks = [household["ticks"][index, who] for who in mine if (index, who) in household["ticks"]]
            if user_index is not None:
                pages_read = read[users[user_index].pk]
            else:
                child = household["of_patient"][index]
                pages_read = max((read[users[who].pk] for c, who in household["links"] if c == child), default=0)
            return (
                len(counted),
                pages_read,
                any(version == procedure.version for version, _ in ticks),
                sum(1 for i, who in household["questions"] if i == index and who in mine),
                any(confirmed for _, confirmed in ticks),
            )

        everyone = Procedure.objects.filter(pk__in=[p.pk for p in procedures])
        family = {p.pk: _facts(p) for p in with_readiness(everyone)}
        assert family == {p.pk: expected(i, p, None) for i, p in enumerate(procedures)}
        for who, user in enumerate(users):
            own = {p.pk: _facts(p) for p in with_readiness(everyone, user=user)}
            assert own == {p.pk: expected(i, p, who) for i, p in enumerate(procedures)}
        # Inside a subquery the list's table has another alias; the facts follow it.
        confirmed = Procedure.objects.filter(
            pk__in=with_readiness(everyone).filter(contact_confirmed=True).values("pk")
        )
        assert set(confirmed.values_list("pk", flat=True)) == {p.pk for p in procedures if family[p.pk][4]}
        transaction.set_rollback(True)
