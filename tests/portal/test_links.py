"""A row's link made from one reversal is the link reverse() gives, under any script prefix."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.urls import NoReverseMatch, clear_script_prefix, reverse, set_script_prefix

from portal.converters import MAX_ID
from portal.links import id_url


@pytest.mark.parametrize("name", ["nurse:procedure_detail", "nurse:guardian_detail", "family:procedure"])
@pytest.mark.parametrize("pk", [1, 42, 1234567, MAX_ID])
def test_the_link_is_the_one_reverse_gives(name, pk):
    assert id_url(name, pk) == reverse(name, args=[pk])


def test_a_script_prefix_is_kept():
    set_script_prefix("/portal/")
    try:
        assert id_url("nurse:procedure_detail", 7) == reverse("nurse:procedure_detail", args=[7])
        assert id_url("nurse:procedure_detail", 7).startswith("/portal/")
    finally:
        clear_script_prefix()
    assert not id_url("nurse:procedure_detail", 7).startswith("/portal/")


def test_a_route_without_one_id_is_refused():
    with pytest.raises(NoReverseMatch):
        id_url("nurse:dashboard", 1)


def test_the_tag_writes_the_same_link_as_url():
    template = Template(
        "{% load links %}{% id_url 'nurse:procedure_detail' pk %}|{% url 'nurse:procedure_detail' pk %}"
    )
    first, second = template.render(Context({"pk": 12})).split("|")
    assert first == second
