"""Playwright (Python) driving Debian's Chromium against pytest-django's live server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; the ORM calls made by
# test code around it are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
SCREENSHOTS = Path(__file__).parent / "screenshots"
PHONE = {"width": 360, "height": 780}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="session")
def browser(chromium_path_session: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path_session, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def chromium_path_session() -> str:
    from tests.conftest import need

    path = "/usr/bin/chromium"
    if not os.path.exists(path):
        need("Debian's chromium is not installed (apt-get install chromium)")
    return path


@pytest.fixture(autouse=True)
def _content(education_content: None) -> None:
    pass


@pytest.fixture
def new_page(browser):
    """Pages in fresh browser contexts; any Content Security Policy violation fails the test."""
    contexts = []
    violations: list[str] = []

    def watch(message) -> None:
        if "Content Security Policy" in message.text:
            violations.append(message.text)

    def make(viewport: dict[str, int] = DESKTOP):
        context = browser.new_context(viewport=viewport)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on("console", watch)
        return page

    yield make
    for context in contexts:
        context.close()
    assert not violations, violations


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


DEMO_PASSWORD = "marrow-demo-2026"


def log_in_demo(page, base: str, email: str) -> None:
    """Log a demo account in; demo staff pass two-step login with the README's first backup code."""
    from reminders.management.commands.load_demo_data import DEMO_BACKUP_CODES

    page.goto(base + "/accounts/login/")
    page.locator("#id_username").fill(email)
    page.locator("#id_password").fill(DEMO_PASSWORD)
    page.locator("#submit-id-submit").click()
    page.wait_for_load_state()
    if email in DEMO_BACKUP_CODES:
        page.locator("#id_code").fill(DEMO_BACKUP_CODES[email][0])
        page.get_by_role("button", name="Continue").click()
        page.wait_for_load_state()
