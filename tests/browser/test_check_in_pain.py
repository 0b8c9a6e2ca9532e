"""The check-in in Chromium: the pain question starts with nothing ticked and fits the day."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from procedures.models import ProcedureStatus

from .conftest import DESKTOP, PHONE, log_in_demo, screenshot
from .test_day_and_after import demo  # noqa: F401 - the demo procedure fixture

pytestmark = [pytest.mark.browser]


@pytest.mark.parametrize(
    ("hours_after", "question", "answers"),
    [
        (1, "How is the pain?", ["No pain", "Some pain", "A lot of pain"]),
        (30, "How is the pain, compared with yesterday?", ["No pain", "Better than yesterday"]),
    ],
    ids=["same-day", "next-day"],
)
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_pain_question_starts_unticked_and_fits_the_day(
    live_server,
    new_page,
    demo,  # noqa: F811
    viewport,
    hours_after,
    question,
    answers,
):
    ended = demo.scheduled_start + dt.timedelta(minutes=45)
    demo.status, demo.ended_at = ProcedureStatus.COMPLETED, ended
    demo.save()
    # From noon on the procedure's day: never across midnight by accident.
    moment = demo.location.localize(ended).replace(hour=12, minute=0) + dt.timedelta(hours=hours_after - 1)
    with time_machine.travel(moment, tick=True):
        parent = new_page(viewport)
        log_in_demo(parent, live_server.url, "parent@example.org")
        parent.goto(live_server.url + f"/family/procedures/{demo.pk}/check-in/")
        assert question in parent.locator("main").inner_text()
        for answer in answers:
            assert not parent.get_by_label(answer, exact=True).is_checked(), answer
        assert parent.locator('input[name="pain"]:checked').count() == 0
        assert parent.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        screenshot(parent, f"check-in-{'phone' if viewport == PHONE else 'desktop'}-{hours_after}h")
