from __future__ import annotations

import datetime as dt

import factory
from django.utils import timezone

from portal.models import Role, User
from procedures.models import Feeding, Guardian, Location, Patient, Procedure, ProcedureKind, Sedation

PASSWORD = "correct-horse-battery-9"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.org")
    full_name = factory.Faker("name")
    role = Role.GUARDIAN
    password = factory.django.Password(PASSWORD)


class LocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Location
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Clinic {n}")
    address = "1 Main St"
    phone = "+13125550100"
    timezone = "America/Chicago"


class GuardianFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Guardian

    user = factory.SubFactory(UserFactory, role=Role.GUARDIAN)
    mobile_number = "+13125550142"
    relationship = "Parent"


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient
        skip_postgeneration_save = True

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    date_of_birth = dt.date(2018, 3, 4)
    mrn = factory.Sequence(lambda n: f"MRN{n:06d}")
    feeding = Feeding.REGULAR
    location = factory.SubFactory(LocationFactory)

    @factory.post_generation
    def guardians(self, create: bool, extracted: list[Guardian] | None, **kwargs: object) -> None:
        if create and extracted:
            self.guardians.add(*extracted)


class ProcedureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Procedure

    patient = factory.SubFactory(PatientFactory)
    location = factory.SelfAttribute("patient.location")
    kind = ProcedureKind.BOTH
    sedation = Sedation.GENERAL
    scheduled_start = factory.LazyFunction(
        lambda: (timezone.now() + dt.timedelta(days=2)).replace(second=0, microsecond=0)
    )
    arrival_at = factory.LazyAttribute(lambda o: o.scheduled_start - dt.timedelta(hours=1))
