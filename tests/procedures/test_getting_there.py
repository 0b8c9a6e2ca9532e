"""Parking and directions: the clinic writes them once in the admin; each family reads them in its language."""

from __future__ import annotations

from django.urls import reverse

from procedures.models import Location
from reminders.models import Kind, Reminder


def _appointment(client, procedure) -> str:
    response = client.get(reverse("family:procedure", args=[procedure.pk]))
    assert response.status_code == 200
    return response.content.decode()


def _write(location, **fields):
    Location.objects.filter(pk=location.pk).update(**fields)


def test_the_appointment_page_shows_parking_and_directions(client, guardian, procedure):
    _write(procedure.location, parking_en="Garage B, level 2.", directions_en="Blue elevators\nto floor 3.")
    client.force_login(guardian.user)
    html = _appointment(client, procedure)
    assert "Parking:</span> Garage B, level 2." in html
    assert "Finding us:</span> Blue elevators<br>to floor 3." in html
    assert html.index("Garage B") < html.index('id="fasting"')


def test_a_spanish_speaking_family_reads_the_spanish_text(client, guardian, procedure):
    _write(procedure.location, parking_en="Garage B.", parking_es="Garaje B.", directions_en="Floor 3.")
    guardian.user.language = "es"
    guardian.user.save()
    client.force_login(guardian.user)
    html = _appointment(client, procedure)
    assert "Garaje B." in html and "Garage B." not in html
    # Better the English directions than none at all.
    assert "Floor 3." in html


def test_without_parking_or_directions_only_what_to_bring_is_shown(client, guardian, procedure):
    client.force_login(guardian.user)
    html = _appointment(client, procedure)
    assert "Parking:" not in html and "Finding us:" not in html
    assert f'href="{reverse("learn:page", args=["getting-ready"])}">What to bring</a>' in html


def test_the_clinic_text_is_escaped(client, guardian, procedure):
    _write(procedure.location, parking_en="<script>alert(1)</script>")
    client.force_login(guardian.user)
    html = _appointment(client, procedure)
    assert "<script>alert(1)" not in html and "&lt;script&gt;" in html


def test_editing_parking_in_the_admin_moves_nothing_and_tells_no_one(client, admin_user, procedure):
    location = procedure.location
    version = procedure.version
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:procedures_location_change", args=[location.pk]),
        {
            "name": location.name,
            "address": location.address,
            "phone": location.phone,
            "timezone": location.timezone,
            "evening_reminder_time": "18:00",
            "quiet_hours_start": "21:00",
            "quiet_hours_end": "07:00",
            "fever_threshold_c": "38.0",
            "team_email": "",
            "parking_en": "Garage B, level 2.",
            "parking_es": "Garaje B, nivel 2.",
            "directions_en": "",
            "directions_es": "",
            "opens_at": "07:00",
            "closes_at": "17:00",
            "after_hours_phone": "(312) 555-0199",
            "unwell_rule_en": "",
            "unwell_rule_es": "",
            "thirst_alert_hours": "2.0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    location.refresh_from_db()
    procedure.refresh_from_db()
    assert location.parking_es == "Garaje B, nivel 2."
    assert location.after_hours_phone == "(312) 555-0199"
    assert procedure.version == version
    assert not Reminder.objects.filter(kind=Kind.CHANGED).exists()
