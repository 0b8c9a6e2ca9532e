"""A number to call wherever a family is told to call: tap-to-call links in E.164."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from procedures.models import Location, Patient, Procedure, ProcedureStatus
from procedures.models.care import VISIT_DAYS

from ..factories import GuardianFactory, LocationFactory, PatientFactory, ProcedureFactory


def _html(client, url) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_every_family_page_ends_with_the_childs_clinic_as_tap_to_call(client, guardian, procedure):
    client.force_login(guardian.user)
    for url in (reverse("family:dashboard"), reverse("learn:index"), reverse("family:preferences")):
        html = _html(client, url)
        assert "Questions or worries? Call your clinic" in html
        assert 'href="tel:+13125550100">(312) 555-0100</a>' in html


def test_a_guardian_with_children_at_two_clinics_sees_both(client, guardian, patient, other_location):
    other_location.phone = "+12125550177"
    other_location.save()
    PatientFactory(first_name="Leo", location=other_location, guardians=[guardian])
    client.force_login(guardian.user)
    html = _html(client, reverse("family:dashboard"))
    assert 'href="tel:+13125550100"' in html and 'href="tel:+12125550177"' in html
    assert html.index("Lakeside Day Unit") < html.index("Northside Clinic")


def test_a_visit_at_another_clinic_adds_that_clinic(guardian, patient, other_location):
    ProcedureFactory(patient=patient, location=other_location)
    assert set(Location.objects.for_family(guardian.user)) == {patient.location, other_location}


def test_a_cancelled_or_long_past_visit_elsewhere_adds_nothing(guardian, patient, other_location):
    ProcedureFactory(patient=patient, location=other_location, status=ProcedureStatus.CANCELLED)
    old = timezone.now() - dt.timedelta(days=60)
    ProcedureFactory(patient=patient, location=other_location, scheduled_start=old, arrival_at=old)
    assert list(Location.objects.for_family(guardian.user)) == [patient.location]


def test_another_familys_clinic_is_never_shown(client, guardian, patient, other_guardian, other_location):
    other_location.phone = "+12125550177"
    other_location.save()
    PatientFactory(location=other_location, guardians=[other_guardian])
    client.force_login(guardian.user)
    assert "+12125550177" not in _html(client, reverse("family:dashboard"))
    assert list(Location.objects.for_family(other_guardian.user)) == [other_location]


def _by_the_orm(user) -> set:
    """The same rule through visible_to, as the ORM would write it: what for_family's own statement must match."""
    children = Patient.objects.visible_to(user)
    visits = Procedure.objects.filter(
        patient__in=children, scheduled_start__gte=timezone.now() - dt.timedelta(days=VISIT_DAYS)
    ).exclude(status=ProcedureStatus.CANCELLED)
    return set(Location.objects.filter(Q(pk__in=children.values("location")) | Q(pk__in=visits.values("location"))))


def test_the_clinics_are_those_visible_to_the_guardian_through_the_orm(
    guardian, patient, other_guardian, other_patient, other_location, nurse
):
    third = LocationFactory(name="Eastside")
    far = LocationFactory(name="Westside")
    shared = PatientFactory(location=third, guardians=[guardian, other_guardian])
    old = timezone.now() - dt.timedelta(days=VISIT_DAYS + 1)
    ProcedureFactory(patient=patient, location=other_location)
    ProcedureFactory(patient=shared, location=far, status=ProcedureStatus.CANCELLED)
    ProcedureFactory(patient=other_patient, location=far, scheduled_start=old, arrival_at=old)
    inactive = GuardianFactory(user__is_active=False)
    PatientFactory(location=far, guardians=[inactive])
    for user in (guardian.user, other_guardian.user, inactive.user, nurse):
        assert set(Location.objects.for_family(user)) == (_by_the_orm(user) if user.is_guardian else set())
    assert [clinic.name for clinic in Location.objects.for_family(guardian.user)] == [
        "Eastside",
        "Lakeside Day Unit",
        "Northside Clinic",
    ]


def test_care_team_pages_run_no_query_for_family_numbers(client, nurse, location):
    client.force_login(nurse)
    with CaptureQueriesContext(connection) as ctx:
        html = _html(client, reverse("nurse:patient_list"))
    assert "Call your clinic" not in html
    assert not [q for q in ctx.captured_queries if "procedures_patient_guardians" in q["sql"]]


@pytest.mark.parametrize("slug", ["risks-and-when-to-call", "after-the-procedure"])
def test_the_pages_that_say_call_show_the_number_right_under_the_text(client, guardian, procedure, slug):
    client.force_login(guardian.user)
    html = _html(client, reverse("learn:page", args=[slug]))
    box = html[html.index('class="card call-box') :]
    assert 'href="tel:+13125550100">Call (312) 555-0100</a>' in box
    assert box.index("call-box") < box.index("Checked by our care team")


def test_other_education_pages_have_no_call_box(client, guardian, procedure):
    client.force_login(guardian.user)
    assert "call-box" not in _html(client, reverse("learn:page", args=["what-is-bone-marrow"]))


def test_the_login_page_gives_the_hospitals_main_number(client, settings):
    html = _html(client, reverse("login"))
    assert f'href="tel:{settings.HOSPITAL_PHONE}"' in html
    assert "(312) 555-0111" in html


def test_after_the_procedure_the_home_card_gives_the_clinics_number(client, guardian, procedure):
    procedure.status = ProcedureStatus.COMPLETED
    procedure.ended_at = timezone.now() - dt.timedelta(hours=1)
    procedure.save()
    client.force_login(guardian.user)
    html = _html(client, reverse("family:dashboard"))
    card = html[html.index(f'id="after-{procedure.pk}"') :]
    assert 'call the clinic: <a class="tel-link" href="tel:+13125550100">(312) 555-0100</a>' in card


def test_a_number_typed_the_local_way_still_dials_in_e164(client, guardian, procedure):
    Location.objects.filter(pk=procedure.location_id).update(phone="(312) 555-0100")
    client.force_login(guardian.user)
    html = _html(client, reverse("family:procedure", args=[procedure.pk]))
    assert 'href="tel:(312)' not in html
    assert 'href="tel:+13125550100"' in html


def test_a_clinic_number_in_another_country_is_shown_internationally(client, guardian, patient):
    clinic = LocationFactory(name="Clínica Monterrey", phone="+528181234567", timezone="America/Monterrey")
    PatientFactory(location=clinic, guardians=[guardian])
    client.force_login(guardian.user)
    assert 'href="tel:+528181234567">+52 81 8123 4567</a>' in _html(client, reverse("family:dashboard"))
