"""The pages about the test are open to anyone; a child's own times are not."""

from __future__ import annotations

import re

import pytest
import textstat
from django.urls import reverse
from django.utils.html import strip_tags

from procedures.models import PageView
from procedures.readiness import education_pages

CHILD_PAGE_MAX_GRADE = 3.0


def _main_text(html: str) -> str:
    main = html.split('<main id="main"', 1)[1].split("</main>", 1)[0]
    main = re.sub(r"<(h\d|p|li|figcaption)[^>]*>", r"\n", main)
    lines = [line.strip() for line in strip_tags(main.split(">", 1)[1]).splitlines()]
    # Each line its own sentence, so a heading does not run into the next line.
    return "\n".join(line if line[-1] in ".!?" else line + "." for line in lines if line and line != "←")


def test_anyone_can_read_the_list_of_pages(client, db):
    response = client.get(reverse("learn:index"))
    assert response.status_code == 200
    assert "What is bone marrow?" in response.text
    assert reverse("learn:for_children") in response.text
    assert reverse("login") in response.text


def test_anyone_can_read_a_page_and_each_step_of_the_walk_through(client, db):
    assert client.get(reverse("learn:page", args=["what-is-bone-marrow"])).status_code == 200
    for number in range(1, 9):
        response = client.get(reverse("learn:step", args=["the-day-step-by-step", number]))
        assert response.status_code == 200


def test_the_last_page_sends_a_visitor_back_to_the_pages_not_to_the_log_in(client, db):
    response = client.get(reverse("learn:page", args=["key-points"]))
    assert f'href="{reverse("learn:index")}">Done: back to all pages' in response.text


def test_a_visitor_who_is_not_signed_in_sees_no_menu_and_leaves_no_trace(client, db):
    response = client.get(reverse("learn:page", args=["after-the-procedure"]))
    assert reverse("family:dashboard") not in response.text
    assert reverse("logout") not in response.text
    assert not PageView.objects.exists()
    assert "no-store" not in response.get("Cache-Control", "")


def test_a_signed_in_guardian_still_has_their_reading_counted(client, guardian):
    client.force_login(guardian.user)
    client.get(reverse("learn:page", args=["what-is-bone-marrow"]))
    assert PageView.objects.filter(user=guardian.user, page__slug="what-is-bone-marrow").exists()
    response = client.get(reverse("learn:index"))
    assert "✓" in response.text


def test_a_page_that_does_not_exist_is_a_404_for_anyone(client, db):
    assert client.get(reverse("learn:page", args=["no-such-page"])).status_code == 404
    assert client.get(reverse("learn:step", args=["the-day-step-by-step", 9])).status_code == 404
    assert client.get(reverse("learn:step", args=["the-day-step-by-step", 0])).status_code == 404


def test_the_childs_own_times_still_need_a_log_in(client, procedure):
    response = client.get(reverse("family:procedure", args=[procedure.pk]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_list_of_pages_takes_one_query_for_a_visitor(client, db, django_assert_num_queries):
    with django_assert_num_queries(1):
        client.get(reverse("learn:index"))


def test_the_page_for_children_is_open_to_anyone_and_shows_all_eight_pictures(client, db):
    response = client.get(reverse("learn:for_children"))
    assert response.status_code == 200
    for number in range(1, 9):
        assert re.search(rf'src="/static/img/steps/step-{number}-[a-z]+\.svg"', response.text), number
    assert response.text.count('alt="') >= 8
    assert 'alt=""' not in response.text


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_page_for_children_is_in_english_and_spanish(client, db, language):
    client.cookies["django_language"] = language
    response = client.get(reverse("learn:for_children"), HTTP_ACCEPT_LANGUAGE=language)
    heading = {"en": "What will happen to me?", "es": "¿Qué me va a pasar?"}[language]
    assert heading in response.text


def test_the_page_for_children_reads_at_grade_3_or_below(client, db):
    text = _main_text(client.get(reverse("learn:for_children")).text)
    assert len(text.split()) > 150, text
    grade = textstat.flesch_kincaid_grade(text)
    assert grade <= CHILD_PAGE_MAX_GRADE, (grade, text)


def test_the_family_procedure_page_links_to_the_page_for_children(client, guardian, procedure):
    client.force_login(guardian.user)
    response = client.get(reverse("family:procedure", args=[procedure.pk]))
    assert reverse("learn:for_children") in response.text


def test_no_education_page_can_hide_the_page_for_children(db):
    # The child's page sits at learn/for-children/, before the page slugs.
    assert "for-children" not in {page.slug for page in education_pages()}
