"""axe-core on every family page, in English and Spanish, at phone and desktop width."""

from __future__ import annotations

import datetime as dt

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.urls import reverse

from portal.models import Invitation
from procedures.feed.intake import receive_hl7
from procedures.feed.models import InboundMessage, SendingSystem, ServiceCode
from procedures.models import ProcedureKind, Sedation
from procedures.readiness import education_pages

from ..factories import PASSWORD, ProcedureFactory
from ..feed import corpus
from ..feed.test_hl7_listener import siu
from .conftest import DESKTOP, PHONE, screenshot

pytestmark = [pytest.mark.browser]
BLOCKING = {"serious", "critical"}


def _family_urls(procedure) -> list[str]:
    pk = procedure.pk
    urls = [
        reverse("family:dashboard"),
        reverse("family:procedure", args=[pk]),
        reverse("family:child", args=[procedure.patient.pk]),
        reverse("family:fasting_card", args=[pk]),
        reverse("family:questions", args=[pk]),
        reverse("family:questions_print", args=[pk]),
        reverse("learn:index"),
        reverse("learn:for_children"),
        reverse("family:preferences"),
    ]
    for page in education_pages().prefetch_related("steps"):
        steps = list(page.steps.all())
        if steps:
            urls += [reverse("learn:step", args=[page.slug, n]) for n in range(1, len(steps) + 1)]
        else:
            urls.append(reverse("learn:page", args=[page.slug]))
    return urls


def _open_login_in(page, base: str, language: str) -> None:
    """The login page, switched to the language under test with the footer's switch."""
    page.goto(base + reverse("login"))
    if language == "es":
        page.locator("footer button[value=es]").click()
        page.wait_for_load_state()


def _violations(axe: Axe, page) -> list[str]:
    results = axe.run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in BLOCKING
    ]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("language", ["en", "es"])
def test_family_pages_have_no_serious_accessibility_violations(
    live_server, new_page, guardian, patient, viewport, language
):
    start = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    procedure = ProcedureFactory(patient=patient, scheduled_start=start, arrival_at=start - dt.timedelta(hours=1))
    ended = dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)
    finished = ProcedureFactory(
        patient=patient,
        scheduled_start=ended - dt.timedelta(hours=1),
        arrival_at=ended - dt.timedelta(hours=2),
        status="completed",
        ended_at=ended,
    )
    _, token = Invitation.issue(user=guardian.user, created_by=None)
    axe = Axe()
    page = new_page(viewport)
    base = live_server.url
    found: dict[str, list[str]] = {}

    _open_login_in(page, base, language)
    assert page.locator("html").get_attribute("lang") == language
    for url in (reverse("login"), reverse("accept_invitation", args=[token])):
        page.goto(base + url)
        found[url] = _violations(axe, page)
    # The pages about the test are public: checked as a visitor who is not signed in, too.
    for url in (reverse("learn:index"), reverse("learn:for_children"), reverse("learn:page", args=["key-points"])):
        page.goto(base + url)
        found[f"not signed in: {url}"] = _violations(axe, page)

    page.goto(base + reverse("login"))
    page.locator("#id_username").fill(guardian.user.email)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("#submit-id-submit").click()
    # A family with a mobile and no answer yet is first asked about texts.
    page.wait_for_url(base + reverse("family:text_question"))
    found[reverse("family:text_question")] = _violations(axe, page)
    page.locator("button[value=not_now]").click()
    page.wait_for_url(base + reverse("family:dashboard"))
    for url in [*_family_urls(procedure), reverse("family:check_in", args=[finished.pk])]:
        page.goto(base + url)
        assert page.locator("html").get_attribute("lang") == language, url
        found[url] = _violations(axe, page)
    # The call-now screen, after a check-in with a fever.
    page.locator("#id_temperature").fill("39.2")
    page.locator("input[name=temperature_unit][value=C]").check()
    page.locator("form [type=submit][name=submit]").click()
    page.locator(".call-now").wait_for()
    found["call-now"] = _violations(axe, page)
    screenshot(page, f"a11y-last-{language}-{viewport['width']}")
    problems = {url: v for url, v in found.items() if v}
    assert not problems, problems


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("language", ["en", "es"])
def test_forgot_password_pages_have_no_serious_accessibility_violations(live_server, new_page, db, viewport, language):
    axe = Axe()
    page = new_page(viewport)
    base = live_server.url
    found: dict[str, list[str]] = {}
    _open_login_in(page, base, language)
    for url in (
        reverse("password_reset"),
        reverse("password_reset_done"),
        reverse("password_reset_confirm", args=["MQ", "used-or-too-old"]),
        reverse("password_reset_complete"),
        reverse("password_reset_text"),
        reverse("password_reset_text_new"),
    ):
        page.goto(base + url)
        assert page.locator("html").get_attribute("lang") == language, url
        found[url] = _violations(axe, page)
    # A wrong number, then the code page with a wrong code: the pages with error messages.
    page.goto(base + reverse("password_reset_text"))
    page.locator("#id_mobile_number").fill("555")
    page.locator("#submit-id-submit").click()
    page.wait_for_load_state()
    found["bad number"] = _violations(axe, page)
    page.locator("#id_mobile_number").fill("(312) 555-0188")
    page.locator("#submit-id-submit").click()
    page.wait_for_url(base + reverse("password_reset_code"))
    page.locator("#id_code").fill("123456")
    page.locator("#submit-id-submit").click()
    page.wait_for_load_state()
    found["wrong code"] = _violations(axe, page)
    screenshot(page, f"a11y-reset-code-{language}-{viewport['width']}")
    problems = {url: v for url, v in found.items() if v}
    assert not problems, problems


