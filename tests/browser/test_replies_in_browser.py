"""In Chromium: the families' answers on the nurse's board, a family's thread, and the family page's buttons."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from django.utils import timezone

from procedures.models import Guardian, Procedure
from reminders import replies
from reminders.models import InboundText, Reply

from .conftest import DESKTOP, PHONE, log_in_demo, screenshot
from .test_day_and_after import demo  # noqa: F401 - the demo procedure fixture

pytestmark = [pytest.mark.browser]
VIEWPORTS = pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
# Where a review wants them too (SCREENSHOTS_DIR), besides tests/browser/screenshots.
EXTRA = os.environ.get("SCREENSHOTS_DIR", "")


def _shot(page, name: str) -> None:
    screenshot(page, name)
    if EXTRA:
        Path(EXTRA).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(EXTRA) / f"{name}.png"), full_page=True)


def _size(viewport: dict[str, int]) -> str:
    return "360" if viewport == PHONE else "1280"


def _fits(page, viewport) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]


@VIEWPORTS
def test_the_board_shows_answers_and_texts_and_the_thread_marks_one_answered(live_server, new_page, demo, viewport):  # noqa: F811
    guardian = Guardian.objects.select_related("user").get(user__email="parent@example.org")
    now = timezone.now()
    replies.answer(number=guardian.mobile_number, body="Yes", sid="SMb1", guardians=[guardian], now=now)
    replies.answer(number=guardian.mobile_number, body="Can she have apple juice at 6?", sid="SMb2",
                   guardians=[guardian], now=now + dt.timedelta(minutes=1))  # fmt: skip
    replies.record(number="+13125550199", body="Who is this?", sid="SMb3", guardians=[], meaning=Reply.MESSAGE,
                   now=now + dt.timedelta(minutes=2))  # fmt: skip
    base = live_server.url
    nurse = new_page(viewport)
    log_in_demo(nurse, base, "nurse@example.org")
    nurse.goto(base + "/nurse/dashboard/")
    board = nurse.locator("section", has=nurse.get_by_role("heading", name="Texts from families (last 7 days)"))
    assert "apple juice" in board.inner_text() and "Unknown number" in board.inner_text()
    _fits(nurse, viewport)
    _shot(nurse, f"replies-board-{_size(viewport)}")

    nurse.goto(base + f"/nurse/guardians/{guardian.pk}/")
    nurse.get_by_role("heading", name="Messages from this family").wait_for()
    nurse.get_by_role("button", name="Mark as answered").first.click()
    nurse.get_by_text("Marked as answered.").wait_for()
    assert "Answered by Nora Quinn" in nurse.locator("main").inner_text()
    _fits(nurse, viewport)
    _shot(nurse, f"replies-thread-{_size(viewport)}")


@VIEWPORTS
def test_a_family_says_it_is_running_late_from_its_page(live_server, new_page, demo, viewport):  # noqa: F811
    base = live_server.url
    family = new_page(viewport)
    log_in_demo(family, base, "parent@example.org")
    family.goto(base + f"/family/procedures/{demo.pk}/")
    _fits(family, viewport)
    _shot(family, f"replies-family-buttons-{_size(viewport)}")
    family.get_by_role("button", name="We're running late").click()
    family.get_by_text("We told the care team you will be late").wait_for()
    assert InboundText.objects.get(by_text=False).meaning == Reply.LATE
    assert Procedure.objects.filter(pk=demo.pk).exists()
