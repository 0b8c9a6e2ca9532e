"""List pages issue a fixed number of queries, however many procedures exist."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from ..factories import PatientFactory, ProcedureFactory


def _count(client, url):
    """The page's own queries: not the session's, read from Redis with PostgreSQL, from the table on SQLite."""
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return sum('"django_session"' not in query["sql"] for query in ctx.captured_queries)


def _add_procedures(n, location, guardian):
    start = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) + dt.timedelta(days=1)
    for i in range(n):
        patient = PatientFactory(location=location, guardians=[guardian])
        ProcedureFactory(patient=patient, scheduled_start=start + dt.timedelta(hours=i))


@pytest.mark.parametrize("url_name", ["nurse:procedure_list", "nurse:patient_list"])
def test_nurse_lists_use_the_same_queries_for_5_and_50_procedures(client, nurse, guardian, location, url_name):
    client.force_login(nurse)
    _add_procedures(5, location, guardian)
    with_5 = _count(client, reverse(url_name))
    _add_procedures(45, location, guardian)
    with_50 = _count(client, reverse(url_name))
    print(f"{url_name}: {with_5} queries with 5 procedures, {with_50} with 50")
    assert with_5 == with_50
    assert with_50 <= {"nurse:procedure_list": 4, "nurse:patient_list": 4}[url_name]


def test_parent_dashboard_uses_the_same_queries_for_5_and_50_procedures(client, guardian, location):
    client.force_login(guardian.user)
    _add_procedures(5, location, guardian)
    with_5 = _count(client, reverse("family:dashboard"))
    _add_procedures(45, location, guardian)
    with_50 = _count(client, reverse("family:dashboard"))
    print(f"family:dashboard: {with_5} queries with 5 procedures, {with_50} with 50")
    assert with_5 == with_50
    assert with_50 <= 7


def test_filtered_nurse_list_stays_flat(client, nurse, guardian, location):
    client.force_login(nurse)
    client.post(reverse("nurse:procedure_list"), {"q": "a"})
    url = reverse("nurse:procedure_list") + "?day=2030-01-01&location=" + str(location.pk)
    _add_procedures(5, location, guardian)
    with_5 = _count(client, url)
    _add_procedures(45, location, guardian)
    assert _count(client, url) == with_5


def test_family_procedure_page_queries_stay_few_and_flat(client, guardian, location, procedure):
    client.force_login(guardian.user)
    url = reverse("family:procedure", args=[procedure.pk])
    first = _count(client, url)
    _add_procedures(20, location, guardian)
    for _ in range(20):
        client.get(url)  # audit rows pile up
    again = _count(client, url)
    print(f"family:procedure: {first} queries, then {again}")
    assert first == again
    assert again <= 6
