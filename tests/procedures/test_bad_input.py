"""Every form answers bad input with a clear message next to the field, never a 500."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.contrib.admin.sites import site
from django.test import RequestFactory
from django.urls import reverse

from portal.models import Role
from procedures.models import Guardian, Location, Patient, Procedure
from reminders.models import Kind, Reminder
from reminders.planning import sync_reminders

from ..factories import ProcedureFactory, UserFactory

NOW = dt.datetime(2026, 6, 10, 15, 0, tzinfo=dt.UTC)  # 10:00 in Chicago


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def _schedule(client, patient, **overrides):
    data = {
        "kind": "both",
        "sedation": "general",
        "location": patient.location.pk,
        "date": "2026-06-12",
        "arrival_time": "07:30",
        "start_time": "08:30",
    }
    data.update(overrides)
    return client.post(reverse("nurse:procedure_create", args=[patient.pk]), data)


def _errors(response, field):
    return [str(e) for e in response.context["form"].errors.get(field, [])]


def test_valid_schedule_is_stored_in_the_clinics_time_zone(client, nurse, patient, frozen):
    response = _schedule(client, patient) if client.force_login(nurse) is None else None
    procedure = Procedure.objects.get()
    assert response.status_code == 302
    assert procedure.scheduled_start == dt.datetime(2026, 6, 12, 13, 30, tzinfo=dt.UTC)  # 08:30 CDT
    assert procedure.arrival_at == dt.datetime(2026, 6, 12, 12, 30, tzinfo=dt.UTC)


def test_start_in_the_past_is_refused(client, nurse, patient, frozen):
    client.force_login(nurse)
    response = _schedule(client, patient, date="2026-06-09")
    assert response.status_code == 200
    assert "The start is in the past" in _errors(response, "date")[0]
    assert not Procedure.objects.exists()


def test_arrival_after_start_is_refused(client, nurse, patient, frozen):
    client.force_login(nurse)
    response = _schedule(client, patient, arrival_time="09:00")
    assert "must arrive before the procedure starts" in _errors(response, "arrival_time")[0]
    assert not Procedure.objects.exists()


def test_arrival_far_before_start_is_refused(client, nurse, patient, frozen):
    client.force_login(nurse)
    response = _schedule(client, patient, arrival_time="01:00")
    assert "at most 6 hours" in _errors(response, "arrival_time")[0]


def test_a_time_skipped_by_daylight_saving_is_refused(client, nurse, patient):
    client.force_login(nurse)
    with time_machine.travel(dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC), tick=False):
        response = _schedule(client, patient, date="2026-03-08", arrival_time="01:30", start_time="02:30")
    assert "does not exist on that day" in _errors(response, "start_time")[0]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("date", "not-a-date"),
        ("date", "2026-02-30"),
        ("start_time", "25:99"),
        ("arrival_time", "7pm-ish"),
        ("kind", "amputation"),
        ("sedation", "none"),
        ("location", "abc"),
        ("location", "999999"),
    ],
)
def test_malformed_values_get_a_field_message(client, nurse, patient, frozen, field, value):
    client.force_login(nurse)
    response = _schedule(client, patient, **{field: value})
    assert response.status_code == 200
    assert _errors(response, field)


def test_a_location_the_nurse_does_not_work_at_is_not_a_choice(client, nurse, patient, other_location, frozen):
    client.force_login(nurse)
    response = _schedule(client, patient, location=other_location.pk)
    assert _errors(response, "location")


def test_unknown_time_zone_is_refused_in_the_admin(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:procedures_location_add"),
        {"name": "Clinic", "phone": "+13125550100", "timezone": "Mars/Olympus_Mons", "address": ""},
    )
    assert response.status_code == 200
    assert "is not a known time zone" in response.content.decode()
    assert not Location.objects.exists()


def _add_guardian(client, patient, **overrides):
    data = {
        "full_name": "Gina Guardian",
        "email": "gina@example.org",
        "mobile_number": "(312) 555-0199",
        "relationship": "Aunt",
        "language": "es",
    }
    data.update(overrides)
    return client.post(reverse("nurse:guardian_add", args=[patient.pk]), data)


def test_mobile_number_is_stored_in_e164(client, nurse, patient):
    client.force_login(nurse)
    assert _add_guardian(client, patient).status_code == 302
    assert Guardian.objects.get(user__email="gina@example.org").mobile_number == "+13125550199"


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("12345", "not a valid phone number"),
        ("call me", "not a valid phone number"),
        ("+1 800 555 0100", "cannot receive text messages"),
        ("+44 20 7946 0958", "cannot receive text messages"),
    ],
)
def test_malformed_or_non_mobile_numbers_are_refused(client, nurse, patient, number, message):
    client.force_login(nurse)
    response = _add_guardian(client, patient, mobile_number=number)
    assert response.status_code == 200
    assert message in _errors(response, "mobile_number")[0]
    assert not Guardian.objects.filter(user__email="gina@example.org").exists()


def test_unicode_digits_are_normalised_to_plain_e164(client, nurse, patient):
    client.force_login(nurse)
    assert _add_guardian(client, patient, mobile_number="(٣١٢) ٥٥٥-٠١٩٩").status_code == 302
    assert Guardian.objects.get(user__email="gina@example.org").mobile_number == "+13125550199"


def test_email_of_a_staff_member_is_refused(client, nurse, patient):
    client.force_login(nurse)
    response = _add_guardian(client, patient, email="NURSE@example.org")
    assert "staff account" in _errors(response, "email")[0]


def test_guardian_already_linked_to_the_child_is_refused(client, nurse, patient, guardian):
    client.force_login(nurse)
    response = _add_guardian(client, patient, email=guardian.user.email.upper())
    assert "already a guardian of this child" in _errors(response, "email")[0]
    assert patient.guardians.count() == 1


def test_existing_guardian_is_linked_to_a_second_child_without_a_new_account(client, nurse, guardian, location):
    second = Patient.objects.create(
        first_name="Leo", last_name="Kid", date_of_birth=dt.date(2020, 1, 1), mrn="MRN-2", location=location
    )
    client.force_login(nurse)
    assert _add_guardian(client, second, email=guardian.user.email).status_code == 302
    assert list(second.guardians.all()) == [guardian]
    assert Guardian.objects.count() == 1


def test_over_long_name_is_refused(client, nurse, patient):
    client.force_login(nurse)
    response = _add_guardian(client, patient, full_name="A" * 151)
    assert "at most 150 characters" in _errors(response, "full_name")[0]


def test_html_in_names_is_stored_as_text_and_shown_escaped(client, nurse, location):
    client.force_login(nurse)
    response = client.post(
        reverse("nurse:patient_create"),
        {
            "first_name": "<script>alert(1)</script>",
            "last_name": "<b>Bold</b>",
            "date_of_birth": "2019-04-01",
            "mrn": "X-1",
            "feeding": "regular",
            "preferred_language": "en",
            "location": location.pk,
        },
    )
    patient = Patient.objects.get()
    assert response.status_code == 302
    assert patient.first_name == "<script>alert(1)</script>"
    page = client.get(reverse("nurse:patient_detail", args=[patient.pk])).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("date_of_birth", "2999-01-01", "cannot be in the future"),
        ("date_of_birth", "1900-01-01", "over 30"),
        ("mrn", "'; DROP TABLE x;--", "Use only letters"),
        ("first_name", "", "This field is required"),
        ("first_name", "x" * 81, "at most 80 characters"),
        ("feeding", "chocolate", "Select a valid choice"),
    ],
)
def test_patient_form_messages(client, nurse, location, field, value, message):
    client.force_login(nurse)
    data = {
        "first_name": "Ana",
        "last_name": "Li",
        "date_of_birth": "2019-04-01",
        "mrn": "X-2",
        "feeding": "regular",
        "preferred_language": "en",
        "location": location.pk,
        field: value,
    }
    response = client.post(reverse("nurse:patient_create"), data)
    assert response.status_code == 200
    assert message in _errors(response, field)[0]
    assert not Patient.objects.exists()


def test_duplicate_mrn_is_refused(client, nurse, patient):
    client.force_login(nurse)
    data = {
        "first_name": "Ana",
        "last_name": "Li",
        "date_of_birth": "2019-04-01",
        "mrn": patient.mrn.lower(),
        "feeding": "regular",
        "preferred_language": "en",
        "location": patient.location.pk,
    }
    response = client.post(reverse("nurse:patient_create"), data)
    assert "already registered" in _errors(response, "mrn")[0]


def test_a_refused_edit_changes_nothing(client, nurse, procedure, frozen):
    client.force_login(nurse)
    before = Procedure.objects.get()
    local = procedure.local_start
    response = client.post(
        reverse("nurse:procedure_edit", args=[procedure.pk]),
        {
            "kind": "biopsy",
            "sedation": "local",
            "location": procedure.location.pk,
            "date": local.date().isoformat(),
            "arrival_time": "23:59",
            "start_time": "00:01",
        },
    )
    assert response.status_code == 200
    after = Procedure.objects.get()
    assert (after.kind, after.sedation, after.scheduled_start, after.version) == (
        before.kind,
        before.sedation,
        before.scheduled_start,
        before.version,
    )


def test_cancel_needs_a_reason(client, nurse, procedure):
    client.force_login(nurse)
    response = client.post(reverse("nurse:procedure_cancel", args=[procedure.pk]), {"reason": ""})
    assert _errors(response, "reason")
    assert Procedure.objects.get().status == "scheduled"


def test_nurse_list_filters_survive_garbage(client, nurse, procedure):
    client.force_login(nurse)
    response = client.get(reverse("nurse:procedure_list"), {"day": "yesterday", "location": "x", "page": "-4"})
    assert response.status_code == 200
    assert _errors(response, "day")


def test_admin_user_creation_form_works(admin_user):
    request = RequestFactory().get("/")
    request.user = admin_user
    form_class = site._registry[type(admin_user)].get_form(request, None)
    form = form_class({"email": "x@example.org", "full_name": "X", "role": Role.NURSE, "usable_password": "false"})
    assert form.is_valid(), form.errors
    assert UserFactory._meta.model.objects.filter(email="x@example.org").count() == 0


@pytest.mark.parametrize("name", ["nurse:procedure_list", "nurse:patient_list"])
def test_a_nul_byte_in_a_search_is_dropped_and_the_lists_keep_working(client, nurse, procedure, name):
    client.force_login(nurse)
    client.post(reverse(name), {"q": f"{procedure.patient.first_name}\x00\x1b\r\n"})
    response = client.get(reverse(name))
    assert response.status_code == 200
    assert procedure.patient in [getattr(row, "patient", row) for row in response.context["page"]]
    assert "\x00" not in str(dict(client.session))


@pytest.mark.parametrize(("name", "key"), [("nurse:procedure_list", "procedure_search"),
                                           ("nurse:patient_list", "patient_search")])  # fmt: skip
@pytest.mark.parametrize("stored", ["\x00", "a\x00b", 42, ["x"]])
def test_a_bad_search_already_in_the_session_is_harmless(client, nurse, procedure, name, key, stored):
    client.force_login(nurse)
    session = client.session
    session[key] = stored
    session.save()
    assert client.get(reverse(name)).status_code == 200


@pytest.mark.parametrize(
    ("day", "arrival", "start"),
    [("2028-06-12", "07:30", "08:30"), ("9999-12-30", "07:30", "08:30"), ("9999-12-31", "22:30", "23:30")],
)
def test_a_date_more_than_two_years_ahead_is_refused_next_to_the_date(client, nurse, patient, frozen, day, arrival,
                                                                        start):  # fmt: skip
    client.force_login(nurse)
    response = _schedule(client, patient, date=day, arrival_time=arrival, start_time=start)
    assert response.status_code == 200
    assert _errors(response, "date") == ["Choose a date within the next two years."]
    assert not Procedure.objects.exists()


def test_a_date_just_inside_two_years_can_be_booked(client, nurse, patient, frozen):
    client.force_login(nurse)
    assert _schedule(client, patient, date="2028-06-08").status_code == 302


def test_planning_reminders_for_a_date_at_the_end_of_the_calendar_does_not_overflow(patient, guardian):
    start = dt.datetime(9999, 12, 30, 14, 30, tzinfo=dt.UTC)
    procedure = ProcedureFactory(patient=patient, scheduled_start=start, arrival_at=start - dt.timedelta(hours=1))
    sync_reminders(procedure)
    assert not Reminder.objects.exclude(kind=Kind.CONFIRMATION).exists()
