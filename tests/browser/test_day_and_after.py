"""The day and after it, in Chromium: running late, then done, then a warning sign reaches the nurse."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.core.management import call_command

from procedures.models import Procedure, Sedation

from .conftest import DESKTOP, PHONE, log_in_demo, screenshot

pytestmark = [pytest.mark.browser]


@pytest.fixture
def demo(settings, django_capture_on_commit_callbacks):
    settings.DEBUG = True
    call_command("load_demo_data")
    settings.DEBUG = False
    return Procedure.objects.get(patient__mrn="DEMO-1001", sedation=Sedation.GENERAL)


def test_running_late_45_minutes_reaches_the_family(live_server, new_page, demo):
    base = live_server.url
    clear_before = demo.fasting_plan().cutoffs[-1].at
    expected = (clear_before + dt.timedelta(minutes=45)).strftime("%-I:%M %p")

    nurse = new_page(DESKTOP)
    log_in_demo(nurse, base, "nurse@example.org")
    nurse.goto(base + f"/nurse/procedures/{demo.pk}/")
    nurse.get_by_role("link", name="Running late").click()
    nurse.get_by_label("Running late by (minutes)").fill("45")
    nurse.get_by_role("button", name="Tell the family").click()
    nurse.get_by_text("The family has been told the new times.").wait_for()
    call_command("dispatch_reminders", "--once", "--send-here")

    nurse.goto(base + "/nurse/outbox/")
    text = nurse.locator("main").inner_text()
    assert f"may keep drinking clear fluids until {expected}" in text
    screenshot(nurse, "late-outbox")

    parent = new_page(PHONE)
    log_in_demo(parent, base, "parent@example.org")
    parent.goto(base + f"/family/procedures/{demo.pk}/")
    main = parent.locator("main").inner_text()
    assert "Running about 45 minutes late" in main
    # "Stop clear fluids tomorrow at 7:15 AM.": the day word is the page's, from the moment it is read.
    assert re.search(rf"Stop clear fluids [^.]*at {re.escape(expected)}\.", main), main
    screenshot(parent, "late-family-phone")


def test_done_then_a_fever_shows_call_now_and_the_nurse_acknowledges(live_server, new_page, demo):
    base = live_server.url
    after_start = demo.scheduled_start + dt.timedelta(hours=1)
    with time_machine.travel(after_start, tick=True):
        nurse = new_page(DESKTOP)
        log_in_demo(nurse, base, "nurse@example.org")
        nurse.goto(base + f"/nurse/procedures/{demo.pk}/")
        nurse.get_by_role("link", name="Mark as done").click()
        nurse.get_by_role("button", name="Mark as done").click()
        nurse.get_by_text("Marked as done").wait_for()

        parent = new_page(PHONE)
        log_in_demo(parent, base, "parent@example.org")
        parent.get_by_role("link", name="How is Mia doing?").click()
        parent.get_by_label("Temperature, if you took it").fill("38.6")
        parent.get_by_label("°C").check()
        parent.get_by_role("button", name="Send").click()
        parent.get_by_role("heading", name="Call your care team now").wait_for()
        call = parent.get_by_role("link", name="Call (312) 555-0100")
        assert call.get_attribute("href") == "tel:+13125550100"
        assert parent.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        screenshot(parent, "call-now-phone")

        nurse.goto(base + "/nurse/dashboard/")
        first_flag = nurse.locator("#h-flags ~ .alert-danger").first
        assert "Mia Rivera" in first_flag.inner_text()
        screenshot(nurse, "dashboard-flag")
        first_flag.get_by_role("button", name="I am dealing with it").click()
        nurse.get_by_text("Acknowledged. Thank you for following up.").wait_for()
        assert "acknowledged by Nora Quinn" in nurse.locator("main").inner_text()
        screenshot(nurse, "dashboard-acknowledged")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_moving_earlier_past_the_last_drink_shows_the_nurse_whom_to_call(live_server, new_page, demo, viewport):
    base = live_server.url
    last_drink = demo.fasting_plan().cutoffs[-1].at
    # Five minutes after the last clear drink, the team asks to start 30 minutes earlier.
    with time_machine.travel(last_drink + dt.timedelta(minutes=5), tick=True):
        nurse = new_page(viewport)
        log_in_demo(nurse, base, "nurse@example.org")
        nurse.goto(base + f"/nurse/procedures/{demo.pk}/running-late/")
        new_start = (demo.local_start - dt.timedelta(minutes=30)).strftime("%H:%M")
        nurse.get_by_label("New start time today").fill(new_start)
        nurse.get_by_role("button", name="Tell the family").click()
        nurse.get_by_text("Check before you save").wait_for()
        box = nurse.locator("section.alert").inner_text()
        assert "Call these families now" in box and "Paula Rivera" in box
        assert "Nothing is saved yet" in box
        screenshot(nurse, f"late-earlier-check-{'phone' if viewport == PHONE else 'desktop'}")
        assert Procedure.objects.get(pk=demo.pk).version == demo.version
        nurse.get_by_role("button", name="Save and tell the family").click()
        nurse.get_by_text("The family has been told the new times.").wait_for()
    assert Procedure.objects.get(pk=demo.pk).running_late_minutes == -30


def test_a_cancelled_appointment_tells_the_family_first_to_eat_and_not_to_come(live_server, new_page, demo):
    from portal.models import User
    from procedures import services

    services.cancel_procedure(
        procedure=demo, reason="The child has a cold", cancelled_by=User.objects.get(email="nurse@example.org")
    )
    base = live_server.url
    for viewport, name in ((PHONE, "phone"), (DESKTOP, "desktop")):
        parent = new_page(viewport)
        log_in_demo(parent, base, "parent@example.org")
        parent.goto(base + f"/family/procedures/{demo.pk}/")
        main = parent.locator("main").inner_text()
        eat = main.index("Mia may eat and drink as usual again. Do not come to the hospital for this appointment.")
        # Said before anything else on the page, and no fasting times left to follow.
        assert eat < main.index("This appointment was cancelled.")
        assert "Stop clear fluids" not in main
        assert "Arrive at" not in main and "Procedure starts" not in main  # no times left to keep to
        screenshot(parent, f"cancelled-family-{name}")
