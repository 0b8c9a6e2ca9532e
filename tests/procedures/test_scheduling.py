from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from procedures import services
from procedures.models import Procedure, ProcedureStatus

from ..factories import ProcedureFactory


@pytest.fixture
def procedure(patient):
    """Two days ahead at 10:00 clinic time: arrival and start on one day, whatever the hour the suite runs."""
    day = (patient.location.localize(timezone.now()) + dt.timedelta(days=2)).date()
    start = dt.datetime.combine(day, dt.time(10, 0), tzinfo=patient.location.tz)
    return ProcedureFactory(patient=patient, scheduled_start=start, arrival_at=start - dt.timedelta(hours=1))


def _edit(client, procedure, **overrides):
    local = procedure.local_start
    data = {
        "kind": procedure.kind,
        "sedation": procedure.sedation,
        "location": procedure.location.pk,
        "date": local.date().isoformat(),
        "arrival_time": procedure.local_arrival.strftime("%H:%M"),
        "start_time": local.strftime("%H:%M"),
    }
    data.update(overrides)
    return client.post(reverse("nurse:procedure_edit", args=[procedure.pk]), data)


def test_rescheduling_bumps_the_version_and_marks_it_rescheduled(client, nurse, procedure):
    client.force_login(nurse)
    new_day = (procedure.local_start + dt.timedelta(days=1)).date().isoformat()
    assert _edit(client, procedure, date=new_day).status_code == 302
    procedure.refresh_from_db()
    assert procedure.version == 2
    assert procedure.status == ProcedureStatus.RESCHEDULED


def test_changing_sedation_bumps_the_version_but_keeps_status(client, nurse, procedure):
    client.force_login(nurse)
    _edit(client, procedure, sedation="local")
    procedure.refresh_from_db()
    assert (procedure.version, procedure.status, procedure.sedation) == (2, ProcedureStatus.SCHEDULED, "local")


def test_saving_without_changes_keeps_the_version(client, nurse, procedure):
    client.force_login(nurse)
    _edit(client, procedure)
    procedure.refresh_from_db()
    assert procedure.version == 1


def test_changing_only_the_kind_keeps_the_version(client, nurse, procedure):
    client.force_login(nurse)
    _edit(client, procedure, kind="biopsy")
    procedure.refresh_from_db()
    assert (procedure.kind, procedure.version) == ("biopsy", 1)


def test_cancelling_records_the_reason_and_stops_changes(client, nurse, procedure):
    client.force_login(nurse)
    response = client.post(reverse("nurse:procedure_cancel", args=[procedure.pk]), {"reason": "Family asked"})
    assert response.status_code == 302
    procedure.refresh_from_db()
    assert procedure.status == ProcedureStatus.CANCELLED
    assert procedure.version == 2
    assert procedure.cancel_reason == "Family asked"
    follow = client.get(reverse("nurse:procedure_edit", args=[procedure.pk]))
    assert follow.status_code == 302
    with pytest.raises(ValueError, match="Only a scheduled procedure"):
        services.update_procedure(procedure=procedure, changed_by=nurse, sedation="local")


def test_cancelled_procedures_leave_the_upcoming_lists(client, nurse, guardian, procedure):
    services.cancel_procedure(procedure=procedure, reason="x", cancelled_by=nurse)
    client.force_login(nurse)
    assert list(client.get(reverse("nurse:procedure_list")).context["page"]) == []
    client.force_login(guardian.user)
    assert list(client.get(reverse("family:dashboard")).context["procedures"]) == []


def test_nurse_list_filters_by_local_day_location_and_search(client, nurse, procedure, other_procedure):
    client.force_login(nurse)
    day = procedure.local_start.date().isoformat()
    later = Procedure.objects.create(
        patient=procedure.patient,
        location=procedure.location,
        scheduled_start=procedure.scheduled_start + dt.timedelta(days=3),
        arrival_at=procedure.arrival_at + dt.timedelta(days=3),
    )
    by_day = client.get(reverse("nurse:procedure_list"), {"day": day}).context["page"]
    assert later.pk not in [p.pk for p in by_day]
    by_name = client.post(reverse("nurse:procedure_list"), {"q": "oscar"}, follow=True).context["page"]
    assert [p.pk for p in by_name] == [other_procedure.pk]
    mrn = procedure.patient.mrn.lower()
    by_mrn = client.post(reverse("nurse:procedure_list"), {"q": mrn}, follow=True).context["page"]
    client.post(reverse("nurse:procedure_list"), {"q": ""})
    assert {p.pk for p in by_mrn} == {procedure.pk, later.pk}
    by_location = client.get(reverse("nurse:procedure_list"), {"location": procedure.location.pk}).context["page"]
    assert len(by_location) == 3


def test_local_day_filter_uses_the_clinics_midnight(client, nurse, patient):
    # 23:30 in Chicago on 1 July is already 2 July in UTC.
    start = dt.datetime(2031, 7, 1, 23, 30, tzinfo=patient.location.tz)
    Procedure.objects.create(
        patient=patient, location=patient.location, scheduled_start=start, arrival_at=start - dt.timedelta(hours=1)
    )
    client.force_login(nurse)
    assert len(client.get(reverse("nurse:procedure_list"), {"day": "2031-07-01"}).context["page"]) == 1
    assert len(client.get(reverse("nurse:procedure_list"), {"day": "2031-07-02"}).context["page"]) == 0


def test_nurse_list_is_paginated(client, nurse, patient):
    start = dt.datetime(2031, 1, 5, 9, tzinfo=dt.UTC)
    Procedure.objects.bulk_create(
        Procedure(
            patient=patient,
            location=patient.location,
            scheduled_start=start + dt.timedelta(hours=i),
            arrival_at=start + dt.timedelta(hours=i),
        )
        for i in range(30)
    )
    client.force_login(nurse)
    first = client.get(reverse("nurse:procedure_list")).context["page"]
    second = client.get(reverse("nurse:procedure_list"), {"page": 2}).context["page"]
    assert (len(first), len(second), first.paginator.num_pages) == (25, 5, 2)


def test_times_are_shown_in_the_clinics_time_zone(client, guardian, patient):
    start = dt.datetime(2031, 1, 6, 14, 30, tzinfo=dt.UTC)  # 08:30 CST
    procedure = Procedure.objects.create(
        patient=patient, location=patient.location, scheduled_start=start, arrival_at=start - dt.timedelta(minutes=45)
    )
    client.force_login(guardian.user)
    page = client.get(reverse("family:procedure", args=[procedure.pk])).content.decode()
    assert "8:30 AM" in page and "7:45 AM" in page and "CST" in page
    assert "Monday, January 6, 2031" in page


def test_search_terms_never_appear_in_a_url(client, nurse, procedure):
    client.force_login(nurse)
    response = client.post(reverse("nurse:procedure_list"), {"q": procedure.patient.last_name, "day": ""})
    assert response.status_code == 302
    assert procedure.patient.last_name not in response["Location"]
    page = client.get(response["Location"])
    assert [p.pk for p in page.context["page"]] == [procedure.pk]
    patients = client.post(reverse("nurse:patient_list"), {"q": procedure.patient.mrn})
    assert procedure.patient.mrn not in patients["Location"]
