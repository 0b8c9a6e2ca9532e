"""What a nurse reads on the day: started early or running late (never "-6 min late"), and nothing late or
unconfirmed once the procedure is over; a family that cannot be called is said to have no phone."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from procedures import services
from tests.factories import GuardianFactory
from tests.reminders.conftest import book

CHICAGO = ZoneInfo("America/Chicago")
MORNING = dt.datetime(2026, 6, 11, 6, 0, tzinfo=CHICAGO)  # Thursday, the day of the 8:30 procedure


@pytest.fixture
def booked(patient, nurse, guardian):
    with time_machine.travel(dt.datetime(2026, 6, 8, 10, 0, tzinfo=CHICAGO), tick=False):
        return book(patient, nurse, arrival=dt.datetime(2026, 6, 11, 7, 30, tzinfo=CHICAGO))


def _nurse_pages(client, nurse, procedure) -> dict[str, str]:
    client.force_login(nurse)
    day = procedure.local_start.date().isoformat()  # the list shows the day asked for, finished ones too
    return {
        "list": client.post(reverse("nurse:procedure_list"), {"day": day}, follow=True).content.decode(),
        "dashboard": client.get(reverse("nurse:dashboard")).content.decode(),
        "detail": client.get(reverse("nurse:procedure_detail", args=[procedure.pk])).content.decode(),
    }


def test_a_start_moved_earlier_reads_started_early_on_every_nurse_page(client, nurse, booked):
    with time_machine.travel(MORNING, tick=False):
        services.mark_running_late(
            procedure=booked, changed_by=nurse, new_start=booked.scheduled_start - dt.timedelta(minutes=6)
        )
        pages = _nurse_pages(client, nurse, booked)
    for name, page in pages.items():
        assert "Started early by 6 min" in page, name
        assert not re.search(r"-\d+ min late", page), name


def test_the_list_shows_the_late_badge(client, nurse, booked):
    with time_machine.travel(MORNING, tick=False):
        services.mark_running_late(procedure=booked, changed_by=nurse, minutes=45)
        pages = _nurse_pages(client, nurse, booked)
    for name, page in pages.items():
        assert "45 min late" in page, name


@pytest.mark.parametrize("shift", [45, -6])
def test_a_finished_procedure_shows_nothing_late_and_no_unconfirmed_fast(client, nurse, booked, shift):
    with time_machine.travel(MORNING, tick=False):
        if shift > 0:
            services.mark_running_late(procedure=booked, changed_by=nurse, minutes=shift)
        else:
            services.mark_running_late(
                procedure=booked, changed_by=nurse, new_start=booked.scheduled_start + dt.timedelta(minutes=shift)
            )
    booked.refresh_from_db()
    ended = booked.scheduled_start + dt.timedelta(minutes=50)
    with time_machine.travel(ended, tick=False):
        services.mark_done(procedure=booked, ended_at=ended, done_by=nurse)
        pages = _nurse_pages(client, nurse, booked)
    assert "Completed" in pages["dashboard"] and "Completed" in pages["detail"]
    for name, page in pages.items():
        assert "min late" not in page and "Started early" not in page, name
        assert "Fasting not confirmed" not in page and "Fasting times not confirmed" not in page, name


def test_a_scheduled_procedure_still_shows_an_unconfirmed_fast(client, nurse, booked):
    with time_machine.travel(MORNING, tick=False):
        pages = _nurse_pages(client, nurse, booked)
    assert "Fasting not confirmed" in pages["list"] and "Fasting not confirmed" in pages["dashboard"]
    assert "Fasting times not confirmed" in pages["detail"]


def test_call_these_families_now_says_when_a_guardian_has_no_phone(client, nurse, booked):
    # Two guardians: one with a mobile number, one without. Neither is an empty line.
    other = GuardianFactory(mobile_number="", user__full_name="Paul Parent")
    booked.patient.guardians.add(other)
    with time_machine.travel(MORNING, tick=False):
        client.force_login(nurse)
        check = client.post(
            reverse("nurse:procedure_running_late", args=[booked.pk]),
            {"version": booked.version, "new_start_time": "08:00"},
        ).content.decode()
    box = check[check.index("Call these families now") :]
    box = box[: box.index("</ul>")]
    items = [re.sub(r"<[^>]+>", "", item).strip() for item in re.findall(r"<li>(.*?)</li>", box, re.S)]
    assert len(items) == 2
    assert "Paul Parent: no phone on file" in items
    assert any(item.endswith("(312) 555-0142") for item in items), items
