"""What a parent looks for at 5 a.m.: whether to come with a sick child, the morning medicines, the way there,
and which number to call when; and what the login page and the invitation tell a family before they log in."""

from __future__ import annotations

import datetime as dt
import html
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from procedures.models import Location, Procedure
from tests.conftest import latest_invitation

from ..factories import ProcedureFactory

CHICAGO = ZoneInfo("America/Chicago")
FIVE_AM = dt.datetime(2032, 6, 10, 5, 0, tzinfo=CHICAGO)
TEN_AM = dt.datetime(2032, 6, 10, 10, 0, tzinfo=CHICAGO)
UNWELL = "My child has a cold, a fever or is throwing up. Should we come?"


@pytest.fixture
def booked(patient):
    start = dt.datetime(2032, 6, 10, 13, 0, tzinfo=CHICAGO)
    return ProcedureFactory(patient=patient, scheduled_start=start, arrival_at=start - dt.timedelta(hours=1))


def _write(location, **fields):
    Location.objects.filter(pk=location.pk).update(**fields)


def _page(client, user, url, at=TEN_AM) -> str:
    with time_machine.travel(at, tick=False):
        client.force_login(user)
        response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def _section(page: str, start: str, end: str = "</section>") -> str:
    part = page[page.index(start) :]
    return part[: part.index(end)]


def test_the_appointment_page_says_what_to_do_with_a_sick_child_and_the_clinics_number(client, guardian, booked):
    _write(booked.location, unwell_rule_en="Fever in the last 2 days? We may move the test.", fever_threshold_c="38.5")
    page = _page(client, guardian.user, reverse("family:procedure", args=[booked.pk]))
    unwell = _section(page, UNWELL)
    assert "Call us before you leave home." in unwell
    assert "Fever in the last 2 days? We may move the test." in unwell
    assert "A fever is a temperature of 38.5 °C (101.3 °F) or more." in unwell
    assert 'href="tel:+13125550100"' in unwell and "(312) 555-0100" in unwell


def test_the_sick_child_section_is_in_spanish_for_a_spanish_speaking_family(client, guardian, booked):
    _write(booked.location, unwell_rule_en="Call first.", unwell_rule_es="Llame primero.")
    guardian.user.language = "es"
    guardian.user.save()
    page = _page(client, guardian.user, reverse("family:procedure", args=[booked.pk]))
    unwell = _section(page, "Mi hijo tiene un resfriado, fiebre o está vomitando. ¿Debemos ir?")
    assert "Llame primero." in unwell and "Call first." not in unwell
    assert "Fiebre es una temperatura de 38,0 °C (100,4 °F) o más." in unwell


def test_the_getting_ready_page_has_the_sick_child_section_with_the_right_number(
    client, guardian, booked, education_content
):
    url = reverse("learn:page", args=["getting-ready"])
    anonymous = client.get(url).content.decode()
    assert "The hospital's main number" in _section(anonymous, UNWELL)
    family = _page(client, guardian.user, url)
    unwell = _section(family, UNWELL)
    assert "Lakeside Day Unit" in unwell and "(312) 555-0100" in unwell


def test_at_five_am_the_after_hours_number_is_the_one_given(client, guardian, booked):
    _write(booked.location, after_hours_phone="+13125550199", opens_at=dt.time(6, 30), closes_at=dt.time(18, 0))
    url = reverse("family:procedure", args=[booked.pk])
    early = _page(client, guardian.user, url, at=FIVE_AM)
    assert "Lakeside Day Unit is closed now. Call the after-hours line:" in _section(early, UNWELL)
    assert 'href="tel:+13125550199"' in _section(early, UNWELL)
    assert "When the day unit is closed" in early and "Closed now" in early
    assert "When the day unit is open, 6:30 AM to 6:00 PM" in early
    later = _page(client, guardian.user, url, at=TEN_AM)
    assert "closed now" not in _section(later, UNWELL) and 'href="tel:+13125550100"' in _section(later, UNWELL)
    assert "Closed now" not in later
    # The footer on every family page says which number to call when.
    footer = _section(later, "Questions or worries? Call your clinic")
    assert "when closed:" in footer and "(312) 555-0199" in footer
    assert "The hospital's main number is only for when you cannot reach the clinic." in footer