def _a_booking_to_fix(location) -> InboundMessage:
    """A message from the record system that cannot be applied: its clinic code is not mapped."""
    system = SendingSystem.objects.create(name="Lakeside Epic", hl7_application="EPIC", hl7_facility="LAKESIDE")
    system.clinics.add(location)
    ServiceCode.objects.create(system=system, code="BMAB-GA", kind=ProcedureKind.BOTH, sedation=Sedation.GENERAL)
    receive_hl7(siu(corpus.EPIC_S12, control="A11Y-1").encode(), peer="10.0.0.5")
    return InboundMessage.objects.get(control_id="A11Y-1")


def _nurse_urls(procedure, guardian) -> list[str]:
    patient = procedure.patient
    message = _a_booking_to_fix(patient.location)
    return [
        reverse("nurse:dashboard"),
        reverse("nurse:procedure_list"),
        reverse("nurse:day_list"),
        reverse("nurse:day_list") + "?day=tomorrow",
        reverse("nurse:patient_list"),
        reverse("nurse:patient_create"),
        reverse("nurse:patient_detail", args=[patient.pk]),
        reverse("nurse:patient_edit", args=[patient.pk]),
        reverse("nurse:patient_access", args=[patient.pk]),
        reverse("nurse:guardian_add", args=[patient.pk]),
        reverse("nurse:guardian_detail", args=[guardian.pk]),
        reverse("nurse:procedure_create", args=[patient.pk]),
        reverse("nurse:procedure_detail", args=[procedure.pk]),
        reverse("nurse:procedure_edit", args=[procedure.pk]),
        reverse("nurse:procedure_running_late", args=[procedure.pk]),
        reverse("nurse:procedure_done", args=[procedure.pk]),
        reverse("nurse:procedure_cancel", args=[procedure.pk]),
        reverse("nurse:outbox"),
        reverse("nurse:feed_message_list"),
        reverse("nurse:feed_message_detail", args=[message.pk]),
    ]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("language", ["en", "es"])
def test_nurse_pages_have_no_serious_accessibility_violations(
    live_server, new_page, nurse, guardian, patient, viewport, language
):
    from procedures import services

    start = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=20)).replace(minute=0, second=0, microsecond=0)
    procedure = services.schedule_procedure(
        patient=patient,
        kind="both",
        location=patient.location,
        scheduled_start=start,
        arrival_at=start - dt.timedelta(hours=1),
        sedation="general",
        scheduled_by=nurse,
    )
    axe = Axe()
    page = new_page(viewport)
    base = live_server.url
    _open_login_in(page, base, language)
    page.locator("#id_username").fill(nurse.email)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("#submit-id-submit").click()
    page.wait_for_load_state()
    found: dict[str, list[str]] = {}
    for url in _nurse_urls(procedure, guardian):
        page.goto(base + url)
        assert page.locator("html").get_attribute("lang") == language, url
        found[url] = _violations(axe, page)
        if "/record-system/" in url:
            screenshot(page, f"a11y-nurse-record-system-{url.count('/')}-{language}-{viewport['width']}")
    screenshot(page, f"a11y-nurse-last-{language}-{viewport['width']}")
    problems = {url: v for url, v in found.items() if v}
    assert not problems, problems
