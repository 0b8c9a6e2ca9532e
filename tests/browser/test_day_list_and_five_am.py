"""In Chromium: the nurses' day list on screen and on one printed sheet, and what a parent finds at 5 a.m."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.management import call_command
from django.utils import timezone

from procedures.models import Guardian, Location, Procedure, Sedation

from ..factories import GuardianFactory, PatientFactory, ProcedureFactory
from .conftest import DESKTOP, PHONE, log_in_demo, screenshot

pytestmark = [pytest.mark.browser]


@pytest.fixture
def demo(settings):
    settings.DEBUG = True
    call_command("load_demo_data")
    settings.DEBUG = False
    location = Location.objects.get()
    Location.objects.filter(pk=location.pk).update(
        after_hours_phone="+13125550199",
        opens_at=dt.time(0, 0),
        closes_at=dt.time(0, 0),  # open all day in this test: the clinic's own number is the one given
        unwell_rule_en="A cold, a cough or a fever in the 2 days before? Call us: we may move the test.",
        unwell_rule_es="¿Resfriado, tos o fiebre en los 2 días antes? Llámenos: quizás cambiemos la prueba.",
    )
    mia = Procedure.objects.get(patient__mrn="DEMO-1001", sedation=Sedation.GENERAL)
    Procedure.objects.filter(pk=mia.pk).update(morning_medicines="Give her seizure medicine at 6 AM as usual.")
    # A busier morning: more children arriving the same day as Mia, one whose parent has no mobile number.
    day = mia.local_arrival.date()
    for index, (first, minutes) in enumerate([("Ava", 0), ("Noah", 45), ("Liam", 90), ("Emma", 120), ("Zoe", 180)]):
        arrival = location.at(day, dt.time(6, 30)) + dt.timedelta(minutes=minutes)
        parent = GuardianFactory(
            user__full_name=f"{first}'s parent", mobile_number="" if index == 2 else f"+1312555017{index}"
        )
        patient = PatientFactory(first_name=first, last_name="Diaz", location=location, guardians=[parent])
        ProcedureFactory(
            patient=patient,
            arrival_at=arrival,
            scheduled_start=arrival + dt.timedelta(minutes=60),
            sedation=Sedation.LOCAL if index == 3 else Sedation.GENERAL,
        )
    return Procedure.objects.get(pk=mia.pk)


def _which_day(procedure: Procedure) -> str:
    today = timezone.now().astimezone(procedure.location.tz).date()
    return "today" if procedure.local_arrival.date() == today else "tomorrow"


def test_the_day_list_on_screen_and_on_one_printed_sheet(live_server, new_page, demo):
    base = live_server.url
    url = f"{base}/nurse/day-list/?day={_which_day(demo)}"
    nurse = new_page(DESKTOP)
    log_in_demo(nurse, base, "nurse@example.org")  # once: each backup code works once
    for name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        nurse.set_viewport_size(viewport)
        nurse.goto(url)
        rows = nurse.locator("table.day-list tbody tr")
        assert rows.count() == 6
        arrivals = [rows.nth(i).locator("td").first.inner_text() for i in range(6)]
        assert arrivals == ["6:30 AM", "7:15 AM", "7:30 AM", "8:00 AM", "8:30 AM", "9:30 AM"]
        assert "no phone on file" in rows.nth(3).inner_text()
        screenshot(nurse, f"day-list-{name}")
        nurse.emulate_media(media="print")
        assert nurse.locator("header").is_hidden() and nurse.locator("form.no-print").is_hidden()
        screenshot(nurse, f"day-list-{name}-print")
        nurse.emulate_media(media="screen")
    # Printed, the whole list is one sheet: laid out at an A4 landscape sheet's printable width (277 mm).
    nurse.set_viewport_size({"width": 1047, "height": 718})
    nurse.emulate_media(media="print")
    screenshot(nurse, "day-list-a4-print")
    pdf = nurse.pdf(prefer_css_page_size=True)
    (_shots() / "day-list.pdf").write_bytes(pdf)
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1


def test_the_appointment_page_at_five_am_on_a_phone(live_server, new_page, demo):
    base = live_server.url
    for name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        parent = new_page(viewport)
        log_in_demo(parent, base, "parent@example.org")
        parent.goto(f"{base}/family/procedures/{demo.pk}/")
        unwell = parent.locator("section.if-unwell")
        text = unwell.inner_text()
        assert "Should we come?" in text and "we may move the test" in text and "(312) 555-0100" in text
        assert "Give her seizure medicine at 6 AM as usual." in parent.locator("main").inner_text()
        assert parent.locator("a.map-link").get_attribute("href").startswith("https://www.google.com/maps/search/")
        screenshot(parent, f"five-am-appointment-{name}")
        unwell.scroll_into_view_if_needed()
        unwell.screenshot(path=str(_shots() / f"five-am-unwell-{name}.png"))


def test_the_getting_ready_page_and_the_login_page(live_server, new_page, demo):
    base = live_server.url
    for name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        visitor = new_page(viewport)
        visitor.goto(f"{base}/accounts/login/")
        visitor.get_by_role("link", name="Read the pages about the test").wait_for()
        screenshot(visitor, f"login-{name}")
        visitor.get_by_role("link", name="Read the pages about the test").click()
        visitor.goto(f"{base}/learn/getting-ready/")
        assert "The hospital's main number" in visitor.locator("section.if-unwell").inner_text()
        screenshot(visitor, f"getting-ready-anonymous-{name}")
        spanish = new_page(viewport)
        log_in_demo(spanish, base, "parent2@example.org")
        spanish.goto(f"{base}/learn/getting-ready/")
        text = spanish.locator("section.if-unwell").inner_text()
        assert "¿Debemos ir?" in text and "quizás cambiemos la prueba" in text
        screenshot(spanish, f"getting-ready-spanish-{name}")


def test_the_nurse_sees_started_early_and_the_morning_medicines(live_server, new_page, demo):
    base = live_server.url
    Procedure.objects.filter(pk=demo.pk).update(running_late_minutes=-11)
    assert Guardian.objects.filter(patients=demo.patient).exists()
    nurse = new_page(DESKTOP)
    log_in_demo(nurse, base, "nurse@example.org")
    for name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        nurse.set_viewport_size(viewport)
        nurse.goto(f"{base}/nurse/procedures/{demo.pk}/")
        main = nurse.locator("main").inner_text()
        assert "Started early by 11 min" in main and "-11 min late" not in main
        assert "Give her seizure medicine at 6 AM as usual." in main
        screenshot(nurse, f"nurse-started-early-{name}")
        for page_name, path in (("list", "/nurse/"), ("dashboard", "/nurse/dashboard/")):
            nurse.goto(base + path)
            assert "Started early by 11 min" in nurse.locator("main").inner_text(), page_name
            screenshot(nurse, f"nurse-{page_name}-started-early-{name}")
        nurse.goto(f"{base}/nurse/procedures/{demo.pk}/edit/")
        assert (
            nurse.get_by_label("Medicines on the morning").input_value()
            == "Give her seizure medicine at 6 AM as usual."
        )
        screenshot(nurse, f"nurse-edit-medicines-{name}")


def _shots():
    from .conftest import SCREENSHOTS

    SCREENSHOTS.mkdir(exist_ok=True)
    return SCREENSHOTS