def test_without_an_after_hours_number_nothing_says_closed(client, guardian, booked):
    page = _page(client, guardian.user, reverse("family:procedure", args=[booked.pk]), at=FIVE_AM)
    assert "When the day unit is closed" not in page and "closed now" not in page.lower()


def test_the_address_is_a_map_link_with_the_parking_beside_it(client, guardian, booked):
    _write(booked.location, address="225 E Lakeside Ave, Chicago, IL", parking_en="Garage B, level 2.")
    page = _page(client, guardian.user, reverse("family:procedure", args=[booked.pk]))
    place = _section(page, "<dt>Place</dt>", "<dt>Phone to call</dt>")
    link = html.unescape(place.split('class="map-link" href="')[1].split('"')[0])
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "www.google.com", "/maps/search/")
    assert parse_qs(parts.query) == {"api": ["1"], "query": ["225 E Lakeside Ave, Chicago, IL"]}
    assert "Parking:</span> Garage B, level 2." in place


def test_a_nurse_writes_the_morning_medicines_and_the_family_reads_them(client, nurse, guardian, booked):
    with time_machine.travel(TEN_AM - dt.timedelta(days=3), tick=False):
        client.force_login(nurse)
        form = client.get(reverse("nurse:procedure_edit", args=[booked.pk])).context["form"]
        data = {key: value for key, value in form.initial.items() if value is not None}
        data.update(
            location=booked.location.pk,
            date=data["date"].isoformat(),
            start_time=data["start_time"].strftime("%H:%M"),
            arrival_time=data["arrival_time"].strftime("%H:%M"),
            morning_medicines="Give her seizure medicine at 6 AM. No vitamins.",
        )
        response = client.post(reverse("nurse:procedure_edit", args=[booked.pk]), data)
    assert response.status_code == 302, response.content.decode()
    assert Procedure.objects.get(pk=booked.pk).morning_medicines == "Give her seizure medicine at 6 AM. No vitamins."
    page = _page(client, guardian.user, reverse("family:procedure", args=[booked.pk]))
    medicines = _section(page, "Your child's usual medicines that morning")
    assert "Give her seizure medicine at 6 AM. No vitamins." in medicines
    assert "with a small sip of water" in medicines
    assert "Ask us if you are not sure: (312) 555-0100." in medicines


def test_without_a_note_the_family_is_told_to_ask(client, guardian, booked):
    page = _page(client, guardian.user, reverse("family:procedure", args=[booked.pk]))
    medicines = _section(page, "Your child's usual medicines that morning")
    assert "has not written which medicines" in medicines and "Ask us if you are not sure" in medicines


def test_the_login_page_links_the_learn_pages_and_says_whose_number_it_shows(client, db):
    page = client.get(reverse("login")).content.decode()
    assert f'href="{reverse("learn:index")}"' in page
    assert "This is the hospital's main number." in page
    assert "call the clinic about your child's visit" in page


def test_the_invitation_names_the_clinic_and_its_phone_and_links_the_learn_pages(
    client, django_capture_on_commit_callbacks, nurse, patient
):
    client.force_login(nurse)
    data = {"full_name": "Gina", "email": "gina@example.org", "mobile_number": "", "relationship": "", "language": "en"}
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("nurse:guardian_add", args=[patient.pk]), data)
    body = latest_invitation().body
    assert "The care team at Lakeside Day Unit has invited you to Marrow Ready." in body
    assert "Their phone number is (312) 555-0100." in body
    assert "/learn/" in body


@pytest.mark.parametrize(
    ("opens", "closes", "clock", "is_open"),
    [
        (dt.time(7), dt.time(17), dt.time(6, 59), False),
        (dt.time(7), dt.time(17), dt.time(7), True),
        (dt.time(7), dt.time(17), dt.time(17), False),
        (dt.time(20), dt.time(4), dt.time(2), True),  # a unit open overnight
        (dt.time(20), dt.time(4), dt.time(12), False),
        (dt.time(0), dt.time(0), dt.time(3), True),  # the same time: open all day
    ],
)
def test_when_the_day_unit_is_open_on_its_own_clock(opens, closes, clock, is_open):
    location = Location(timezone="America/Denver", opens_at=opens, closes_at=closes)
    moment = dt.datetime.combine(dt.date(2032, 3, 14), clock, tzinfo=ZoneInfo("America/Denver"))  # spring-forward day
    assert location.is_open(moment.astimezone(dt.UTC)) is is_open
