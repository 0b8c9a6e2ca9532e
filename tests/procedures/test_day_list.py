"""The nurses' day list: today's or tomorrow's arrivals in order, with what the desk needs, one clinic at a time."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from procedures.models import Readiness

from ..factories import GuardianFactory, LocationFactory, PatientFactory, ProcedureFactory

CHICAGO = ZoneInfo("America/Chicago")
NOW = dt.datetime(2032, 6, 10, 6, 0, tzinfo=CHICAGO)  # Thursday 6 AM at the clinic
URL = reverse("nurse:day_list")


def _book(location, name, arrival, *, sedation="general", guardians=None, **extra):
    patient = PatientFactory(first_name=name, last_name="Test", location=location, guardians=guardians or [])
    return ProcedureFactory(
        patient=patient,
        arrival_at=arrival,
        scheduled_start=arrival + dt.timedelta(hours=1),
        sedation=sedation,
        **extra,
    )


def _get(client, user, **query):
    with time_machine.travel(NOW, tick=False):
        client.force_login(user)
        response = client.get(URL, query)
    assert response.status_code == 200
    return response.content.decode()


def _rows(page: str) -> list[str]:
    body = page[page.index("<tbody>") : page.index("</tbody>")]
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in body.split("<tr>")[1:]]


@pytest.fixture
def thursday(location, guardian):
    at = lambda h, m=0: dt.datetime(2032, 6, 10, h, m, tzinfo=CHICAGO)  # noqa: E731
    no_phone = GuardianFactory(mobile_number="", user__full_name="Nina Nophone")
    late = _book(location, "Zoe", at(9, 30), guardians=[guardian])
    early = _book(location, "Ann", at(7, 0), guardians=[no_phone])
    local = _book(location, "Ben", at(8, 15), sedation="local", guardians=[guardian])
    _book(location, "Cal", at(8, 0), status="cancelled")
    _book(location, "Tom", dt.datetime(2032, 6, 11, 7, 30, tzinfo=CHICAGO))  # tomorrow
    Readiness.objects.create(procedure=late, user=guardian.user, fasting_ack_version=late.version)
    return early, local, late


def test_todays_arrivals_in_order_with_fasting_and_phones(client, nurse, thursday):
    rows = _rows(_get(client, nurse))
    assert [row.split(" ")[0:2] for row in rows] == [["7:00", "AM"], ["8:15", "AM"], ["9:30", "AM"]]
    ann, ben, zoe = rows
    assert "Ann Test" in ann and "✗ No" in ann and "Nina Nophone: no phone on file" in ann
    assert "Ben Test" in ben and "Local" in ben and "Not needed" in ben
    assert "Zoe Test" in zoe and "✓ Yes" in zoe and "Alice Parent: (312) 555-0142" in zoe
    assert not any("Cal Test" in row for row in rows)  # cancelled: nobody is coming


def test_tomorrow_is_its_own_list(client, nurse, thursday):
    page = _get(client, nurse, day="tomorrow")
    assert "Friday, June 11, 2032" in page
    (tom,) = _rows(page)
    assert "Tom Test" in tom and "No parent or guardian is linked" in tom


def test_the_list_is_filtered_by_clinic_and_never_shows_another_nurses(client, nurse, location, thursday):
    other = LocationFactory(name="Northside Unit")
    _book(other, "Oli", dt.datetime(2032, 6, 10, 7, 30, tzinfo=CHICAGO))
    assert "Oli Test" not in _get(client, nurse)  # not this nurse's clinic
    other.nurses.add(nurse)
    everything = _get(client, nurse)
    assert "Oli Test" in everything and "Ann Test" in everything
    only = _get(client, nurse, location=other.pk)
    assert "Oli Test" in only and "Ann Test" not in only
    # A clinic that is not theirs, or nonsense: all their own clinics, never an error.
    assert "Ann Test" in _get(client, nurse, location="999999", day="yesterday")


def test_a_guardian_cannot_open_the_day_list(client, guardian, thursday):
    with time_machine.travel(NOW, tick=False):
        client.force_login(guardian.user)
        assert client.get(URL).status_code in (403, 404)


def test_the_day_list_prints_on_its_own_sheet(client, nurse, thursday):
    page = _get(client, nurse)
    assert 'class="day-list-page"' in page and "data-print" in page
    # The marked place for the families' replies, between fasting and the phones, in the head and in each row.
    source = (Path(settings.BASE_DIR) / "templates/procedures/nurse/day_list.html").read_text()
    assert source.index("Fasting confirmed") < source.index("{# Reply status") < source.index("Parent or guardian")
    assert "{# Reply status cell goes here. #}" in source


def test_the_day_list_uses_the_same_queries_for_3_and_40_children(client, nurse, location, guardian):
    def count():
        with time_machine.travel(NOW, tick=False), CaptureQueriesContext(connection) as ctx:
            assert client.get(URL).status_code == 200
        return sum('"django_session"' not in query["sql"] for query in ctx.captured_queries)

    with time_machine.travel(NOW, tick=False):
        client.force_login(nurse)
    for i in range(3):
        _book(location, f"A{i}", dt.datetime(2032, 6, 10, 7, i, tzinfo=CHICAGO), guardians=[guardian])
    few = count()
    for i in range(37):
        other = GuardianFactory(user__full_name=f"G{i}")
        _book(location, f"B{i}", dt.datetime(2032, 6, 10, 8, i, tzinfo=CHICAGO), guardians=[guardian, other])
    many = count()
    print(f"nurse:day_list: {few} queries with 3 children, {many} with 40")
    assert few == many
    assert many <= 8
