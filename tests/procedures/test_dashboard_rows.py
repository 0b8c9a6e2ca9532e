"""The nurse dashboard's rows made in one pass give the HTML their templates gave, in both languages.

Each reference below is the row as the dashboard's templates wrote it before it was made in Python.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.template import engines
from django.utils import translation

from portal.models import User
from procedures.models import Guardian, Location, Patient, Procedure, ProcedureStatus, Sedation, SymptomReport
from reminders.models import Channel, Kind, Reminder, Status

PROCEDURE_ROW = """{% load i18n links procedures_rows %}{% with start=procedure.local_start %}<tr>
        <td class="text-nowrap"><a href="{% id_url 'nurse:procedure_detail' procedure.pk %}">{{ start|weekday_and_time }}</a>{% if procedure.running_late_minutes %}<br><span class="badge text-bg-warning">{% blocktranslate with n=procedure.running_late_minutes %}{{ n }} min late{% endblocktranslate %}</span>{% endif %}</td>
        <td>{{ procedure.patient.full_name }}</td>
        <td>{{ procedure.get_sedation_display }}</td>
        <td>{{ procedure|status_badge }}</td>
        <td class="small">{{ procedure|readiness_list }}</td>
      </tr>{% endwith %}"""  # noqa: E501
REPORT_LINE = """{% load i18n procedures_extras procedures_rows %}<li>{% if board.since and report.created_at > board.since %}<span class="badge text-bg-warning">{% translate "New" %}</span> {% endif %}<strong>{{ report.created_at|clinic_time:board.location|date_and_time }}</strong> · {% translate "reported by" %} {{ report.user.full_name }}: {{ report|report_summary }}</li>"""  # noqa: E501
CALLER = """{% load i18n procedures_extras %}<li>{% if person.guardian.mobile_number %}<a class="btn btn-sm btn-light border-danger tel-link call-family" href="tel:{{ person.guardian.mobile_number|tel }}">{% blocktranslate with name=person.full_name number=person.guardian.mobile_number|phone %}Call {{ name }}: {{ number }}{% endblocktranslate %}</a>{% else %}{{ person.full_name }}: {% translate "no mobile number on file" %}{% endif %}</li>"""  # noqa: E501
ACKNOWLEDGED = """{% load i18n links procedures_extras %}<li><a href="{% id_url 'nurse:procedure_detail' report.procedure_id %}">{{ report.procedure.patient.full_name }}</a>: {{ report.flags|join:", " }} · {% blocktranslate with who=report.acknowledged_by.full_name when=report.acknowledged_at|clinic_time:board.location|time %}acknowledged by {{ who }} at {{ when }}{% endblocktranslate %}</li>"""  # noqa: E501
PROBLEM = """{% load i18n links %}<li class="list-group-item small">
      {% if board.since and reminder.updated_at > board.since %}<span class="badge text-bg-warning">{% translate "New" %}</span> {% endif %}<a href="{% id_url 'nurse:procedure_detail' reminder.procedure_id %}">{{ reminder.procedure.patient.full_name }}</a>
      · {{ reminder.get_kind_display }} · {{ reminder.get_channel_display }} {% translate "to" %} {{ reminder.guardian.user.full_name }}
      · <span class="badge text-bg-danger">{{ reminder.get_status_display }}</span> {{ reminder.last_error }}
    </li>"""  # noqa: E501
UNREACHABLE = """{% load i18n links %}<li class="list-group-item small"><a href="{% id_url 'nurse:guardian_detail' guardian.pk %}">{{ guardian.user.full_name }}</a>
      {% if guardian.sms_opted_out_at %}<span class="badge text-bg-warning">{% translate "Opted out of texts" %}</span>{% endif %}
      {% if not guardian.reachable %}<span class="badge text-bg-danger">{% translate "No way to reach them" %}</span>{% endif %}</li>"""  # noqa: E501

CLINIC = Location(pk=3, name="Lakeside", timezone="America/Chicago")
# Around the night the clocks go back (two 1:30 AMs), and an ordinary afternoon.
TIMES = [dt.datetime(2026, 11, 1, 6, 30, tzinfo=dt.UTC), dt.datetime(2026, 11, 1, 7, 30, tzinfo=dt.UTC)]
TIMES.append(dt.datetime(2026, 6, 1, 19, 5, tzinfo=dt.UTC))
NAMES = ["Mia Testchild", "Zoë <b>O'Brien</b> & co"]
LANGUAGES = ["en", "es"]


def _render(source: str, **context: object) -> str:
    return engines["django"].from_string(source).render(context)


def _person(name: str, mobile: str = "") -> User:
    user = User(pk=41, full_name=name, email="parent@example.org", is_active=True)
    user.guardian = Guardian(pk=17, user=user, mobile_number=mobile)
    return user


def _child(name: str) -> Patient:
    first, _, last = name.partition(" ")
    return Patient(pk=9, first_name=first, last_name=last, location=CLINIC)


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_procedure_row_is_the_templates(language):
    cases = itertools.product(TIMES, [0, 25], NAMES, list(Sedation), list(ProcedureStatus), [0, 9])
    with translation.override(language):
        for start, late, name, sedation, status, read in cases:
            procedure = Procedure(
                pk=1234, patient=_child(name), location=CLINIC, scheduled_start=start, running_late_minutes=late,
                sedation=sedation, status=status,
            )  # fmt: skip
            procedure.pages_read, procedure.pages_total = read, 9
            procedure.fasting_acknowledged, procedure.questions_prepared, procedure.contact_confirmed = True, 1, False
            made = _render("{% load procedures_rows %}{{ procedure|board_row }}", procedure=procedure)
            assert made == _render(PROCEDURE_ROW, procedure=procedure)


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_cards_report_and_whom_to_call_are_the_templates(language):
    with translation.override(language):
        for created, since, name, mobile in itertools.product(TIMES, [None, TIMES[1]], NAMES, ["", "+13125550142"]):
            person = _person(name, mobile)
            report = SymptomReport(created_at=created, user=person, chills=True, pain="some", notes="Hot <and> tired")
            board = {"location": CLINIC, "since": since}
            made = _render(
                "{% load procedures_rows %}{% board_report report board.location board.since %}",
                report=report, board=board,
            )  # fmt: skip
            assert made == _render(REPORT_LINE, report=report, board=board)
            made = _render("{% load procedures_rows %}{% board_caller person %}", person=person)
            assert made == _render(CALLER, person=person)


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_acknowledged_card_is_the_templates(language):
    with translation.override(language):
        for at, name, flags in itertools.product(TIMES, NAMES, [["chills"], ["bleeding", "redness <site>"]]):
            procedure = Procedure(pk=77, patient=_child(name), location=CLINIC)
            report = SymptomReport(procedure=procedure, flags=flags, acknowledged_at=at, acknowledged_by=_person(name))
            board = {"location": CLINIC}
            made = _render(
                "{% load procedures_rows %}{% board_acknowledged report board.location %}", report=report, board=board
            )
            assert made == _render(ACKNOWLEDGED, report=report, board=board)


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_delivery_problem_and_an_unreachable_family_are_the_templates(language):
    cases = itertools.product(
        [None, TIMES[0]], NAMES, [Kind.FASTING_EVENING, Kind.CONFIRMATION], list(Channel),
        [Status.FAILED, Status.EXPIRED], ["", "21610 <unsubscribed> & more"],
    )  # fmt: skip
    with translation.override(language):
        for since, name, kind, channel, status, error in cases:
            procedure = Procedure(pk=55, patient=_child(name), location=CLINIC)
            reminder = Reminder(
                procedure=procedure, guardian=_person(name).guardian, kind=kind, channel=channel, status=status,
                last_error=error, updated_at=TIMES[1],
            )  # fmt: skip
            board = {"since": since}
            made = _render(
                "{% load reminders_rows %}{% problem_line reminder board.since %}", reminder=reminder, board=board
            )
            assert made == _render(PROBLEM, reminder=reminder, board=board)
        for name, opted_out, sms, email, active in itertools.product(NAMES, *[[False, True]] * 4):
            guardian = _person(name, "+13125550142").guardian
            guardian.user.is_active = active
            guardian.sms_opted_out_at = TIMES[0] if opted_out else None
            guardian.sms_enabled, guardian.email_enabled = sms, email
            guardian.sms_consent_at = TIMES[0] if sms else None
            made = _render("{% load reminders_rows %}{% unreachable_line guardian %}", guardian=guardian)
            assert made == _render(UNREACHABLE, guardian=guardian)
