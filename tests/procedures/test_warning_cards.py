"""Warning-sign cards on the nurse dashboard: one card a child, whom to call, what is new, a flat query count."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from procedures.models import Procedure, SymptomReport

from ..factories import GuardianFactory, PatientFactory

REFRESH = {"HTTP_X_BACKGROUND_REFRESH": "1"}


def _flag(procedure, user, *, minutes_ago: int = 0, **fields) -> SymptomReport:
    return SymptomReport.objects.create(
        procedure=procedure,
        user=user,
        needs_attention=True,
        created_at=timezone.now() - dt.timedelta(minutes=minutes_ago),
        **fields,
    )


def _board(client, **extra):
    return client.get(reverse("nurse:dashboard"), **extra)


def test_a_card_names_the_guardian_with_a_number_to_tap_and_call(client, nurse, guardian, procedure):
    _flag(procedure, guardian.user, bleeding=True)
    client.force_login(nurse)
    page = _board(client).content.decode()
    assert 'href="tel:+13125550142"' in page
    assert "Call Alice Parent: (312) 555-0142" in page
    assert "Bleeding that does not stop." in page


def test_each_parent_who_reported_is_on_the_childs_one_card(client, nurse, guardian, patient, procedure):
    other = GuardianFactory(user__full_name="Omar Parent", mobile_number="+13125550177")
    patient.guardians.add(other)
    _flag(procedure, guardian.user, minutes_ago=30, chills=True)
    _flag(procedure, other.user, bleeding=True)
    client.force_login(nurse)
    response = _board(client)
    [card] = response.context["board"].flag_cards
    assert [person.full_name for person in card.reporters] == ["Omar Parent", "Alice Parent"]
    page = response.content.decode()
    assert page.count('class="flag-card') == 1
    assert 'href="tel:+13125550177"' in page and 'href="tel:+13125550142"' in page


def test_a_reporter_without_a_mobile_is_said_plainly(client, nurse, guardian, procedure):
    guardian.mobile_number = ""
    guardian.save()
    _flag(procedure, guardian.user, chills=True)
    client.force_login(nurse)
    assert "Alice Parent: no mobile number on file" in _board(client).content.decode()


def test_dealing_with_a_card_acknowledges_only_the_reports_the_nurse_saw(client, nurse, guardian, procedure):
    seen = [_flag(procedure, guardian.user, minutes_ago=20), _flag(procedure, guardian.user, minutes_ago=10)]
    client.force_login(nurse)
    _board(client)
    arrived_since = _flag(procedure, guardian.user)
    response = client.post(reverse("nurse:check_ins_acknowledge"), {"report": [r.pk for r in seen]}, follow=True)
    assert "Acknowledged. Thank you for following up." in response.content.decode()
    assert set(SymptomReport.objects.open_flags()) == {arrived_since}
    again = client.post(reverse("nurse:check_ins_acknowledge"), {"report": [r.pk for r in seen]}, follow=True)
    assert "already acknowledged" in again.content.decode()


@pytest.mark.parametrize("ids", [[], ["abc"], ["²"], ["-1"], ["0"], ["9" * 30], ["99999999"]])
def test_acknowledging_nothing_known_is_a_404_never_a_500(client, nurse, ids):
    client.force_login(nurse)
    assert client.post(reverse("nurse:check_ins_acknowledge"), {"report": ids}).status_code == 404


def test_another_clinics_nurse_cannot_acknowledge_the_card(client, other_nurse, guardian, procedure):
    report = _flag(procedure, guardian.user)
    client.force_login(other_nurse)
    assert client.post(reverse("nurse:check_ins_acknowledge"), {"report": [report.pk]}).status_code == 404
    assert SymptomReport.objects.open_flags().count() == 1


def test_what_came_in_since_the_nurse_last_looked_is_marked_new(client, nurse, guardian, procedure):
    _flag(procedure, guardian.user, minutes_ago=60)
    client.force_login(nurse)
    first = _board(client)
    assert not first.context["board"].flag_cards[0].is_new  # nothing to compare with on the first look
    _flag(procedure, guardian.user, chills=True)
    # The page refreshing itself still shows it as new, however often it refreshes.
    for _ in range(2):
        refreshed = _board(client, **REFRESH)
        assert refreshed.context["board"].flag_cards[0].is_new
    page = refreshed.content.decode()
    assert "1 child with new warning signs since you last looked" in page
    # A real look by the nurse: after it, nothing is new.
    _board(client)
    assert not _board(client).context["board"].flag_cards[0].is_new


def test_a_look_writes_the_session_only_when_it_changes_what_is_new(client, nurse, guardian, procedure):
    import time_machine

    _flag(procedure, guardian.user, minutes_ago=60)
    client.force_login(nurse)
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        _board(client)
        first = client.session["dashboard_seen"]
        clock.shift(10)
        _board(client)  # nothing newer shown, and a moment later: the stored look stands
        assert client.session["dashboard_seen"] == first
        clock.shift(1)
        _flag(procedure, guardian.user, chills=True)
        clock.shift(1)
        assert _board(client).context["board"].flag_cards[0].is_new
        after_new = client.session["dashboard_seen"]
        assert after_new != first  # it showed something new: that look is stored
        assert not _board(client).context["board"].flag_cards[0].is_new
        clock.shift(31)
        _board(client)
        assert client.session["dashboard_seen"] != after_new  # long enough ago: stored again


def test_the_page_carries_its_refresh_and_a_polite_updated_note(client, nurse, location):
    client.force_login(nurse)
    page = _board(client).content.decode()
    assert 'data-refresh-every="60"' in page
    assert 'id="dashboard-updated" class="small text-body-secondary mb-2" role="status"' in page
    assert "Updated " in page


def test_a_background_refresh_does_not_keep_an_idle_session_alive(client, nurse, location):
    client.force_login(nurse)
    _board(client)
    session = client.session
    session["last_seen"] -= 60
    session.save()
    before = client.session["last_seen"]
    _board(client, **REFRESH)
    assert client.session["last_seen"] == before
    _board(client)
    assert client.session["last_seen"] > before


def _fill(location, guardian, children: int, per_child: int) -> None:
    now = timezone.now()
    patients = PatientFactory.build_batch(children, location=location)
    patients = type(patients[0]).objects.bulk_create(patients)
    for patient in patients:
        patient.guardians.add(guardian)
    procedures = Procedure.objects.bulk_create(
        Procedure(patient=p, location=location, scheduled_start=now, arrival_at=now - dt.timedelta(hours=1))
        for p in patients
    )
    SymptomReport.objects.bulk_create(
        SymptomReport(
            procedure=p, user=guardian.user, needs_attention=True, created_at=now - dt.timedelta(minutes=i + n)
        )
        for i, p in enumerate(procedures)
        for n in range(per_child)
    )


def test_dashboard_query_count_is_flat_with_10_and_1000_warning_reports(client, nurse, guardian, location):
    client.force_login(nurse)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert _board(client).status_code == 200
        # The page's own queries: not the session's (read from the table on SQLite).
        return sum('"django_session"' not in query["sql"] for query in ctx.captured_queries)

    _fill(location, guardian, children=5, per_child=2)
    assert SymptomReport.objects.count() == 10
    _board(client)  # the first look sets the "last looked" time: compare like with like
    few = count()
    _fill(location, guardian, children=330, per_child=3)
    assert SymptomReport.objects.count() == 1000
    many = count()
    print(f"nurse:dashboard: {few} queries with 10 warning reports, {many} with 1,000")
    assert few == many
    # The cards: one page of children with how many there are, and their reports; the families'
    # answers and their texts (reminders.replies): one query each.
    assert many <= 12
