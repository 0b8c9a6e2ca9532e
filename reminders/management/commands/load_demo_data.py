"""Demo clinic, staff, families and procedures for trying the portal locally.

Here, with delivery, because a demo needs every app: families are linked,
texts agreed to and procedures booked through the same services a nurse uses.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.models import Role, User
from portal.two_factor import issue_backup_codes
from procedures import services
from procedures.models import ConsentVia, Feeding, Location, Patient, ProcedureKind, Sedation
from reminders import consent

DEMO_PASSWORD = "marrow-demo-2026"  # noqa: S105 - published demo login, refused outside DEBUG
# Published two-step backup codes for the demo staff (each works once; running the command again renews them).
DEMO_BACKUP_CODES = {
    "nurse@example.org": ["nurse-demo-1111", "nurse-demo-2222", "nurse-demo-3333", "nurse-demo-4444"],
    "admin@example.org": ["admin-demo-1111", "admin-demo-2222", "admin-demo-3333", "admin-demo-4444"],
}

# (email, full name, role, language, mobile)
PEOPLE = [
    ("nurse@example.org", "Nora Quinn", Role.NURSE, "en", ""),
    ("admin@example.org", "Ada Admin", Role.ADMIN, "en", ""),
    ("parent@example.org", "Paula Rivera", Role.GUARDIAN, "en", "+13125550142"),
    ("parent2@example.org", "Pedro Gómez", Role.GUARDIAN, "es", "+17735550123"),
]

# (mrn, first, last, born, feeding, guardian email, days ahead, start, arrival, kind, sedation)
CHILDREN = [
    (
        "DEMO-1001",
        "Mia",
        "Rivera",
        dt.date(2018, 5, 14),
        Feeding.REGULAR,
        "parent@example.org",
        1,
        dt.time(8, 30),
        dt.time(7, 30),
        ProcedureKind.BOTH,
        Sedation.GENERAL,
    ),
    (
        "DEMO-1002",
        "Leo",
        "Rivera",
        dt.date(2025, 9, 2),
        Feeding.FORMULA,
        "parent@example.org",
        7,
        dt.time(10, 0),
        dt.time(8, 30),
        ProcedureKind.ASPIRATION,
        Sedation.SEDATION,
    ),
    (
        "DEMO-1003",
        "Sofía",
        "Gómez",
        dt.date(2012, 1, 30),
        Feeding.REGULAR,
        "parent2@example.org",
        3,
        dt.time(13, 0),
        dt.time(12, 30),
        ProcedureKind.ASPIRATION,
        Sedation.LOCAL,
    ),
]


class Command(BaseCommand):
    help = "Load demo data (refuses to run unless DEBUG is on). Safe to run again."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("Demo data is for local use only: it refuses to run when DEBUG is off.")
        with transaction.atomic():
            self._load()
        self.stdout.write(self.style.SUCCESS("Demo data ready."))

    def _load(self) -> None:
        location, _ = Location.objects.update_or_create(
            name="Lakeside Children's Hospital – Day Procedure Unit",
            defaults={
                "text_name": "Lakeside Day Unit",
                "address": "225 E Lakeside Ave, 3rd floor, Chicago, IL",
                "phone": "+13125550100",
                "timezone": "America/Chicago",
                "directions_en": (
                    "Use the main door on Lakeside Avenue. Take the blue elevators to the 3rd floor. "
                    "Check in at the Day Procedure desk."
                ),
                "directions_es": (
                    "Entre por la puerta principal de Lakeside Avenue. Tome los elevadores azules al 3.er piso. "
                    "Regístrese en el mostrador de Procedimientos de Día."
                ),
                "parking_en": (
                    "Park in the Lakeside Ave garage. Bring your ticket to the desk: we stamp it, and parking is free."
                ),
                "parking_es": (
                    "Estacione en el garaje de Lakeside Avenue. Traiga su boleto al mostrador: lo sellamos y "
                    "el estacionamiento es gratis."
                ),
            },
        )
        users = {}
        for email, name, role, language, _mobile in PEOPLE:
            user = User.objects.filter(email=email).first()
            if user is None:
                user = User.objects.create_user(
                    email=email,
                    password=DEMO_PASSWORD,
                    full_name=name,
                    role=role,
                    language=language,
                    is_staff=role == Role.ADMIN,
                    is_superuser=role == Role.ADMIN,
                )
            users[email] = user
            if role == Role.NURSE:
                location.nurses.add(user)
            if email in DEMO_BACKUP_CODES:
                TOTPDevice.objects.get_or_create(user=user, name="Authenticator app", defaults={"confirmed": True})
                issue_backup_codes(user, DEMO_BACKUP_CODES[email])
        nurse = users["nurse@example.org"]
        mobile_of = {email: mobile for email, _, _, _, mobile in PEOPLE}
        today = timezone.localdate(timezone=location.tz)
        for mrn, first, last, born, feeding, guardian_email, days, start, arrival, kind, sedation in CHILDREN:
            patient, _ = Patient.objects.get_or_create(
                mrn=mrn,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "date_of_birth": born,
                    "feeding": feeding,
                    "preferred_language": users[guardian_email].language,
                    "location": location,
                },
            )
            guardian_user = users[guardian_email]
            if not patient.guardians.filter(user=guardian_user).exists():
                services.add_guardian(
                    patient=patient,
                    full_name=guardian_user.full_name,
                    email=guardian_user.email,
                    mobile_number=mobile_of[guardian_email],
                    relationship="Parent",
                    language=guardian_user.language,
                    added_by=nurse,
                )
                guardian = patient.guardians.get(user=guardian_user)
                if guardian.sms_consent_at is None:
                    # The demo family agreed to texts at the clinic, so the outbox shows both channels.
                    consent.record(
                        guardian=guardian,
                        by=nurse,
                        via=ConsentVia.IN_PERSON,
                        text=consent.words(guardian_user.language),
                    )
            day = today + dt.timedelta(days=days)
            times = {
                "scheduled_start": location.at(day, start),
                "arrival_at": location.at(day, arrival),
            }
            procedure = patient.procedures.order_by("-scheduled_start").first()
            if procedure is not None and procedure.is_active and procedure.scheduled_start < timezone.now():
                # Keep the demo fresh: an appointment that has passed moves forward again.
                services.update_procedure(procedure=procedure, changed_by=nurse, **times)
            elif procedure is None or procedure.scheduled_start < timezone.now():
                services.schedule_procedure(
                    patient=patient, kind=kind, location=location, sedation=sedation, scheduled_by=nurse, **times
                )
