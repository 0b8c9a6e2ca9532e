"""In Chromium: consent to texts (by a nurse, and asked at a family's first login), the grouped
warning-sign card with tap-to-call and its refresh, the outbox, and the nurse pages at phone width."""

from __future__ import annotations

import datetime as dt

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone

from procedures.models import ConsentVia, Guardian, Procedure, ProcedureStatus, SymptomReport
from reminders.models import Channel, Reminder

from .conftest import DESKTOP, PHONE, log_in_demo, screenshot
from .test_accessibility import _violations
from .test_day_and_after import demo  # noqa: F401 - the demo procedure fixture

pytestmark = [pytest.mark.browser]
VIEWPORTS = pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])


def _size(viewport: dict[str, int]) -> str:
    return "360" if viewport == PHONE else "1280"


def _without_consent(email: str) -> Guardian:
    Guardian.objects.filter(user__email=email).update(
        sms_enabled=False, sms_consent_at=None, sms_consent_text="", sms_consent_by=None, sms_consent_via=""
    )
    return Guardian.objects.select_related("user").get(user__email=email)


def _fits(page, viewport) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]


@VIEWPORTS
def test_a_nurse_records_consent_given_by_phone(live_server, new_page, demo, viewport):  # noqa: F811
    guardian = _without_consent("parent@example.org")
    base = live_server.url
    nurse = new_page(viewport)
    log_in_demo(nurse, base, "nurse@example.org")
    nurse.goto(base + f"/nurse/guardians/{guardian.pk}/")
    section = nurse.locator("section", has=nurse.get_by_role("heading", name="Text reminders"))
    assert "Texts are off: the family has not agreed yet." in section.inner_text()
    assert "Message and data rates may apply." in section.locator("blockquote").inner_text()
    _fits(nurse, viewport)
    screenshot(nurse, f"consent-nurse-form-{_size(viewport)}")

    nurse.get_by_role("button", name="Save consent and turn texts on").click()
    nurse.get_by_text("Please choose how they agreed: in person or by phone.").wait_for()
    nurse.get_by_text("Please read the words to them first, then tick this box.").wait_for()
    screenshot(nurse, f"consent-nurse-errors-{_size(viewport)}")

    nurse.get_by_label("By phone").check()
    nurse.get_by_label("I read these exact words to them and they said yes.").check()
    nurse.get_by_role("button", name="Save consent and turn texts on").click()
    nurse.get_by_text("Consent saved. Text reminders are on for this guardian.").wait_for()
    assert "recorded by Nora Quinn" in nurse.locator("main").inner_text()
    screenshot(nurse, f"consent-nurse-saved-{_size(viewport)}")
    guardian.refresh_from_db()
    assert guardian.sms_consent_via == ConsentVia.PHONE and guardian.sms_consent_by.full_name == "Nora Quinn"
    assert guardian.can_receive_sms
    assert Reminder.objects.filter(guardian=guardian, channel=Channel.SMS, procedure=demo).exists()


@VIEWPORTS
@pytest.mark.parametrize("language", ["en", "es"])
def test_a_family_is_asked_about_texts_at_first_login(live_server, new_page, demo, viewport, language):  # noqa: F811
    guardian = _without_consent("parent@example.org")
    type(guardian.user).objects.filter(pk=guardian.user_id).update(language=language)
    base = live_server.url
    parent = new_page(viewport)
    log_in_demo(parent, base, "parent@example.org")
    parent.wait_for_url(base + "/family/text-reminders/")
    heading = "Can we text you reminders?" if language == "en" else "¿Podemos enviarle recordatorios"
    parent.get_by_role("heading", name=heading).wait_for()
    assert "(312) 555-0142" in parent.locator("main").inner_text()
    _fits(parent, viewport)
    found = _violations(Axe(), parent)
    assert not found, found
    screenshot(parent, f"consent-question-{language}-{_size(viewport)}")
    parent.locator("button[value=yes]").click()
    parent.wait_for_url(base + "/family/")
    screenshot(parent, f"consent-question-yes-{language}-{_size(viewport)}")
    guardian.refresh_from_db()
    assert guardian.sms_consent_via == ConsentVia.PORTAL and guardian.can_receive_sms
    assert ("Message and data rates" in guardian.sms_consent_text) == (language == "en")


