"""get_FOO_display reads one label, in the language of the request, as Django's own does."""

from __future__ import annotations

from django.db.models import Model
from django.utils import translation

from procedures.models import Procedure, ProcedureStatus


def test_each_label_in_each_language_and_a_value_outside_the_choices():
    for language in ("en", "es"):
        with translation.override(language):
            for status in ProcedureStatus:
                procedure = Procedure(status=status.value)
                assert procedure.get_status_display() == str(status.label)
                assert procedure.get_status_display() == Model._get_FIELD_display(
                    procedure, Procedure._meta.get_field("status")
                )
    with translation.override("es"):
        assert Procedure(status=ProcedureStatus.CANCELLED).get_status_display() != "Cancelled"
    assert Procedure(status="no-such-status").get_status_display() == "no-such-status"
