"""Education pages: shipped content, plain language, Spanish, safe rendering, the stepper."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import textstat
from django.urls import reverse
from django.utils.html import escape

from procedures.markup import plain_text, render
from procedures.models import EducationPage, EducationStep, PageView
from procedures.readiness import education_pages

MAX_GRADE = 7.0
SEED_TOPICS = [
    "what-is-bone-marrow",
    "aspiration-and-biopsy",
    "why-it-is-done",
    "getting-ready",
    "the-day-step-by-step",
    "after-the-procedure",
    "risks-and-when-to-call",
    "questions-to-ask",
    "key-points",
]


def _english_text(page: EducationPage) -> str:
    parts = [page.body_en] + [f"{s.title_en}. {s.text_en}" for s in page.steps.all()]
    return plain_text("\n".join(parts))


def reading_grades() -> dict[str, float]:
    return {page.slug: textstat.flesch_kincaid_grade(_english_text(page)) for page in education_pages()}


def test_the_pages_cover_every_topic_in_order(db):
    assert [p.slug for p in education_pages()] == SEED_TOPICS


def test_every_english_page_reads_at_grade_7_or_below(db):
    grades = reading_grades()
    too_hard = {slug: grade for slug, grade in grades.items() if grade > MAX_GRADE}
    assert not too_hard, f"pages above grade {MAX_GRADE}: {too_hard}"


def test_every_page_and_step_has_spanish(db):
    for page in education_pages():
        assert page.title_es.strip() and page.body_es.strip(), page.slug
        assert page.title_es != page.title_en
    for step in EducationStep.objects.all():
        assert step.title_es.strip() and step.text_es.strip() and step.alt_es.strip(), step.pk


def test_the_walk_through_has_eight_steps_each_with_an_illustration(db, settings):
    from django.contrib.staticfiles import finders

    steps = EducationStep.objects.filter(page__slug="the-day-step-by-step").order_by("order")
    assert steps.count() == 8
    for step in steps:
        path = finders.find(step.image)
        assert path and path.endswith(".svg"), step.image
        svg = Path(path).read_text(encoding="utf-8")
        assert "<script" not in svg.lower() and 'href="http' not in svg


def test_when_to_call_lists_the_warning_signs(db):
    body = EducationPage.objects.get(slug="risks-and-when-to-call").body_en.lower()
    for sign in ("fever", "chills", "bleeding", "redness", "swelling", "smell"):
        assert sign in body, sign


def test_markup_escapes_html_and_builds_lists():
    html = render("Hello <script>alert(1)</script>\n\n## Title\n- one\n- two & three")
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "<h2>Title</h2>" in html
    assert "<ul><li>one</li><li>two &amp; three</li></ul>" in html


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        "- <script>alert(1)</script>",
        "## <script>alert(1)</script>",
        "[Call us](javascript:alert(1))",
        '<a href="javascript:alert(1)">Call us</a>',
        "<iframe src=//example.org></iframe>",
        '<img src=x onerror="alert(1)">',
        "<b onmouseover=alert(1)>bold</b>",
        "&lt;script&gt;alert(1)&lt;/script&gt;",
    ],
)
def test_script_links_and_raw_html_in_content_stay_text(text):
    html = render(f"Intro\n\n{text}\n\nEnd")
    # Only the markup's own elements, with no attributes: nothing a browser would run or follow.
    assert set(re.findall(r"<[^>]*>", html)) <= {"<p>", "</p>", "<ul>", "</ul>", "<li>", "</li>", "<h2>", "</h2>"}
    # The words are shown as typed.
    assert escape(text.removeprefix("- ").removeprefix("## ")) in html


def test_staff_edited_html_is_shown_as_text(client, guardian, db):
    page = education_pages().get(slug="why-it-is-done")
    page.body_en = '<img src=x onerror="alert(1)"> Text'
    page.save()
    client.force_login(guardian.user)
    html = client.get(reverse("learn:page", args=[page.slug])).content.decode()
    assert "<img src=x" not in html
    assert "&lt;img src=x" in html


def test_reading_a_page_records_it_once(client, guardian):
    client.force_login(guardian.user)
    url = reverse("learn:page", args=["what-is-bone-marrow"])
    client.get(url)
    client.get(url)
    assert PageView.objects.filter(user=guardian.user).count() == 1


def test_the_page_shows_its_reviewed_on_date(client, guardian):
    client.force_login(guardian.user)
    html = client.get(reverse("learn:page", args=["key-points"])).content.decode()
    assert "Checked by our care team on" in html


def test_the_stepper_walks_one_step_per_screen_and_counts_as_read_at_the_end(client, guardian):
    client.force_login(guardian.user)
    first = client.get(reverse("learn:page", args=["the-day-step-by-step"]), follow=True)
    assert first.context["number"] == 1
    assert "Step 1 of 8" in first.content.decode()
    assert not PageView.objects.filter(user=guardian.user).exists()
    last = client.get(reverse("learn:step", args=["the-day-step-by-step", 8]))
    html = last.content.decode()
    assert 'value="8" max="8"' in html
    assert PageView.objects.filter(user=guardian.user, page__slug="the-day-step-by-step").exists()


@pytest.mark.parametrize("number", [0, 9, 999])
def test_steps_outside_the_walk_through_are_404(client, guardian, number):
    client.force_login(guardian.user)
    assert client.get(reverse("learn:step", args=["the-day-step-by-step", number])).status_code == 404


def test_unknown_page_is_404(client, guardian):
    client.force_login(guardian.user)
    assert client.get(reverse("learn:page", args=["no-such-page"])).status_code == 404


def test_pages_are_shown_in_spanish_for_a_spanish_speaking_guardian(client, guardian):
    guardian.user.language = "es"
    guardian.user.save()
    client.force_login(guardian.user)
    page = EducationPage.objects.get(slug="what-is-bone-marrow")
    html = client.get(reverse("learn:page", args=[page.slug])).content.decode()
    assert page.title_es in html
    assert 'lang="es"' in html


def test_getting_ready_says_what_to_bring(db):
    page = EducationPage.objects.get(slug="getting-ready")
    assert "## What to bring" in page.body_en and "## Qué traer" in page.body_es
    for thing in ("medicines your child takes", "insurance card", "snack", "questions"):
        assert thing in page.body_en, thing


def test_after_the_test_covers_the_bandage_baths_and_pain_medicine_without_doses(db):
    page = EducationPage.objects.get(slug="after-the-procedure")
    body = page.body_en
    assert "about 24 hours" in body[body.index("## The bandage") :]
    assert "no bath, shower, pool or hot tub" in body
    pain = body[body.index("## Pain") :]
    assert "which pain medicine to give, and how much" in pain
    # Doses are the care team's to give: no amounts, no medicine names.
    for word in (" mg", " ml", "ibuprofen", "acetaminophen", "tylenol", "motrin"):
        assert word not in body.lower() and word not in page.body_es.lower(), word


@pytest.mark.parametrize("slug", ["getting-ready", "after-the-procedure"])
def test_the_pages_with_leaflet_facts_read_at_grade_6_or_below(db, slug):
    assert reading_grades()[slug] <= 6.0


def test_the_leaflet_migration_rewrites_its_two_pages_and_leaves_the_others_alone(db):
    from importlib import import_module

    from django.apps import apps

    migration = import_module("procedures.migrations.0010_education_leaflet_facts")
    EducationPage.objects.filter(slug="after-the-procedure").update(body_en="Old text.")
    EducationPage.objects.filter(slug="why-it-is-done").update(body_en="Edited by staff.")
    migration.load(apps, None)
    assert "## The bandage" in EducationPage.objects.get(slug="after-the-procedure").body_en
    assert EducationPage.objects.get(slug="why-it-is-done").body_en == "Edited by staff."
