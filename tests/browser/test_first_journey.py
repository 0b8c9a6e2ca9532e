"""A nurse schedules a procedure and invites a parent; the parent accepts and sees it."""

from __future__ import annotations

import datetime as dt

import pytest

from procedures.models import Procedure
from tests.conftest import invitation_link_token

from .conftest import PHONE, screenshot

pytestmark = [pytest.mark.browser]
PASSWORD = "correct-horse-battery-9"


def _log_in(page, base: str, email: str, password: str = PASSWORD) -> None:
    page.goto(base + "/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_nurse_schedules_and_invites_then_guardian_sees_the_appointment(live_server, new_page, nurse, location):
    base = live_server.url
    nurse_page = new_page()
    _log_in(nurse_page, base, nurse.email)
    nurse_page.get_by_role("heading", name="Who needs me?").wait_for()
    nurse_page.get_by_role("link", name="Procedures", exact=True).click()
    nurse_page.get_by_role("heading", name="Upcoming procedures").wait_for()

    nurse_page.get_by_role("link", name="Add a child").first.click()
    nurse_page.get_by_label("First name").fill("Lucia")
    nurse_page.get_by_label("Last name").fill("Journeytest")
    nurse_page.get_by_label("Date of birth").fill("2017-08-09")
    nurse_page.get_by_label("MRN").fill("J-100")
    nurse_page.get_by_role("button", name="Save child").click()
    nurse_page.get_by_role("heading", name="Lucia Journeytest").wait_for()

    nurse_page.get_by_role("link", name="Add a guardian").click()
    nurse_page.get_by_label("Full name").fill("Gloria Journeytest")
    nurse_page.get_by_label("Email").fill("gloria@example.org")
    nurse_page.get_by_label("Mobile number").fill("(312) 555-0177")
    nurse_page.get_by_role("button", name="Add and send invitation").click()
    nurse_page.get_by_text("An invitation email is on its way").wait_for()

    day = (dt.datetime.now(location.tz) + dt.timedelta(days=3)).date()
    nurse_page.get_by_role("link", name="Schedule a procedure").click()
    nurse_page.get_by_label("Date").fill(day.isoformat())
    nurse_page.get_by_label("Arrival time").fill("07:15")
    nurse_page.get_by_label("Start time").fill("08:45")
    nurse_page.get_by_role("button", name="Schedule").click()
    nurse_page.get_by_text("Procedure scheduled.").wait_for()
    screenshot(nurse_page, "journey-nurse-procedure")
    procedure = Procedure.objects.get(patient__mrn="J-100")
    assert procedure.local_start.strftime("%H:%M") == "08:45"

    parent = new_page(PHONE)
    parent.goto(base + f"/invite/{invitation_link_token()}/")
    parent.locator("#id_new_password1").fill("lantern-harbor-summit-5")
    parent.locator("#id_new_password2").fill("lantern-harbor-summit-5")
    parent.get_by_role("button", name="Save password and log in").click()
    # The number the nurse typed gets texts only once the family says yes.
    parent.get_by_role("heading", name="Can we text you reminders?").wait_for()
    parent.get_by_role("button", name="Yes, text me").click()
    parent.get_by_role("heading", name="Hello, Gloria").wait_for()
    card = parent.get_by_role("article")
    assert "Lucia" in card.inner_text()
    assert "7:15 AM" in card.inner_text()
    assert "(312) 555-0100" in card.inner_text()
    # Fits a 360 px phone: nothing wider than the screen.
    assert parent.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(parent, "journey-parent-dashboard-phone")

    parent.get_by_role("link", name="Details and checklist").click()
    parent.get_by_role("heading", name="Lucia's appointment").wait_for()
    assert "8:45 AM" in parent.inner_text("main")
