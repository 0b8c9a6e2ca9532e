"""The appointment page on a phone: day, arrival and place first; a real print button; numbers that dial."""

from __future__ import annotations

import pytest

from .conftest import DESKTOP, PHONE, log_in_demo, screenshot
from .test_day_and_after import demo  # noqa: F401 - the demo procedure fixture

pytestmark = [pytest.mark.browser]


def _top(locator) -> float:
    return locator.first.evaluate("el => el.getBoundingClientRect().top + window.scrollY")


def test_day_arrival_and_place_are_on_the_first_phone_screen(live_server, new_page, demo):  # noqa: F811
    parent = new_page(PHONE)
    log_in_demo(parent, live_server.url, "parent@example.org")
    parent.goto(live_server.url + f"/family/procedures/{demo.pk}/")
    facts = parent.locator("dl.facts").first
    date = _top(facts.locator("dt", has_text="Date"))
    arrival = _top(parent.locator(".big-time"))
    place = _top(facts.locator("dt", has_text="Place"))
    fasting = _top(parent.locator("#fasting"))
    # Before this order the arrival time sat about 1,880 px down, under the fasting card and checklist.
    print(f"360 px phone: date y={date:.0f}, arrival y={arrival:.0f}, place y={place:.0f}, fasting y={fasting:.0f}")
    assert max(date, arrival, place) < PHONE["height"]
    assert max(date, arrival, place) < fasting
    # The parking note sits beside the address, under the map link, before the phone.
    where = facts.inner_text()
    assert where.index("Open in maps") < where.index("Park in the Lakeside Ave garage") < where.index("Phone to call")
    assert parent.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(parent, "appointment-phone")


def test_the_print_button_looks_like_the_other_buttons(live_server, new_page, demo):  # noqa: F811
    parent = new_page(PHONE)
    log_in_demo(parent, live_server.url, "parent@example.org")
    parent.goto(live_server.url + f"/family/procedures/{demo.pk}/")
    style = "el => { const s = getComputedStyle(el); return [s.color, s.borderColor, s.opacity]; }"
    printing = parent.get_by_role("link", name="Print the fasting card").evaluate(style)
    calendar = parent.get_by_role("link", name="Add to my calendar").evaluate(style)
    assert printing == calendar
    assert printing[2] == "1"


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_clinic_number_is_a_tap_to_call_link_on_every_family_page(live_server, new_page, demo, viewport):  # noqa: F811
    parent = new_page(viewport)
    log_in_demo(parent, live_server.url, "parent@example.org")
    name = "phone" if viewport == PHONE else "desktop"
    for path, shot in [
        ("/family/", "home"),
        (f"/family/procedures/{demo.pk}/", "appointment"),
        ("/learn/risks-and-when-to-call/", "risks"),
        ("/learn/after-the-procedure/", "after"),
    ]:
        parent.goto(live_server.url + path)
        footer = parent.locator("footer .call-clinics a.tel-link")
        assert footer.get_attribute("href") == "tel:+13125550100", path
        assert footer.inner_text() == "(312) 555-0100"
        if shot in ("risks", "after"):
            call = parent.locator(".call-box").get_by_role("link", name="Call (312) 555-0100")
            assert call.get_attribute("href") == "tel:+13125550100"
        assert parent.evaluate("document.documentElement.scrollWidth") <= viewport["width"], path
        screenshot(parent, f"{shot}-call-{name}")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_login_page_gives_the_hospitals_number_to_tap(live_server, new_page, settings, viewport):
    page = new_page(viewport)
    page.goto(live_server.url + "/accounts/login/")
    link = page.locator("main a.tel-link")
    assert link.get_attribute("href") == f"tel:{settings.HOSPITAL_PHONE}"
    screenshot(page, f"login-{'phone' if viewport == PHONE else 'desktop'}")
