"""The pages about the test, opened from a link by someone who is not signed in, in Chromium."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse

from procedures.models import Procedure, Sedation

from .conftest import DESKTOP, PHONE, log_in_demo, screenshot

pytestmark = [pytest.mark.browser]


@pytest.fixture
def demo(settings, django_capture_on_commit_callbacks):
    settings.DEBUG = True
    call_command("load_demo_data")
    settings.DEBUG = False
    return Procedure.objects.get(patient__mrn="DEMO-1001", sedation=Sedation.GENERAL)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_parent_without_an_account_reads_the_pages_and_the_childs_page(live_server, new_page, viewport):
    base = live_server.url
    page = new_page(viewport)
    width = viewport["width"]

    page.goto(base + reverse("learn:index"))
    assert page.url == base + reverse("learn:index"), "no log-in on the way"
    page.get_by_role("heading", name="Learn about the test").wait_for()
    assert page.locator("nav button", has_text="Log out").count() == 0
    screenshot(page, f"learn-public-index-{width}")

    page.get_by_role("link", name="What is bone marrow?").click()
    page.get_by_role("heading", name="What is bone marrow?").wait_for()
    screenshot(page, f"learn-public-page-{width}")

    page.goto(base + reverse("learn:step", args=["the-day-step-by-step", 5]))
    page.get_by_text("Step 5 of 8").wait_for()

    page.goto(base + reverse("learn:index"))
    page.get_by_role("link", name="For your child: what will happen to me?").click()
    page.get_by_role("heading", name="What will happen to me?", level=1).wait_for()
    images = page.locator("main figure img")
    assert images.count() == 8
    for index in range(8):
        # Every picture loaded (no broken image) and has words for a screen reader.
        assert images.nth(index).evaluate("img => img.complete && img.naturalWidth > 0")
        assert images.nth(index).get_attribute("alt")
    no_sideways_scroll = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert no_sideways_scroll
    screenshot(page, f"learn-for-children-{width}")


def test_the_childs_page_reads_in_spanish(live_server, new_page):
    page = new_page(PHONE)
    page.goto(live_server.url + reverse("learn:for_children"))
    page.locator("footer button[value=es]").click()
    page.wait_for_load_state()
    page.get_by_role("heading", name="¿Qué me va a pasar?", level=1).wait_for()
    assert page.locator("html").get_attribute("lang") == "es"
    screenshot(page, "learn-for-children-es-360")


def test_the_parent_finds_the_childs_page_from_the_appointment(live_server, new_page, demo):
    page = new_page(PHONE)
    log_in_demo(page, live_server.url, "parent@example.org")
    page.goto(live_server.url + reverse("family:procedure", args=[demo.pk]))
    page.get_by_role("link", name="A page to read with Mia: what will happen to me?").click()
    page.get_by_role("heading", name="What will happen to me?", level=1).wait_for()
    # Signed in, the menu is there as usual.
    assert page.locator("nav button", has_text="Log out").count() == 1
