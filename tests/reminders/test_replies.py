"""The family answers by text: yes, can't come, running late, or a question; every text is kept."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from procedures import services
from reminders.models import InboundText, Reply
from reminders.replies import meaning_of, upcoming_answers
from tests.factories import PatientFactory

from .conftest import book
from .test_webhooks import NUMBER, text_in

CHICAGO = ZoneInfo("America/Chicago")
# Tuesday afternoon; the appointment is Thursday 7:30 AM, the evening text went out Wednesday.
NOW = dt.datetime(2026, 6, 10, 19, 0, tzinfo=CHICAGO)

CONFIRM = ["YES", "yes", "Yes!", "y", "Yes, thank you", "SI", "Sí", "sí.", "¡Sí, gracias!", "C", "1", "CONFIRM",
           "Confirmo"]  # fmt: skip
CANT = ["NO", "no", "CANT", "can't", "CAN'T COME", "No puedo", "NO PODEMOS IR", "cannot"]
LATE = ["LATE", "running late", "We will be late", "TARDE", "Llegaremos tarde", "vamos tarde"]


@pytest.fixture(autouse=True)
def _twilio(settings):
    settings.TWILIO_AUTH_TOKEN = "test-auth-token"
    settings.SITE_URL = "https://portal.example.org"


@pytest.fixture
def thursday(patient, nurse, texting_guardian):
    with time_machine.travel(NOW - dt.timedelta(days=2), tick=False):
        return book(patient, nurse, arrival=dt.datetime(2026, 6, 11, 7, 30, tzinfo=CHICAGO))


def reply(client, body, sid=None, number=NUMBER):
    with time_machine.travel(NOW, tick=False):
        response = text_in(client, body, sid=sid or f"SMr-{body}-{number}", number=number)
    assert response.status_code == 200
    return response.content.decode()


def answer_of(procedure):
    procedure.refresh_from_db()
    with time_machine.travel(NOW, tick=False):
        rows = upcoming_answers(procedure.location, NOW)
    return next(row.answer for row in rows if row.pk == procedure.pk)


@pytest.mark.parametrize("word", CONFIRM)
def test_yes_in_either_language_confirms_the_next_procedure(client, thursday, word):
    said = reply(client, word)
    assert answer_of(thursday) == Reply.CONFIRMED
    assert "Mia's visit Thursday at 7:30 AM is confirmed." in said
    inbound = InboundText.objects.get()
    assert (inbound.procedure, inbound.procedure_version, inbound.body) == (thursday, thursday.version, word)


@pytest.mark.parametrize("word", CANT)
def test_a_family_that_cannot_come_is_marked_at_once(client, thursday, word):
    said = reply(client, word)
    assert answer_of(thursday) == Reply.CANT_COME
    assert "you can't come to Mia's visit" in said


@pytest.mark.parametrize("word", LATE)
def test_a_family_running_late_is_marked_at_once(client, thursday, word):
    said = reply(client, word)
    assert answer_of(thursday) == Reply.LATE
    assert "you will be late for Mia's visit. Call (312) 555-0100." in said


def test_the_acknowledgement_is_in_the_familys_language(client, thursday, texting_guardian):
    texting_guardian.user.language = "es"
    texting_guardian.user.save()
    assert "La cita de Mia el jueves a las 7:30 AM está confirmada." in reply(client, "SI")
    assert "no puede venir a la cita de Mia" in reply(client, "NO PUEDO", sid="SM-es-2")


def test_free_text_is_kept_for_the_care_team_and_acknowledged(client, thursday):
    said = reply(client, "Can she have apple juice at 6?")
    inbound = InboundText.objects.get()
    assert (inbound.meaning, inbound.procedure, inbound.location) == (Reply.MESSAGE, thursday, thursday.location)
    assert "the care team will read it. If it is urgent, call (312) 555-0100." in said
    assert answer_of(thursday) is None  # not an answer: still "not yet"


def test_a_text_from_an_unknown_number_is_kept_and_not_answered(client, thursday, nurse):
    said = reply(client, "YES", number="+13125550199")
    assert "<Message>" not in said
    inbound = InboundText.objects.get()
    assert (inbound.guardian, inbound.procedure, inbound.location) == (None, None, None)
    assert answer_of(thursday) is None
    client.force_login(nurse)
    with time_machine.travel(NOW, tick=False):
        page = client.get(reverse("nurse:dashboard")).content.decode()
    assert "Unknown number" in page and "(312) 555-0199" in page


def test_stop_keeps_its_meaning_before_any_answer(client, thursday, texting_guardian):
    said = reply(client, "STOP")
    texting_guardian.refresh_from_db()
    assert texting_guardian.sms_opted_out_at is not None
    assert "no more texts" in said
    assert InboundText.objects.get().meaning == Reply.OPT_OUT
    assert answer_of(thursday) is None
    # Stopped, a YES turns texts back on (the phone company's own word), not a confirmation.
    reply(client, "YES", sid="SM-yes-after-stop")
    texting_guardian.refresh_from_db()
    assert texting_guardian.sms_opted_out_at is None
    assert answer_of(thursday) is None


def test_help_still_answers_and_is_kept(client, thursday):
    assert "Call (312) 555-0100" in reply(client, "HELP")
    assert InboundText.objects.get().meaning == Reply.HELP


def test_two_children_the_same_morning_each_yes_confirms_the_next_and_says_which(
    client, thursday, nurse, texting_guardian
):
    brother = PatientFactory(first_name="Leo", location=thursday.location, guardians=[texting_guardian])
    with time_machine.travel(NOW - dt.timedelta(days=2), tick=False):
        second = book(brother, nurse, arrival=dt.datetime(2026, 6, 11, 8, 0, tzinfo=CHICAGO))
    first_said = reply(client, "YES")
    assert "Mia's visit Thursday at 7:30 AM is confirmed." in first_said
    assert "To confirm Leo's visit too, reply YES again." in first_said
    assert (answer_of(thursday), answer_of(second)) == (Reply.CONFIRMED, None)
    second_said = reply(client, "yes", sid="SM-second-yes")
    assert "Leo's visit Thursday at 8:00 AM is confirmed." in second_said
    assert "reply YES again" not in second_said
    assert answer_of(second) == Reply.CONFIRMED


def test_after_a_reschedule_an_earlier_yes_no_longer_counts_and_a_new_reply_applies_to_the_new_time(
    client, thursday, nurse
):
    reply(client, "YES")
    assert answer_of(thursday) == Reply.CONFIRMED
    with time_machine.travel(NOW, tick=False):
        moved = services.update_procedure(
            procedure=thursday,
            changed_by=nurse,
            scheduled_start=dt.datetime(2026, 6, 11, 10, 30, tzinfo=CHICAGO),
            arrival_at=dt.datetime(2026, 6, 11, 9, 30, tzinfo=CHICAGO),
        )
    assert moved.version == thursday.version + 1
    assert answer_of(moved) is None  # not yet, for the new time
    said = reply(client, "LATE", sid="SM-late-after-move")
    assert "late for Mia's visit" in said
    latest = InboundText.objects.order_by("-pk").first()
    assert latest.procedure_version == moved.version
    assert answer_of(moved) == Reply.LATE


def test_the_board_shows_confirmed_not_yet_and_cant_come_with_a_number_to_call(
    client, thursday, nurse, texting_guardian, django_assert_max_num_queries
):
    others = []
    for name in ("Ana", "Ben"):
        child = PatientFactory(first_name=name, location=thursday.location, guardians=[])
        with time_machine.travel(NOW - dt.timedelta(days=2), tick=False):
            others.append(book(child, nurse, arrival=dt.datetime(2026, 6, 11, 9, 0, tzinfo=CHICAGO)))
    reply(client, "NO")
    client.force_login(nurse)
    with time_machine.travel(NOW, tick=False):
        page = client.get(reverse("nurse:dashboard")).content.decode()
    assert page.count('data-testid="answer-row"') == 3
    assert "Can&#x27;t come" in page or "Can't come" in page
    assert page.count("Not yet") == 2
    assert f'href="tel:{NUMBER}"' in page
    # A longer list costs no more queries.
    with time_machine.travel(NOW, tick=False), django_assert_max_num_queries(3):
        assert len(upcoming_answers(thursday.location, NOW)) == 3


def test_answer_words_are_read_whatever_the_case_accents_or_punctuation():
    assert meaning_of("  ¡¡SÍ!! ") == meaning_of("si") == Reply.CONFIRMED
    assert meaning_of("Can't.") == meaning_of("CANT") == Reply.CANT_COME
    assert meaning_of("Llegaremos TARDE, perdón") == Reply.LATE
    assert meaning_of("no, she has a fever") == Reply.MESSAGE
    assert meaning_of("yes but we may be late") == Reply.MESSAGE


# --- For families who don't text, and the care team's thread ---------------------------


def test_the_family_page_offers_running_late_and_cant_come(client, thursday, texting_guardian):
    client.force_login(texting_guardian.user)
    with time_machine.travel(NOW, tick=False):
        page = client.get(reverse("family:procedure", args=[thursday.pk])).content.decode()
        assert "We're running late" in page and "We can't come" in page
        response = client.post(reverse("family:procedure_reply", args=[thursday.pk]), {"answer": "late"}, follow=True)
    assert "you will be late for Mia&#x27;s visit" in response.content.decode()
    inbound = InboundText.objects.get()
    assert (inbound.by_text, inbound.meaning, inbound.guardian) == (False, Reply.LATE, texting_guardian)
    assert answer_of(thursday) == Reply.LATE


def test_the_family_page_refuses_an_answer_it_does_not_offer(client, thursday, texting_guardian):
    client.force_login(texting_guardian.user)
    response = client.post(reverse("family:procedure_reply", args=[thursday.pk]), {"answer": "confirmed"}, follow=True)
    assert response.status_code == 200
    assert "Choose one of the buttons" in response.content.decode()
    assert not InboundText.objects.exists()


def test_another_family_cannot_answer_for_this_child(client, thursday, other_guardian):
    client.force_login(other_guardian.user)
    response = client.post(reverse("family:procedure_reply", args=[thursday.pk]), {"answer": "cant_come"})
    assert response.status_code == 404
    assert not InboundText.objects.exists()


def test_the_care_team_sees_the_familys_thread_and_marks_a_message_answered(client, thursday, nurse, texting_guardian):
    reply(client, "Can she have apple juice at 6?")
    reply(client, "YES", sid="SM-thread-yes")
    client.force_login(nurse)
    path = reverse("nurse:guardian_detail", args=[texting_guardian.pk])
    page = client.get(path).content.decode()
    assert page.count('data-testid="thread-text"') == 2
    assert "apple juice" in page and "about Mia" in page and "Mark as answered" in page
    question = InboundText.objects.get(meaning=Reply.MESSAGE)
    response = client.post(reverse("nurse:inbound_text_answered", args=[question.pk]))
    assert response.status_code == 302
    question.refresh_from_db()
    assert (question.answered_by, question.answered_at is not None) == (nurse, True)
    assert "Answered by Nora Nurse" in client.get(path).content.decode()


def test_a_nurse_of_another_clinic_cannot_see_or_answer_a_familys_text(client, thursday, other_nurse):
    reply(client, "Can she have apple juice at 6?")
    question = InboundText.objects.get()
    client.force_login(other_nurse)
    assert client.post(reverse("nurse:inbound_text_answered", args=[question.pk])).status_code == 404
    question.refresh_from_db()
    assert question.answered_at is None


def test_a_busy_board_lists_a_page_of_answers_and_points_to_the_day_list(client, thursday, nurse, monkeypatch):
    from reminders import replies

    for name in ("Ana", "Ben"):
        child = PatientFactory(first_name=name, location=thursday.location, guardians=[])
        with time_machine.travel(NOW - dt.timedelta(days=2), tick=False):
            book(child, nurse, arrival=dt.datetime(2026, 6, 11, 9, 0, tzinfo=CHICAGO))
    monkeypatch.setattr(replies, "ANSWERS_SHOWN", 2)
    client.force_login(nurse)
    with time_machine.travel(NOW, tick=False):
        page = client.get(reverse("nurse:dashboard")).content.decode()
    assert page.count('data-testid="answer-row"') == 2
    assert "More children: see the day list." in page
