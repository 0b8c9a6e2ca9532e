from __future__ import annotations

import datetime as dt

from django.urls import reverse

from ..factories import ProcedureFactory

ARRIVAL = dt.datetime(2032, 6, 10, 12, 30, tzinfo=dt.UTC)


def _unfold(text: str) -> str:
    return text.replace("\r\n ", "")


def test_calendar_file_has_the_arrival_place_and_an_alarm_at_each_cutoff(client, guardian, patient):
    procedure = ProcedureFactory(patient=patient, arrival_at=ARRIVAL, scheduled_start=ARRIVAL + dt.timedelta(hours=1))
    client.force_login(guardian.user)
    response = client.get(reverse("family:calendar", args=[procedure.pk]))
    assert response["Content-Type"].startswith("text/calendar")
    body = response.content.decode()
    assert all(len(line.encode()) <= 75 for line in body.split("\r\n"))
    text = _unfold(body)
    assert "DTSTART:20320610T123000Z" in text
    assert "LOCATION:Lakeside Day Unit\\, 1 Main St" in text
    assert text.count("BEGIN:VALARM") == 4
    assert "TRIGGER;VALUE=DATE-TIME:20320610T063000Z" in text  # solids, 6 h before arrival
    assert "TRIGGER;VALUE=DATE-TIME:20320610T113000Z" in text  # clear fluids, 1 h before
    assert patient.last_name not in text
    assert "Mia: hospital appointment" in text


def test_local_only_calendar_has_no_alarms(client, guardian, patient):
    procedure = ProcedureFactory(patient=patient, sedation="local")
    client.force_login(guardian.user)
    body = client.get(reverse("family:calendar", args=[procedure.pk])).content.decode()
    assert "BEGIN:VALARM" not in body
