"""The status badge and readiness cells made in Python give the HTML their templates gave, in both languages."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from django.template import engines
from django.utils import translation

from procedures.models import Location, Procedure, ProcedureStatus, Sedation, SymptomReport

# The row templates as they were before the cells were made in Python: the reference.
STATUS = "{% load i18n %}<span class=\"badge {% if procedure.status == 'cancelled' %}text-bg-danger{% elif procedure.status == 'rescheduled' %}text-bg-warning{% elif procedure.status == 'completed' %}text-bg-secondary{% else %}text-bg-success{% endif %}\">{{ procedure.get_status_display }}</span>\n"  # noqa: E501
READINESS = '{% load i18n procedures_extras %}{% with c=procedure|checklist %}<ul class="list-unstyled mb-0">\n  <li class="{% if c.pages_done %}text-success{% endif %}">{% blocktranslate with read=c.pages_read total=c.pages_total %}Pages {{ read }}/{{ total }}{% endblocktranslate %}</li>\n  {% if c.fasting_needed %}<li>{% if c.fasting_acknowledged %}<span class="text-success">✓ {% translate "Fasting confirmed" %}</span>{% else %}<span class="text-danger">✗ {% translate "Fasting not confirmed" %}</span>{% endif %}</li>{% endif %}\n  <li>{% if c.questions %}<span class="text-success">✓ {% translate "Questions" %}</span>{% else %}<span class="text-body-secondary">– {% translate "No questions" %}</span>{% endif %}</li>\n  <li>{% if c.contact_confirmed %}<span class="text-success">✓ {% translate "Phone confirmed" %}</span>{% else %}<span class="text-body-secondary">– {% translate "Phone not confirmed" %}</span>{% endif %}</li>\n</ul>{% endwith %}\n'  # noqa: E501

REPORT = '{% load i18n %}{% if report.temperature %}{% translate "Temperature" %} {{ report.temperature }} °{{ report.temperature_unit }}{% if report.temperature_unit == "F" %} ({{ report.temperature_c }} °C){% endif %}. {% endif %}{% if report.chills %}{% translate "Chills." %} {% endif %}{% if report.bleeding %}{% translate "Bleeding that does not stop." %} {% endif %}{% if report.redness %}{% translate "Redness." %} {% endif %}{% if report.swelling %}{% translate "Swelling." %} {% endif %}{% if report.oozing %}{% translate "Oozing." %} {% endif %}{% if report.bad_smell %}{% translate "Bad smell." %} {% endif %}{% translate "Pain:" %} {% if report.pain %}{{ report.get_pain_display }}{% else %}{% translate "not answered" %}{% endif %}.{% if report.notes %} “{{ report.notes|truncatechars:200 }}”{% endif %}\n'  # noqa: E501


def _render(source: str, procedure: object, name: str = "procedure") -> str:
    return engines["django"].from_string(source).render({name: procedure}).rstrip("\n")


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_status_badge_is_the_templates(language):
    with translation.override(language):
        for status in [*ProcedureStatus, "not-a-status"]:
            procedure = Procedure(status=status)
            made = _render("{% load procedures_rows %}{{ procedure|status_badge }}", procedure)
            assert made == _render(STATUS, procedure)


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_readiness_list_is_the_templates(language):
    cases = itertools.product([0, 3, 9], [0, 9], list(Sedation), [False, True], [0, 2], [False, True])
    with translation.override(language):
        for read, total, sedation, acknowledged, questions, confirmed in cases:
            procedure = Procedure(sedation=sedation)
            procedure.pages_read, procedure.pages_total = read, total
            procedure.fasting_acknowledged, procedure.questions_prepared = acknowledged, questions
            procedure.contact_confirmed = confirmed
            made = _render("{% load procedures_rows %}{{ procedure|readiness_list }}", procedure)
            assert made == _render(READINESS, procedure)


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_report_summary_is_the_templates(language):
    temperatures = [
        (None, "C", None),
        (Decimal("38.5"), "C", Decimal("38.5")),
        (Decimal("101.3"), "F", Decimal("38.5")),
    ]
    signs = ["chills", "bleeding", "redness", "swelling", "oozing", "bad_smell"]
    notes = ["", "It hurts <a lot> & she is tired", "x" * 250]
    with translation.override(language):
        for (temperature, unit, celsius), ticked, pain, note in itertools.product(
            temperatures, [[], signs[:1], signs[1:4], signs], ["", "none", "a_lot"], notes
        ):
            report = SymptomReport(
                temperature=temperature, temperature_unit=unit, temperature_c=celsius, pain=pain, notes=note,
                **{sign: sign in ticked for sign in signs},
            )  # fmt: skip
            made = _render("{% load procedures_rows %}{{ report|report_summary }}", report, "report")
            assert made == _render(REPORT, report, "report")


def test_a_cell_follows_the_language_it_is_shown_in():
    procedure = Procedure(status=ProcedureStatus.RESCHEDULED, sedation=Sedation.GENERAL)
    procedure.pages_read, procedure.pages_total = 3, 9
    procedure.fasting_acknowledged, procedure.questions_prepared, procedure.contact_confirmed = False, 0, True
    for language in ["en", "es", "en", "es"]:
        with translation.override(language):
            for made, reference in [("status_badge", STATUS), ("readiness_list", READINESS)]:
                assert _render("{% load procedures_rows %}{{ procedure|" + made + " }}", procedure) == _render(
                    reference, procedure
                )


# Starts around both clock changes at the clinic, noon, midnight and an ordinary morning.
STARTS = [
    dt.datetime(2026, 11, 1, 6, 30, tzinfo=dt.UTC),  # 1:30 AM CDT, the first of the two
    dt.datetime(2026, 11, 1, 7, 30, tzinfo=dt.UTC),  # 1:30 AM CST, the second
    dt.datetime(2026, 3, 8, 8, 30, tzinfo=dt.UTC),  # 3:30 AM CDT, just after the jump
    dt.datetime(2026, 6, 1, 17, 0, tzinfo=dt.UTC),  # noon
    dt.datetime(2026, 6, 1, 5, 0, tzinfo=dt.UTC),  # midnight
    dt.datetime(2026, 11, 24, 13, 45, tzinfo=dt.UTC),
]


@pytest.mark.parametrize("language", ["en", "es"])
def test_a_rows_start_is_the_templates(language):
    clinic = Location(name="Lakeside", timezone="America/Chicago")
    with translation.override(language):
        for start in STARTS:
            local = clinic.localize(start)
            assert _render("{% load procedures_rows %}{{ start|weekday_and_time }}", local, "start") == _render(
                '{{ start|date:"D" }} {{ start|time }}', local, "start"
            )
            assert _render("{% load procedures_rows %}{{ start|date_and_time }}", local, "start") == _render(
                '{{ start|date:"SHORT_DATE_FORMAT" }} {{ start|time }}', local, "start"
            )
            assert _render("{% load procedures_rows %}{{ start|date_time_and_zone }}", local, "start") == _render(
                '{{ start|date:"SHORT_DATE_FORMAT" }}, {{ start|time }} {{ start|date:"T" }}', local, "start"
            )