def test_not_now_is_not_asked_again_at_the_next_login(live_server, new_page, demo):  # noqa: F811
    _without_consent("parent@example.org")
    base = live_server.url
    parent = new_page(PHONE)
    log_in_demo(parent, base, "parent@example.org")
    parent.get_by_role("button", name="Not now").click()
    parent.get_by_text("We will not text you.").wait_for()
    parent.context.clear_cookies()
    log_in_demo(parent, base, "parent@example.org")
    assert parent.url == base + "/family/"


def _finished(procedure: Procedure) -> Procedure:
    ended = timezone.now() - dt.timedelta(hours=3)
    Procedure.objects.filter(pk=procedure.pk).update(
        status=ProcedureStatus.COMPLETED,
        scheduled_start=ended - dt.timedelta(hours=1),
        arrival_at=ended - dt.timedelta(hours=2),
        ended_at=ended,
    )
    return Procedure.objects.get(pk=procedure.pk)


@VIEWPORTS
def test_one_childs_warning_signs_share_a_card_with_a_number_to_call(
    live_server,
    new_page,
    demo,  # noqa: F811
    viewport,
):
    procedure = _finished(demo)
    parent = procedure.patient.guardians.get(user__email="parent@example.org").user
    now = timezone.now()
    SymptomReport.objects.create(
        procedure=procedure, user=parent, needs_attention=True, chills=True, created_at=now - dt.timedelta(minutes=40)
    )
    SymptomReport.objects.create(
        procedure=procedure, user=parent, needs_attention=True, bleeding=True, created_at=now - dt.timedelta(minutes=5)
    )
    base = live_server.url
    nurse = new_page(viewport)
    nurse.clock.install()
    log_in_demo(nurse, base, "nurse@example.org")
    nurse.goto(base + "/nurse/dashboard/")
    cards = nurse.locator(".flag-card")
    assert cards.count() == 1
    card = cards.first
    text = card.inner_text()
    assert "Mia Rivera" in text and "2 reports" in text
    assert text.index("Bleeding that does not stop.") < text.index("Chills.")  # newest first
    call = card.get_by_role("link", name="Call Paula Rivera: (312) 555-0142")
    assert call.get_attribute("href") == "tel:+13125550142"
    _fits(nurse, viewport)
    found = _violations(Axe(), nurse)
    assert not found, found
    screenshot(nurse, f"dashboard-card-{_size(viewport)}")

    # A third report comes in; the page refreshes itself within a minute and marks it new.
    SymptomReport.objects.create(procedure=procedure, user=parent, needs_attention=True, redness=True)
    nurse.evaluate("window.scrollTo(0, 200)")
    scrolled = nurse.evaluate("window.scrollY")
    nurse.clock.run_for(61_000)
    card.get_by_text("3 reports").wait_for()
    assert card.locator(".badge", has_text="New").count() >= 1
    note = nurse.locator("#dashboard-updated")
    assert note.get_attribute("role") == "status"
    assert "Updated" in note.inner_text() and "new warning signs since you last looked" in note.inner_text()
    assert nurse.evaluate("window.scrollY") == scrolled
    screenshot(nurse, f"dashboard-card-refreshed-{_size(viewport)}")

    card.get_by_role("button", name="I am dealing with it").click()
    nurse.get_by_text("Acknowledged. Thank you for following up.").wait_for()
    assert SymptomReport.objects.open_flags().count() == 0


@VIEWPORTS
def test_nurse_pages_fit_a_phone_and_pass_axe(live_server, new_page, demo, viewport):  # noqa: F811
    from django.core.management import call_command

    call_command("dispatch_reminders", "--once", "--send-here")
    base = live_server.url
    nurse = new_page(viewport)
    log_in_demo(nurse, base, "nurse@example.org")
    size = _size(viewport)
    pages = {
        "procedure": f"/nurse/procedures/{demo.pk}/",
        "access": f"/nurse/patients/{demo.patient_id}/access/",
        "outbox": "/nurse/outbox/",
        "outbox-bad-filter": "/nurse/outbox/?channel=pigeon&kind=confirmation",
    }
    problems = {}
    for name, url in pages.items():
        nurse.goto(base + url)
        problems[name] = _violations(Axe(), nurse)
        _fits(nurse, viewport)
        screenshot(nurse, f"nurse-{name}-{size}")
    assert not any(problems.values()), problems
    nurse.goto(base + "/nurse/outbox/?channel=email")
    assert "UTC" not in nurse.locator("main").inner_text()
    assert "Guardian: Paula Rivera" in nurse.locator("main").inner_text()
