"""The nurses' list of record-system messages, as a nurse sees it on a phone and a desktop."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from procedures.feed.intake import receive_hl7
from procedures.feed.models import LocationCode, SendingSystem, ServiceCode
from procedures.models import Location, ProcedureKind, Sedation
from tests.feed import corpus
from tests.feed.test_hl7_engines import fill

from .conftest import DESKTOP, PHONE, SCREENSHOTS, log_in_demo, screenshot

pytestmark = [pytest.mark.browser]
SHOTS = Path("/work/shots/28a")


@pytest.fixture
def queue(settings):
    settings.DEBUG = True
    call_command("load_demo_data")
    settings.DEBUG = False
    clinic = Location.objects.get()
    system = SendingSystem.objects.create(name="Corepoint", hl7_application="GPMS", timezone=clinic.timezone)
    system.clinics.add(clinic)
    LocationCode.objects.create(system=system, code="ONC-PROC", location=clinic)
    cadence = SendingSystem.objects.create(
        name="Cadence", hl7_application="SCHED", hl7_facility="LAKESIDE", status_codes=corpus.CADENCE_STATUS_CODES
    )
    cadence.clinics.add(clinic)
    LocationCode.objects.create(system=cadence, code="ONC-PROC", location=clinic)
    ServiceCode.objects.create(system=cadence, code="BMAB-GA", kind=ProcedureKind.BOTH, sedation=Sedation.GENERAL)
    # Unmapped service (three resends fold into one row), a test message refused, a child with no family.
    for _ in range(3):
        receive_hl7(fill(corpus.COREPOINT_SIU, control="Q-100", placer="PL9", mrn="Q100").encode(), peer="10.0.0.5")
    receive_hl7(
        fill(corpus.COREPOINT_SIU, control="Q-101", placer="PL8", mrn="Q101").replace("|P|2.3", "|T|2.3").encode()
    )
    receive_hl7(fill(corpus.CADENCE_S12, control="Q-102", filler="CA9", mrn="Q102").encode())


def test_the_nurses_list_on_a_phone_and_a_desktop(live_server, new_page, queue):
    base = live_server.url
    page = new_page(DESKTOP)
    log_in_demo(page, base, "nurse@example.org")
    page.goto(base + reverse("nurse:feed_message_list"))
    assert page.get_by_text("ARJUN PATEL").first.is_visible()
    assert page.get_by_text("Refused").first.is_visible()
    assert page.get_by_text("Children booked with no parent or guardian").is_visible()
    screenshot(page, "feed-queue-1280")
    page.set_viewport_size(PHONE)
    page.goto(base + reverse("nurse:feed_message_list"))
    screenshot(page, "feed-queue-360")
    page.get_by_role("link").filter(has_text=":").first.click()
    page.wait_for_load_state()
    screenshot(page, "feed-message-360")
    page.set_viewport_size(DESKTOP)
    screenshot(page, "feed-message-1280")
    SHOTS.mkdir(parents=True, exist_ok=True)
    for name in ("feed-queue-1280", "feed-queue-360", "feed-message-360", "feed-message-1280"):
        shutil.copy(SCREENSHOTS / f"{name}.png", SHOTS / f"{name}.png")
