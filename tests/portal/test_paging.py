"""One page of a list in one query: the same page Django's Paginator gives, for any page number."""

from __future__ import annotations

import pytest
from django.core.paginator import Paginator
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.paging import page_of
from procedures.models import Location

from ..factories import LocationFactory


def _same(page, expected) -> None:
    assert [obj.pk for obj in page] == [obj.pk for obj in expected]
    assert (page.number, page.paginator.count, page.paginator.num_pages) == (
        expected.number,
        expected.paginator.count,
        expected.paginator.num_pages,
    )
    assert (page.has_previous(), page.has_next()) == (expected.has_previous(), expected.has_next())


@pytest.mark.django_db
@pytest.mark.parametrize("number", [None, "", "1", "2", "3", "4", "99", "0", "-1", "x", "1.5", 2.0])
def test_any_page_number_gives_the_page_the_paginator_gives(number):
    LocationFactory.create_batch(7)
    clinics = Location.objects.order_by("name")
    _same(page_of(clinics, number, 3), Paginator(clinics, 3).get_page(number))


@pytest.mark.django_db
def test_a_page_and_its_count_are_one_query_however_long_the_list():
    LocationFactory.create_batch(7)
    for number, rows in (("1", 3), ("3", 1)):
        with CaptureQueriesContext(connection) as ctx:
            page = page_of(Location.objects.order_by("name"), number, 3)
            assert (page.paginator.count, page.paginator.num_pages, len(list(page))) == (7, 3, rows)
        assert len(ctx.captured_queries) == 1


@pytest.mark.django_db
def test_an_empty_list_is_one_query_and_one_empty_page():
    with CaptureQueriesContext(connection) as ctx:
        page = page_of(Location.objects.order_by("name"), None, 3)
        assert (list(page), page.paginator.count, page.number, page.has_next()) == ([], 0, 1, False)
    assert len(ctx.captured_queries) == 1


@pytest.mark.django_db
def test_grouped_rows_carry_their_count_too():
    LocationFactory.create_batch(5)
    names = Location.objects.values("name").order_by("name")
    page = page_of(names, "2", 2)
    assert [row["name"] for row in page] == [row["name"] for row in Paginator(names, 2).page(2)]
    assert page.paginator.count == 5
